#pragma once
// LeNet's layers, each written once over the executor with fftconv's public API: buffers from ops::allocate,
// element math from kernels.hpp run by ops::for_each_index, products through fftconv::conv (convolution) and
// ops::gemm (fully connected).
//
// Every layer keeps what its backward pass needs from the forward pass (its input or output), owns its
// output and input-gradient buffers sized for the largest minibatch, and overwrites its parameter gradients
// in backward (no accumulation across calls).

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "executor_support.hpp"
#include "kernels.hpp"

namespace lenet {

// A row-major [batch, channels, height, width] activation in the executor's memory; a fully connected
// layer's [batch, features] is [batch, features, 1, 1], so flattening is free.
template <class T>
struct activation {
  T* data = nullptr;
  std::int64_t batch = 0, channels = 0, height = 1, width = 1;

  std::int64_t per_sample() const { return channels * height * width; }
  std::int64_t size() const { return batch * per_sample(); }
  fftconv::view<T, 4> view() const { return fftconv::view<T, 4>(data, batch, channels, height, width); }
  // activation<T> -> activation<const T> (a template, so that activation<const T> declares no self-conversion)
  template <class U>
    requires(std::is_same_v<U, const T> && !std::is_const_v<T>)
  operator activation<U>() const {
    return {data, batch, channels, height, width};
  }
};

// A trainable tensor: its values, the gradient backward wrote last, and the optimiser's velocity.
template <class Exec, class T>
struct parameter {
  parameter(const Exec& exec, std::string name, std::int64_t count)
      : name(std::move(name)),
        count(count),
        value(ops::allocate<T>(exec, count)),
        gradient(ops::allocate<T>(exec, count)),
        velocity(ops::allocate<T>(exec, count)) {
    ops::fill(exec, gradient.data(), count, T(0));
    ops::fill(exec, velocity.data(), count, T(0));
  }

  std::string name;
  std::int64_t count;
  ops::buffer<Exec, T> value;
  ops::buffer<Exec, T> gradient;
  ops::buffer<Exec, T> velocity;
};

// PyTorch's default initialisation of Conv2d and Linear: kaiming_uniform_(a = sqrt(5)) for the weights and
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias; the weight bound gain * sqrt(3 / fan_in) with
// gain = sqrt(2 / (1 + a^2)) is the same 1/sqrt(fan_in). Drawn on the host so every executor and policy starts
// from the same values for a seed.
template <class Exec, class T>
void initialise_uniform(const Exec& exec, parameter<Exec, T>& p, std::int64_t fan_in, std::mt19937_64& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  std::uniform_real_distribution<double> uniform(-bound, bound);
  std::vector<T> values(static_cast<std::size_t>(p.count));
  for (T& v : values) v = static_cast<T>(uniform(rng));
  transfer<Exec>::to_executor(exec, p.value.data(), values.data(), p.count);
  ops::synchronize(exec);  // `values` dies here
}

inline void check_batch(std::int64_t batch, std::int64_t capacity, const char* layer) {
  if (batch < 1 || batch > capacity)
    throw std::invalid_argument(std::string(layer) + ": minibatch of " + std::to_string(batch) +
                                " samples, but the layer was built for 1.." + std::to_string(capacity));
}

inline void check_elements(std::int64_t count, std::int64_t capacity, const char* layer) {
  if (count < 1 || count > capacity)
    throw std::invalid_argument(std::string(layer) + ": input of " + std::to_string(count) +
                                " elements, but the layer was built for 1.." + std::to_string(capacity));
}

// 2-d convolution (stride 1, no padding) through fftconv::conv<2, T, Policy>.
template <class Exec, class Policy, class T>
class conv2d {
 public:
  conv2d(const Exec& exec, const std::string& name, std::int64_t in_channels, std::int64_t out_channels,
         std::int64_t kernel, std::int64_t height, std::int64_t width, std::int64_t max_batch)
      : conv_(fftconv::geometry<2>{.in_channels = in_channels, .out_channels = out_channels, .kernel = {kernel, kernel}}),
        weight_(exec, name + ".weight", out_channels * in_channels * kernel * kernel),
        bias_(exec, name + ".bias", out_channels),
        in_channels_(in_channels),
        height_(height),
        width_(width),
        max_batch_(max_batch) {
    const auto y = conv_.output_extents({max_batch, in_channels, height, width});
    out_height_ = y[2];
    out_width_ = y[3];
    output_ = ops::allocate<T>(exec, max_batch * out_channels * out_height_ * out_width_);
    input_gradient_ = ops::allocate<T>(exec, max_batch * in_channels * height * width);
  }

  void initialise(const Exec& exec, std::mt19937_64& rng) {
    const std::int64_t fan_in = weight_.count / conv_.geometry().out_channels;
    initialise_uniform(exec, weight_, fan_in, rng);
    initialise_uniform(exec, bias_, fan_in, rng);
    conv_.weights_changed();
  }

