#pragma once
// The host backend's entry points for one spatial rank; host_conv_Nd.cpp instantiates them.

#include "layers.hpp"

namespace fftconv_torch {

template <int N>
std::size_t host_saved_bytes(const layer_desc& d, const std::int64_t* x_sizes, bool keep_spectra, bool on_device) {
  return detail::layer_cache<N, fftconv::host>::instance().with(
      d, -1, [&](auto& layer) { return layer.saved_bytes(x_sizes, keep_spectra, on_device); });
}

template <int N>
void host_forward(const layer_desc& d, const placement& where, const forward_request& r) {
  detail::layer_cache<N, fftconv::host>::instance().with(d, -1, [&](auto& layer) { layer.forward(detail::host_of(where), r); });
}

template <int N>
void host_backward(const layer_desc& d, const placement& where, const backward_request& r) {
  detail::layer_cache<N, fftconv::host>::instance().with(d, -1, [&](auto& layer) { layer.backward(detail::host_of(where), r); });
}

// The baseline the operator's overhead is measured against: a C++ caller's own layer (fftconv's default
// memory, not the operators' cached layer, whose plans would be rebuilt for the other memory resource), the
// caller's buffers, nothing allocated per call; one untimed call builds the plans first.
template <int N>
double host_direct_forward_seconds(const layer_desc& d, const forward_request& r, int repeats) {
  const auto layer = detail::make_layer<N, fftconv::host>(d, detail::geometry_of<N>(d));
  layer->forward(fftconv::host{}, r);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) layer->forward(fftconv::host{}, r);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <int N>
void release_host_layers_of_rank() {
  detail::layer_cache<N, fftconv::host>::instance().clear();
}

}  // namespace fftconv_torch

#define FFTCONV_TORCH_INSTANTIATE_HOST(N)                                                                        \
  template std::size_t fftconv_torch::host_saved_bytes<N>(const fftconv_torch::layer_desc&, const std::int64_t*, bool, bool); \
  template void fftconv_torch::host_forward<N>(const fftconv_torch::layer_desc&, const fftconv_torch::placement&, const fftconv_torch::forward_request&);    \
  template void fftconv_torch::host_backward<N>(const fftconv_torch::layer_desc&, const fftconv_torch::placement&, const fftconv_torch::backward_request&);  \
  template double fftconv_torch::host_direct_forward_seconds<N>(const fftconv_torch::layer_desc&, const fftconv_torch::forward_request&, int); \
  template void fftconv_torch::release_host_layers_of_rank<N>();
