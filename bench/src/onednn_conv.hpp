#pragma once
// oneDNN (the library behind PyTorch's CPU convolutions) as the host mode's baseline, called as a framework
// calls it: plain NCHW / OIHW tensors in and out (NCW / NCDHW for 1D / 3D; GOIHW when grouped), the primitives
// free to pick their own layouts (format_tag::any, algorithm::convolution_auto), and every reorder into and out
// of those layouts, weights included, inside each call. fp32 throughout. Primitive creation and all buffers
// happen in the constructor, outside the timed region, as cuDNN's algorithm search does on the GPU.
//
// The interface carries no oneDNN type: onednn_conv.cpp alone includes dnnl.hpp (the oneDNN 2.x API:
// convolution_*::desc + primitive_desc), and nvcc never parses it.

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

class onednn_conv {
 public:
  onednn_conv(const baseline_shape& shape, onednn_passes passes);
  ~onednn_conv();
  onednn_conv(const onednn_conv&) = delete;
  onednn_conv& operator=(const onednn_conv&) = delete;

  // y = conv(x, w) + bias; bias may be null (no bias).
  void forward(const float* x, const float* w, const float* bias, float* y);
  // dx = conv_transpose(dy, w)
  void backward_data(const float* dy, const float* w, float* dx);
  // dw, dbias overwritten; dbias may be null.
  void backward_filter(const float* x, const float* dy, float* dw, float* dbias);

  // The scratchpads of the primitives and the buffers of their own layouts.
  std::size_t workspace_bytes() const;
  // Per primitive: oneDNN's implementation name and the layouts it chose, e.g. "jit:avx512_core src nChw16c ...".
  std::string forward_implementation() const;
  std::string backward_data_implementation() const;    // empty without that primitive
  std::string backward_filter_implementation() const;  // empty without that primitive

 private:
  struct state;
  std::unique_ptr<state> state_;
};

// dnnl_version() as "major.minor.patch", and the instruction set oneDNN dispatches to on this CPU.
std::string onednn_version();
std::string onednn_cpu_isa();

}  // namespace bench
