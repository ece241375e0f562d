#pragma once
// The device backend's entry points for one spatial rank; device_conv_Nd.cu instantiates them. Calls run on
// the stream and memory resource torch named (its current stream, its caching allocator).

#include "layers.hpp"

namespace fftconv_torch {

template <int N>
void device_forward(const layer_desc& d, const placement& where, const forward_request& r) {
  detail::layer_cache<N, fftconv::device>::instance().with(d, where.device_index, [&](auto& layer) {
    layer.forward(fftconv::device{where.stream, where.resource}, r);
  });
}

template <int N>
void device_backward(const layer_desc& d, const placement& where, const backward_request& r) {
  detail::layer_cache<N, fftconv::device>::instance().with(d, where.device_index, [&](auto& layer) {
    layer.backward(fftconv::device{where.stream, where.resource}, r);
  });
}

template <int N>
void release_device_layers_of_rank() {
  detail::layer_cache<N, fftconv::device>::instance().clear();
}

}  // namespace fftconv_torch

#define FFTCONV_TORCH_INSTANTIATE_DEVICE(N)                                                                       \
  template void fftconv_torch::device_forward<N>(const fftconv_torch::layer_desc&, const fftconv_torch::placement&, const fftconv_torch::forward_request&);   \
  template void fftconv_torch::device_backward<N>(const fftconv_torch::layer_desc&, const fftconv_torch::placement&, const fftconv_torch::backward_request&); \
  template void fftconv_torch::release_device_layers_of_rank<N>();
