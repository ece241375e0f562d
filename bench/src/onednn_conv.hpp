#pragma once
// oneDNN (the library behind PyTorch's CPU convolutions) as the host mode's baseline, called as a framework
// calls it: plain NCHW / OIHW tensors in and out (NCW / NCDHW for 1D / 3D; GOIHW when grouped), the primitives
// free to pick their own layouts (format_tag::any, algorithm::convolution_auto), and every reorder into and out
// of those layouts, weights included, inside each call. Every tensor (x, w, bias, y and their gradients) in one
// data type: f32, or bf16 with oneDNN's f32 accumulation (a bf16 layer as frameworks run it under autocast; oneDNN
// 2.6 has no f16 convolution on the CPU). Primitive creation and all buffers happen in the constructor, outside
// the timed region, as cuDNN's algorithm search does on the GPU.
//
// The convolution is the library's own (fftconv::detail::onednn_convolution, the vendor policy on the host), so
// the baseline and fftconv::vendor are one implementation; this class prepares its passes and owns its
// workspace. The interface carries no oneDNN or fftconv type: onednn_conv.cpp alone includes oneDNN (its C API).

#include <cstddef>
#include <memory>
#include <string>

#include "baseline_shape.hpp"

namespace bench {

// Which primitives a layer needs: forward (inference or training), and the backward passes of a step.
struct onednn_passes {
  bool training = false;         // forward_training (a step follows) or forward_inference (forward only)
  bool backward_data = false;    // dX
  bool backward_filter = false;  // dW and db
};

// The storage type of every tensor of a layer.
enum class onednn_data { f32, bf16 };

class onednn_conv {
 public:
  onednn_conv(const baseline_shape& shape, onednn_passes passes, onednn_data data = onednn_data::f32);
  ~onednn_conv();
  onednn_conv(const onednn_conv&) = delete;
  onednn_conv& operator=(const onednn_conv&) = delete;

  // Pointers to elements of the layer's data type (float or bf16).
  // y = conv(x, w) + bias; bias may be null (no bias).
  void forward(const void* x, const void* w, const void* bias, void* y);
  // dx = conv_transpose(dy, w)
  void backward_data(const void* dy, const void* w, void* dx);
  // dw, dbias overwritten; dbias may be null.
  void backward_filter(const void* x, const void* dy, void* dw, void* dbias);

  // The workspace of the prepared passes: the largest pass's scratchpad and buffers in its own layouts (the
  // passes run in turn and share one area, as the vendor policy's do).
  std::size_t workspace_bytes() const;
  // Per primitive: oneDNN's implementation name and the layouts it chose, e.g. "jit:avx512_core src aBcd16b ...".
  std::string forward_implementation() const;
  std::string backward_data_implementation() const;    // empty without that primitive
  std::string backward_filter_implementation() const;  // empty without that primitive

 private:
  struct state;
  void build(const baseline_shape& shape, onednn_passes passes, onednn_data data);
  std::unique_ptr<state> state_;
};

// dnnl_version() as "major.minor.patch", and the instruction set oneDNN dispatches to on this CPU.
std::string onednn_version();
std::string onednn_cpu_isa();

}  // namespace bench