  activation<T> forward(const Exec& exec, activation<const T> x) {
    check_batch(x.batch, max_batch_, "conv2d");
    input_ = x;
    const activation<T> y{output_.data(), x.batch, conv_.geometry().out_channels, out_height_, out_width_};
    conv_.forward(exec, x.view(), weight_view(), bias_.value.data(), y.view(), saved(exec, x.batch));
    return y;
  }

  // Writes dW and db; returns dX, or nothing when `input_gradient` is false (the first layer: the images
  // need no gradient, and skipping dX saves a third of the layer's work). The transforms of x and w come
  // from the state forward saved; dY is transformed once for both gradients.
  activation<T> backward(const Exec& exec, activation<const T> dy, bool input_gradient = true) {
    const fftconv::view<T, 4> dw(weight_.gradient.data(), conv_.geometry().out_channels, in_channels_,
                                 conv_.geometry().kernel[0], conv_.geometry().kernel[1]);
    const activation<T> dx{input_gradient ? input_gradient_.data() : nullptr, dy.batch, in_channels_, height_, width_};
    conv_.backward(exec, input_.view(), weight_view(), dy.view(), saved(exec, dy.batch),
                   {.dx = input_gradient ? fftconv::tensor_ref<T, 4>(dx.view()) : fftconv::tensor_ref<T, 4>(),
                    .dw = dw,
                    .dbias = bias_.gradient.data()});
    if (!input_gradient) return {};
    return dx;
  }

  // After the optimiser wrote new weights: a policy may hold transforms of the old ones.
  void weights_changed() { conv_.weights_changed(); }

  parameter<Exec, T>& weight() { return weight_; }
  parameter<Exec, T>& bias() { return bias_; }

 private:
  // The state forward saves for backward, for a batch of `batch` images (grown on demand).
  std::span<std::byte> saved(const Exec& exec, std::int64_t batch) {
    const std::size_t bytes = conv_.saved_bytes({batch, in_channels_, height_, width_}, fftconv::keep::spectra,
                                                ops::on_device<Exec>);
    if (saved_.size() < bytes) saved_ = ops::allocate<unsigned char>(exec, static_cast<std::int64_t>(bytes));
    return {reinterpret_cast<std::byte*>(saved_.data()), bytes};
  }

  fftconv::view<const T, 4> weight_view() const {
    const auto& g = conv_.geometry();
    return fftconv::view<const T, 4>(weight_.value.data(), g.out_channels, in_channels_, g.kernel[0], g.kernel[1]);
  }

  fftconv::conv<2, T, Policy> conv_;
  parameter<Exec, T> weight_;
  parameter<Exec, T> bias_;
  std::int64_t in_channels_, height_, width_, max_batch_;
  std::int64_t out_height_ = 0, out_width_ = 0;
  ops::buffer<Exec, T> output_;
  ops::buffer<Exec, T> input_gradient_;
  ops::buffer<Exec, unsigned char> saved_;
  activation<const T> input_{};
};

// y = max(x, 0), elementwise.
template <class Exec, class T>
class relu {
 public:
  relu(const Exec& exec, std::int64_t max_size)
      : output_(ops::allocate<T>(exec, max_size)),
        input_gradient_(ops::allocate<T>(exec, max_size)),
        max_size_(max_size) {}

  activation<T> forward(const Exec& exec, activation<const T> x) {
    check_elements(x.size(), max_size_, "relu");
    ops::for_each_index(exec, x.size(), kernels::relu_forward<T>{x.data, output_.data()});
    return {output_.data(), x.batch, x.channels, x.height, x.width};
  }

  activation<T> backward(const Exec& exec, activation<const T> dy) {
    ops::for_each_index(exec, dy.size(), kernels::relu_backward<T>{output_.data(), dy.data, input_gradient_.data()});
    return {input_gradient_.data(), dy.batch, dy.channels, dy.height, dy.width};
  }

 private:
  ops::buffer<Exec, T> output_;
  ops::buffer<Exec, T> input_gradient_;
  std::int64_t max_size_;
};

// 2x2 max-pool with stride 2, as torch.nn.MaxPool2d(2); with `rectify`, the pool of ReLU(x) in one pass
// (torch.nn.MaxPool2d(2)(torch.relu(x)): the same values and the same gradient, half the memory traffic).
template <class Exec, class T>
class max_pool2 {
 public:
  max_pool2(const Exec& exec, std::int64_t max_size, bool rectify = false)
      : output_(ops::allocate<T>(exec, max_size / 4)),
        position_(ops::allocate<std::int32_t>(exec, max_size / 4)),
        input_gradient_(ops::allocate<T>(exec, max_size)),
        max_size_(max_size),
        rectify_(rectify) {}

