#pragma once
// Element math of the LeNet layers, one functor per pass, shared by the host loops and the GPU kernels
// (driven by fftconv::ops::for_each_index / segmented_sum). Plain structs that capture by value, with an
// FFTCONV_HD operator() so the same functor runs in the host loop and in the kernel. Activations are
// row-major [batch, channels, height, width].

#include <cstdint>
#include <cuda/std/cmath>  // cuda::std::exp, cuda::std::log on host and device

#include <fftconv/config.hpp>  // FFTCONV_HD

namespace lenet::kernels {

// y = max(x, 0)
template <class T>
struct relu_forward {
  const T* x;
  T* y;
  FFTCONV_HD void operator()(std::int64_t i) const { y[i] = x[i] > T(0) ? x[i] : T(0); }
};

// dx = dy where the forward output was positive. At x = 0 the derivative is taken as 0, as PyTorch does.
template <class T>
struct relu_backward {
  const T* y;
  const T* dy;
  T* dx;
  FFTCONV_HD void operator()(std::int64_t i) const { dx[i] = y[i] > T(0) ? dy[i] : T(0); }
};

// The shape of a 2x2, stride-2 max-pool over [planes = batch * channels, height, width]; odd trailing rows and
// columns are dropped (floor), as torch.nn.MaxPool2d(2) does.
struct pool_shape {
  std::int64_t planes, height, width;
  FFTCONV_HD std::int64_t out_height() const { return height / 2; }
  FFTCONV_HD std::int64_t out_width() const { return width / 2; }
  FFTCONV_HD std::int64_t out_rows() const { return planes * out_height(); }
};

// Where the gradient of a pooled element goes: the window position 0..3 (row-major) of its first maximum, or
// no_position when the ReLU before the pool zeroed the window's maximum.
inline constexpr std::int32_t no_position = 4;

// One output row per index, over [planes, out_height]: each window's maximum and where it was. A row, not an
// element, per index: the loop over a row's windows needs no index division and vectorises on the host.
// Strict '>' keeps the first of equal values, so ties (common after ReLU: windows of zeros) route the gradient
// to one input. With `rectify`, y = max(0, window maximum) is the pool of ReLU(x): max and ReLU commute, and
// the gradient reaches the same input (none when the maximum is not positive), so the ReLU layer is fused.
template <class T>
struct max_pool_forward {
  pool_shape s;
  bool rectify;
  const T* x;
  T* y;
  // [planes, out_height, out_width], read by max_pool_backward. 32-bit like the values, so that the row's loop
  // vectorises at full width (with byte positions it ran on 2-lane vectors: pool1's forward 0.93 -> 0.20 ms).
  std::int32_t* position;
  FFTCONV_HD void operator()(std::int64_t row) const {
    const std::int64_t width = s.out_width();
    const std::int64_t plane = row / s.out_height();
    const T* top = x + (plane * s.height + 2 * (row - plane * s.out_height())) * s.width;
    const T* bottom = top + s.width;
    T* out = y + row * width;
    std::int32_t* where = position + row * width;
    // Plain ifs on locals: the compiler turns them into selects and vectorises the row (which input wins is
    // data, and mispredicted jumps cost more than the pool).
    const bool rectified = rectify;
    for (std::int64_t c = 0; c < width; ++c) {
      const T a = top[2 * c], b = top[2 * c + 1], d = bottom[2 * c], e = bottom[2 * c + 1];
      T best = a;
      std::int32_t k = 0;
      if (b > best) { best = b; k = 1; }
      if (d > best) { best = d; k = 2; }
      if (e > best) { best = e; k = 3; }
      if (rectified && !(best > T(0))) { best = T(0); k = no_position; }
      out[c] = best;
      where[c] = k;
    }
  }
};

// The two input rows under one output row per index, over [planes, out_height]: each input takes its window's
// gradient when it was the maximum, else 0 (each input lies in at most one window: no atomics, the same bits on
// every run). The dropped odd column, and the odd last row under a plane's last output row, get 0.
template <class T>
struct max_pool_backward {
  pool_shape s;
  const std::int32_t* position;
  const T* dy;
  T* dx;
  FFTCONV_HD void operator()(std::int64_t row) const {
    const std::int64_t width = s.out_width();
    const std::int64_t plane = row / s.out_height();
    const std::int64_t r = row - plane * s.out_height();
    T* top = dx + (plane * s.height + 2 * r) * s.width;
    T* bottom = top + s.width;
    const T* gradient = dy + row * width;
    const std::int32_t* where = position + row * width;
    for (std::int64_t c = 0; c < width; ++c) {
      const T g = gradient[c];
      const std::int32_t k = where[c];
      top[2 * c] = k == 0 ? g : T(0);
      top[2 * c + 1] = k == 1 ? g : T(0);
      bottom[2 * c] = k == 2 ? g : T(0);
      bottom[2 * c + 1] = k == 3 ? g : T(0);
    }
    if (s.width % 2 == 1) top[s.width - 1] = bottom[s.width - 1] = T(0);
    if (s.height % 2 == 1 && r == s.out_height() - 1)
      for (std::int64_t c = 0; c < s.width; ++c) bottom[s.width + c] = T(0);
  }
};

// y[b, o] = bias[o] over [batch, features]: the GEMM then accumulates x W^T onto it (beta = 1).
template <class T>
struct broadcast_rows {
  const T* bias;
  std::int64_t features;
  T* y;
  FFTCONV_HD void operator()(std::int64_t i) const { y[i] = bias[i % features]; }
};

// Term b of column sum o of a [rows, columns] matrix: db[o] = sum_b dy[b, o].
template <class T>
struct column_term {
  const T* matrix;
  std::int64_t columns;
  FFTCONV_HD T operator()(std::int64_t column, std::int64_t row) const { return matrix[row * columns + column]; }
};

// Term i of a plain sum: segment 0 of segmented_sum(1, n, ...).
template <class T>
struct element_term {
  const T* values;
  FFTCONV_HD T operator()(std::int64_t, std::int64_t i) const { return values[i]; }
};

// Softmax cross-entropy, one sample per index. With m = max_c z_c and lse = m + log sum_c exp(z_c - m):
//   loss_b = lse - z_label,   dL/dz_c = (softmax_c - [c = label]) * scale   (scale = 1 / batch for a mean loss)
// Also writes whether the first arg-max is the label. dlogits may be null (evaluation).
template <class T>
struct softmax_cross_entropy {
  const T* logits;
  const std::int32_t* labels;
  std::int64_t classes;
  T scale;
  T* loss;
  T* correct;
  T* dlogits;
  FFTCONV_HD void operator()(std::int64_t b) const {
    const T* z = logits + b * classes;
    std::int64_t arg_max = 0;
    for (std::int64_t c = 1; c < classes; ++c)
      if (z[c] > z[arg_max]) arg_max = c;
    T sum(0);
    for (std::int64_t c = 0; c < classes; ++c) sum += cuda::std::exp(z[c] - z[arg_max]);
    const T log_sum_exp = z[arg_max] + cuda::std::log(sum);
    const std::int64_t label = labels[b];
    loss[b] = log_sum_exp - z[label];
    correct[b] = arg_max == label ? T(1) : T(0);
    if (dlogits != nullptr)
      for (std::int64_t c = 0; c < classes; ++c)
        dlogits[b * classes + c] = (cuda::std::exp(z[c] - log_sum_exp) - (c == label ? T(1) : T(0))) * scale;
  }
};

// SGD with momentum, as torch.optim.SGD (dampening 0, no Nesterov, no weight decay):
//   v <- momentum * v + g,   w <- w - lr * v
template <class T>
struct sgd_momentum {
  T learning_rate;
  T momentum;
  const T* gradient;
  T* velocity;
  T* weight;
  FFTCONV_HD void operator()(std::int64_t i) const {
    const T v = momentum * velocity[i] + gradient[i];
    velocity[i] = v;
    weight[i] -= learning_rate * v;
  }
};

// A minibatch gathered from the resident training set in shuffled order, over [batch, sample_size].
template <class T>
struct gather_samples {
  const T* images;
  const std::int32_t* order;  // a permutation of the training set; this minibatch starts at `first`
  std::int64_t first;
  std::int64_t sample_size;
  T* batch;
  FFTCONV_HD void operator()(std::int64_t i) const {
    const std::int64_t b = i / sample_size;
    batch[i] = images[std::int64_t(order[first + b]) * sample_size + (i - b * sample_size)];
  }
};

struct gather_labels {
  const std::int32_t* labels;
  const std::int32_t* order;
  std::int64_t first;
  std::int32_t* batch;
  FFTCONV_HD void operator()(std::int64_t b) const { batch[b] = labels[order[first + b]]; }
};

}  // namespace lenet::kernels
