// The host baseline is the library's vendor policy on the host: fftconv::detail::onednn_convolution (oneDNN 2.x
// through its C API, policy/vendor/onednn.hpp), so the bench times exactly what fftconv::vendor runs. This file
// prepares its passes before timing and holds the workspace the library class takes from its caller.

#include "onednn_conv.hpp"

#include <fftconv/policy/vendor/onednn.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#if !FFTCONV_HAS_ONEDNN
#error "onednn_conv.cpp needs the library's oneDNN glue: build with FFTCONV_HAVE_ONEDNN (FFTCONV_HAS_ONEDNN=1)"
#endif

namespace bench {
namespace {

using fftconv::detail::onednn_convolution;
using fftconv::detail::vendor_element;
using fftconv::detail::vendor_shape;

vendor_shape to_vendor_shape(const baseline_shape& s) {
  vendor_shape v;
  v.dims = s.dims;
  v.batch = s.batch, v.in_channels = s.in_channels, v.out_channels = s.out_channels, v.groups = s.groups;
  v.input = s.input, v.output = s.output, v.kernel = s.kernel;
  v.padding_low = s.padding_low, v.padding_high = s.padding_high;
  v.stride = s.stride, v.dilation = s.dilation;
  return v;
}

// The library names a pass's primitive "<oneDNN implementation> <layout> <layout> <layout>" (inputs, then the
// output; "plain" where the primitive takes the caller's layout). The bench's records have always named each
// tensor and spelled a plain layout out ("abcd" for NCHW): that spelling, so that results stay comparable.
std::string named_layouts(const std::string& library_text, const char* const (&names)[3],
                          const int (&ranks)[3]) {
  std::istringstream words(library_text);
  std::vector<std::string> parts;
  for (std::string word; words >> word;) parts.push_back(word);
  if (parts.size() < 4) return library_text;  // not the library's usual form: as it is
  std::string text;
  for (std::size_t i = 0; i + 3 < parts.size(); ++i) text += (i == 0 ? "" : " ") + parts[i];
  for (int k = 0; k < 3; ++k) {
    std::string layout = parts[parts.size() - 3 + k];
    if (layout == "plain") {
      layout.clear();
      for (int d = 0; d < ranks[k]; ++d) layout += char('a' + d);
    }
    text += std::string(" ") + names[k] + " " + layout;
  }
  return text;
}

}  // namespace

struct onednn_conv::state {
  std::optional<onednn_convolution> convolution;
  std::size_t workspace_size = 0;
  struct release {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, release> workspace;  // 64-byte aligned; the passes use it in turn
  std::string forward_implementation, backward_data_implementation, backward_filter_implementation;
};

onednn_conv::onednn_conv(const baseline_shape& s, onednn_passes passes, onednn_data data)
    : state_(std::make_unique<state>()) {
  try {
    build(s, passes, data);
  } catch (const fftconv::library_error& e) {
    // oneDNN 2.6 implements bf16 convolutions on AVX-512 only: natively with AVX512-BF16, emulated on plain
    // avx512_core; below that no primitive exists, which is this machine's limit, not a failure.
    if (data == onednn_data::bf16 && e.status() == dnnl_unimplemented)
      throw baseline_unsupported("oneDNN " + onednn_version() + " has no bf16 convolution for ISA " + onednn_cpu_isa() +
                                 " (it needs AVX-512; native with AVX512-BF16): " + e.what());
    throw;
  }
}

void onednn_conv::build(const baseline_shape& s, onednn_passes passes, onednn_data data) {
  if ((passes.backward_data || passes.backward_filter) && !passes.training)
    throw std::invalid_argument("onednn_conv: backward passes need the forward_training primitive");
  state& st = *state_;
  const vendor_element element = data == onednn_data::bf16 ? vendor_element::bf16 : vendor_element::f32;
  onednn_convolution& c = st.convolution.emplace(to_vendor_shape(s), fftconv::detail::onednn_types::all(element),
                                                 passes.training);
  const int activations = 2 + s.dims, weights = (s.groups > 1 ? 3 : 2) + s.dims;
  using fftconv::pass;
  // Primitive creation, outside the timed region (as cuDNN's algorithm search is on the GPU).
  std::size_t bytes = c.workspace_bytes(pass::forward);
  st.forward_implementation =
      named_layouts(c.implementation(pass::forward), {"src", "weights", "dst"}, {activations, weights, activations});
  if (passes.backward_data) {
    bytes = std::max(bytes, c.workspace_bytes(pass::backward_data));
    st.backward_data_implementation = named_layouts(
        c.implementation(pass::backward_data), {"diff_dst", "weights", "diff_src"}, {activations, weights, activations});
  }
  if (passes.backward_filter) {
    bytes = std::max(bytes, c.workspace_bytes(pass::backward_filter));
    st.backward_filter_implementation =
        named_layouts(c.implementation(pass::backward_filter), {"src", "diff_dst", "diff_weights"},
                      {activations, activations, weights});
  }
  st.workspace_size = bytes;
  if (bytes > 0) {
    st.workspace.reset(static_cast<std::byte*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
    if (!st.workspace) throw std::bad_alloc();
  }
}

onednn_conv::~onednn_conv() = default;

void onednn_conv::forward(const void* x, const void* w, const void* bias, void* y) {
  state_->convolution->forward(x, w, bias, y, state_->workspace.get());
}

void onednn_conv::backward_data(const void* dy, const void* w, void* dx) {
  if (state_->backward_data_implementation.empty())
    throw std::logic_error("onednn_conv: backward_data was not among the passes it was built for");
  state_->convolution->backward_data(dy, w, dx, state_->workspace.get());
}

void onednn_conv::backward_filter(const void* x, const void* dy, void* dw, void* dbias) {
  if (state_->backward_filter_implementation.empty())
    throw std::logic_error("onednn_conv: backward_filter was not among the passes it was built for");
  state_->convolution->backward_filter(x, dy, dw, dbias, state_->workspace.get());
}

std::size_t onednn_conv::workspace_bytes() const { return state_->workspace_size; }

std::string onednn_conv::forward_implementation() const { return state_->forward_implementation; }
std::string onednn_conv::backward_data_implementation() const { return state_->backward_data_implementation; }
std::string onednn_conv::backward_filter_implementation() const { return state_->backward_filter_implementation; }

std::string onednn_version() { return fftconv::detail::onednn_version_string(); }

std::string onednn_cpu_isa() {
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  switch (isa) {
    case dnnl_cpu_isa_sse41:
      return "sse41";
    case dnnl_cpu_isa_avx:
      return "avx";
    case dnnl_cpu_isa_avx2:
      return "avx2";
    case dnnl_cpu_isa_avx2_vnni:
      return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic:
      return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core:
      return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "isa " + std::to_string(static_cast<int>(isa));
  }
}

}  // namespace bench