  activation<T> forward(const Exec& exec, activation<const T> x) {
    check_elements(x.size(), max_size_, "max_pool2");
    if (x.height < 2 || x.width < 2)
      throw std::invalid_argument("max_pool2: input planes are " + std::to_string(x.height) + "x" +
                                  std::to_string(x.width) + ", a 2x2 window needs at least 2x2");
    input_ = x;
    const kernels::pool_shape s{x.batch * x.channels, x.height, x.width};
    const activation<T> y{output_.data(), x.batch, x.channels, s.out_height(), s.out_width()};
    ops::for_each_index(exec, s.out_rows(), kernels::max_pool_forward<T>{s, rectify_, x.data, y.data, position_.data()},
                        2 * s.width);  // work per row: its two input rows
    return y;
  }

  activation<T> backward(const Exec& exec, activation<const T> dy) {
    const kernels::pool_shape s{input_.batch * input_.channels, input_.height, input_.width};
    const activation<T> dx{input_gradient_.data(), input_.batch, input_.channels, input_.height, input_.width};
    ops::for_each_index(exec, s.out_rows(), kernels::max_pool_backward<T>{s, position_.data(), dy.data, dx.data},
                        2 * s.width);
    return dx;
  }

 private:
  ops::buffer<Exec, T> output_;
  ops::buffer<Exec, std::int32_t> position_;
  ops::buffer<Exec, T> input_gradient_;
  std::int64_t max_size_;
  bool rectify_;
  activation<const T> input_{};
};

// y = x W^T + b with W [out_features, in_features] (torch.nn.Linear), three row-major GEMMs per step.
template <class Exec, class T>
class linear {
 public:
  linear(const Exec& exec, const std::string& name, std::int64_t in_features, std::int64_t out_features,
         std::int64_t max_batch)
      : weight_(exec, name + ".weight", out_features * in_features),
        bias_(exec, name + ".bias", out_features),
        in_features_(in_features),
        out_features_(out_features),
        max_batch_(max_batch),
        output_(ops::allocate<T>(exec, max_batch * out_features)),
        input_gradient_(ops::allocate<T>(exec, max_batch * in_features)) {}

  void initialise(const Exec& exec, std::mt19937_64& rng) {
    initialise_uniform(exec, weight_, in_features_, rng);
    initialise_uniform(exec, bias_, in_features_, rng);
  }

  // x is [batch, in_features] in any 4-d shape with that many features per sample (the flatten).
  activation<T> forward(const Exec& exec, activation<const T> x) {
    check_batch(x.batch, max_batch_, "linear");
    if (x.per_sample() != in_features_)
      throw std::invalid_argument("linear: input has " + std::to_string(x.per_sample()) + " features per sample, " +
                                  "the layer takes " + std::to_string(in_features_));
    input_ = x;
    const activation<T> y{output_.data(), x.batch, out_features_};
    ops::for_each_index(exec, y.size(), kernels::broadcast_rows<T>{bias_.value.data(), out_features_, y.data});
    // Y[B x out] += X[B x in] * W^T[in x out]
    const ops::gemm_desc d{.op_b = ops::gemm_op::transpose, .m = x.batch, .n = out_features_, .k = in_features_,
                           .lda = in_features_, .ldb = in_features_, .ldc = out_features_};
    ops::gemm(exec, d, T(1), x.data, weight_.value.data(), T(1), y.data);
    return y;
  }

  activation<T> backward(const Exec& exec, activation<const T> dy) {
    const std::int64_t batch = dy.batch;
    // dW[out x in] = dY^T[out x B] * X[B x in]
    const ops::gemm_desc dw{.op_a = ops::gemm_op::transpose, .m = out_features_, .n = in_features_, .k = batch,
                            .lda = out_features_, .ldb = in_features_, .ldc = in_features_};
    ops::gemm(exec, dw, T(1), dy.data, input_.data, T(0), weight_.gradient.data());
    // db[o] = sum_b dY[b, o], in a fixed order
    ops::segmented_sum(exec, out_features_, batch, kernels::column_term<T>{dy.data, out_features_},
                       bias_.gradient.data());
    // dX[B x in] = dY[B x out] * W[out x in], shaped like the input (undoing the flatten)
    const ops::gemm_desc dx{.m = batch, .n = in_features_, .k = out_features_, .lda = out_features_,
                            .ldb = in_features_, .ldc = in_features_};
    ops::gemm(exec, dx, T(1), dy.data, weight_.value.data(), T(0), input_gradient_.data());
    return {input_gradient_.data(), input_.batch, input_.channels, input_.height, input_.width};
  }

  parameter<Exec, T>& weight() { return weight_; }
  parameter<Exec, T>& bias() { return bias_; }

 private:
  parameter<Exec, T> weight_;
  parameter<Exec, T> bias_;
  std::int64_t in_features_, out_features_, max_batch_;
  ops::buffer<Exec, T> output_;
  ops::buffer<Exec, T> input_gradient_;
  activation<const T> input_{};
};

}  // namespace lenet
