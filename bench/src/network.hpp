#pragma once
// The bench's small network, written minimally on the library's backend so that it runs on both
// executors: conv(3->16, k x k, no padding, bias) -> ReLU -> 2x2 max pool (stride 2) -> linear(F->128) -> ReLU
// -> linear(128->64) -> ReLU -> linear(64->10) -> softmax cross-entropy; one SGD step (lr 1e-3, momentum 0.9).
// Linear layers are GEMMs through backend<Exec>::gemm (cuBLAS / CBLAS); everything else is element functors.
// The input needs no gradient, so the step runs the convolution's forward and backward_filter, not its
// backward_data (what any framework does for a first layer).

#include <array>
#include <cmath>
#include <cstdint>
#include <fftconv/backend/backend.hpp>
#include <fftconv/config.hpp>
#include <limits>
#include <random>
#include <vector>

#include "platform.hpp"

namespace bench {
namespace kernels {

using index = std::int64_t;

template <class T>
struct relu_in_place {
  T* a;
  FFTCONV_HD void operator()(index i) const {
    if (!(a[i] > T(0))) a[i] = T(0);
  }
};

// One pooled value per index over [planes, m2, m2]; the argmax is kept for the backward gather.
template <class T>
struct max_pool_forward {
  const T* a;
  T* pooled;
  index* argmax;
  index m, m2;
  FFTCONV_HD void operator()(index i) const {
    const index plane = i / (m2 * m2), r = i % (m2 * m2), py = r / m2, px = r % m2;
    index best = plane * m * m + 2 * py * m + 2 * px;
    T value = a[best];
    for (index dy = 0; dy < 2; ++dy)
      for (index dx = 0; dx < 2; ++dx) {
        const index j = plane * m * m + (2 * py + dy) * m + 2 * px + dx;
        if (a[j] > value) {
          value = a[j];
          best = j;
        }
      }
    pooled[i] = value;
    argmax[i] = best;
  }
};

// Gradient through max pool and ReLU as a gather over [planes, m, m]: windows do not overlap, so each input
// position has at most one window, and it receives that window's gradient if it was the window's argmax.
template <class T>
struct max_pool_relu_backward {
  const T* a;  // post-ReLU activations
  const T* d_pooled;
  const index* argmax;
  T* da;
  index m, m2;
  FFTCONV_HD void operator()(index i) const {
    const index plane = i / (m * m), r = i % (m * m), y = r / m, x = r % m, py = y / 2, px = x / 2;
    T g = T(0);
    if (py < m2 && px < m2) {
      const index j = plane * m2 * m2 + py * m2 + px;
      if (argmax[j] == i) g = d_pooled[j];
    }
    da[i] = a[i] > T(0) ? g : T(0);
  }
};

template <class T>
struct add_bias_activation {
  T* h;
  const T* bias;
  index features;
  bool relu;
  FFTCONV_HD void operator()(index i) const {
    const T v = h[i] + bias[i % features];
    h[i] = (relu && !(v > T(0))) ? T(0) : v;
  }
};

template <class T>
struct relu_backward {
  T* dh;
  const T* h;
  FFTCONV_HD void operator()(index i) const {
    if (!(h[i] > T(0))) dh[i] = T(0);
  }
};

// d(mean cross-entropy)/d(logits) = (softmax - onehot) / batch, one row per index.
template <class T>
struct softmax_cross_entropy_gradient {
  const T* logits;
  const int* labels;
  T* d_logits;
  index classes;
  T inverse_batch;
  FFTCONV_HD void operator()(index b) const {
    const T* row = logits + b * classes;
    T largest = row[0];
    for (index j = 1; j < classes; ++j) largest = row[j] > largest ? row[j] : largest;
    T sum = T(0);
    for (index j = 0; j < classes; ++j) sum += std::exp(row[j] - largest);
    for (index j = 0; j < classes; ++j) {
      const T p = std::exp(row[j] - largest) / sum;
      d_logits[b * classes + j] = (p - (j == labels[b] ? T(1) : T(0))) * inverse_batch;
    }
  }
};

// Column sums of a row-major [rows, columns] matrix: the bias gradient over the batch.
template <class T>
struct column_term {
  const T* matrix;
  index columns;
  FFTCONV_HD T operator()(index column, index row) const { return matrix[row * columns + column]; }
};

// PyTorch's SGD with momentum (dampening 0): v = mu v + g; p -= lr v.
template <class T>
struct sgd_momentum {
  T* parameters;
  const T* gradients;
  T* velocity;
  T learning_rate, momentum;
  FFTCONV_HD void operator()(index i) const {
    velocity[i] = momentum * velocity[i] + gradients[i];
    parameters[i] -= learning_rate * velocity[i];
  }
};

}  // namespace kernels


// Shapes of the network for one case, and where each parameter sits in the one parameter vector.
struct network_shape {
  std::int64_t batch = 1, n = 0, k = 0;
  static constexpr std::int64_t channels = 3, maps = 16, hidden1 = 128, hidden2 = 64, classes = 10;
  std::int64_t m() const { return n - k + 1; }  // conv output extent
  std::int64_t m2() const { return m() / 2; }   // pooled extent (floor, like PyTorch)
  std::int64_t features() const { return maps * m2() * m2(); }
  // Parameter blocks: conv w, conv b, W1, b1, W2, b2, W3, b3.
  std::array<std::int64_t, 8> sizes() const {
    return {maps * channels * k * k, maps,    hidden1 * features(), hidden1,
            hidden2 * hidden1,       hidden2, classes * hidden2,    classes};
  }
  std::array<std::int64_t, 9> offsets() const {
    std::array<std::int64_t, 9> o{};
    const auto s = sizes();
    for (int i = 0; i < 8; ++i) o[i + 1] = o[i] + s[i];
    return o;
  }
  std::int64_t parameter_count() const { return offsets()[8]; }
  std::int64_t conv_macs() const { return batch * maps * m() * m() * channels * k * k; }
};

// The case's data, generated once on the host and shared by every contestant.
struct network_data {
  std::vector<float> x;
  std::vector<int> labels;
  std::vector<float> parameters;
};

inline network_data make_network_data(const network_shape& s, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  network_data d;
  d.x.resize(s.batch * s.channels * s.n * s.n);
  for (float& v : d.x) v = unit(rng);
  std::uniform_int_distribution<int> label(0, int(s.classes) - 1);
  d.labels.resize(s.batch);
  for (int& l : d.labels) l = label(rng);
  // PyTorch's default initialisation bound, 1/sqrt(fan_in), for each layer's weights and bias.
  const auto sizes = s.sizes();
  const std::array<double, 4> fan_in{double(s.channels * s.k * s.k), double(s.features()), double(s.hidden1),
                                     double(s.hidden2)};
  for (int block = 0; block < 8; ++block) {
    std::uniform_real_distribution<float> init(-1.0f, 1.0f);
    const float bound = float(1.0 / std::sqrt(fan_in[block / 2]));
    for (std::int64_t i = 0; i < sizes[block]; ++i) d.parameters.push_back(bound * init(rng));
  }
  return d;
}

template <class To, class From>
std::vector<To> convert(const std::vector<From>& values) {
  return std::vector<To>(values.begin(), values.end());
}

// The network on executor Exec in precision T, with the convolution done by Layer (a policy_layer or the
// cuDNN layer); everything else is the same code for every contestant.
template <class Exec, class T, class Layer>
class network {
  using backend = fftconv::detail::backend<Exec>;
  using plat = platform<Exec>;
  template <class U>
  using buffer = typename plat::template buffer<U>;

 public:
  network(Exec exec, Layer& conv, const network_shape& s, const network_data& data)
      : exec_(exec),
        conv_(conv),
        s_(s),
        offsets_(s.offsets()),
        x_(plat::upload(exec, convert<T>(data.x))),
        labels_(plat::upload(exec, data.labels)),
        parameters_(plat::upload(exec, convert<T>(data.parameters))),
        gradients_(backend::template allocate<T>(exec, s.parameter_count())),
        velocity_(backend::template allocate<T>(exec, s.parameter_count())),
        a_(backend::template allocate<T>(exec, s.batch * s.maps * s.m() * s.m())),
        da_(backend::template allocate<T>(exec, a_.size())),
        pooled_(backend::template allocate<T>(exec, s.batch * s.features())),
        d_pooled_(backend::template allocate<T>(exec, pooled_.size())),
        argmax_(backend::template allocate<std::int64_t>(exec, pooled_.size())),
        h1_(backend::template allocate<T>(exec, s.batch * s.hidden1)),
        dh1_(backend::template allocate<T>(exec, h1_.size())),
        h2_(backend::template allocate<T>(exec, s.batch * s.hidden2)),
        dh2_(backend::template allocate<T>(exec, h2_.size())),
        logits_(backend::template allocate<T>(exec, s.batch * s.classes)),
        d_logits_(backend::template allocate<T>(exec, logits_.size())) {
    backend::fill(exec_, velocity_.data(), std::int64_t(velocity_.size()), T(0));
    backend::fill(exec_, gradients_.data(), std::int64_t(gradients_.size()), T(0));
    backend::synchronize(exec_);
  }

  void forward() {
    const std::int64_t B = s_.batch;
    conv_.forward(exec_, x_.data(), parameter(0), parameter(1), a_.data());
    backend::for_each_index(exec_, std::int64_t(a_.size()), kernels::relu_in_place<T>{a_.data()});
    backend::for_each_index(exec_, std::int64_t(pooled_.size()),
                            kernels::max_pool_forward<T>{a_.data(), pooled_.data(), argmax_.data(), s_.m(), s_.m2()});
    linear_forward(pooled_.data(), s_.features(), 2, s_.hidden1, h1_.data(), true);
    linear_forward(h1_.data(), s_.hidden1, 4, s_.hidden2, h2_.data(), true);
    linear_forward(h2_.data(), s_.hidden2, 6, s_.classes, logits_.data(), false);
    (void)B;
  }

  // Forward, gradients of the mean cross-entropy, and one SGD update of every parameter.
  void step() {
    forward();
    backend::for_each_index(exec_, s_.batch,
                            kernels::softmax_cross_entropy_gradient<T>{logits_.data(), labels_.data(), d_logits_.data(),
                                                                       s_.classes, T(1) / T(s_.batch)});
    linear_backward(h2_.data(), s_.hidden2, 6, s_.classes, d_logits_.data(), dh2_.data());
    backend::for_each_index(exec_, std::int64_t(dh2_.size()), kernels::relu_backward<T>{dh2_.data(), h2_.data()});
    linear_backward(h1_.data(), s_.hidden1, 4, s_.hidden2, dh2_.data(), dh1_.data());
    backend::for_each_index(exec_, std::int64_t(dh1_.size()), kernels::relu_backward<T>{dh1_.data(), h1_.data()});
    linear_backward(pooled_.data(), s_.features(), 2, s_.hidden1, dh1_.data(), d_pooled_.data());
    backend::for_each_index(
        exec_, std::int64_t(da_.size()),
        kernels::max_pool_relu_backward<T>{a_.data(), d_pooled_.data(), argmax_.data(), da_.data(), s_.m(), s_.m2()});
    conv_.backward(exec_, x_.data(), parameter(0), da_.data(), nullptr, gradient(0), gradient(1));
    backend::for_each_index(
        exec_, s_.parameter_count(),
        kernels::sgd_momentum<T>{parameters_.data(), gradients_.data(), velocity_.data(), T(1e-3), T(0.9)});
  }

  std::vector<T> logits() const { return plat::download(exec_, logits_.data(), logits_.size()); }
  std::vector<T> conv_weight_gradient() const {
    return plat::download(exec_, static_cast<const T*>(gradients_.data()), std::size_t(s_.sizes()[0]));
  }
  std::vector<T> conv_bias_gradient() const {
    return plat::download(exec_, static_cast<const T*>(gradients_.data() + offsets_[1]), std::size_t(s_.sizes()[1]));
  }
  // Mark the outputs the checks read as unwritten (NaN), so a contestant that skips them cannot pass.
  void poison() {
    const T nan = std::numeric_limits<T>::quiet_NaN();
    backend::fill(exec_, logits_.data(), std::int64_t(logits_.size()), nan);
    backend::fill(exec_, gradients_.data(), s_.sizes()[0] + s_.sizes()[1], nan);
  }

  // Bytes a minimal schedule of the pass moves: each operation reads its operands and writes its result once.
  static double bytes(const network_shape& s, bool step) {
    const double B = double(s.batch), x = B * s.channels * s.n * s.n, a = B * s.maps * s.m() * s.m(),
                 p = B * s.features(), argmax_elements = 2 * p /* int64 */;
    const auto z = s.sizes();
    const double h1 = B * s.hidden1, h2 = B * s.hidden2, logits = B * s.classes;
    double e = x + z[0] + z[1] + a;                   // conv
    e += 2 * a + a + p + argmax_elements;             // relu, pool
    e += (p + z[2] + h1) + (2 * h1 + z[3]);           // fc1 + bias/relu
    e += (h1 + z[4] + h2) + (2 * h2 + z[5]);          // fc2
    e += (h2 + z[6] + logits) + (2 * logits + z[7]);  // fc3
    if (step) {
      e += 2 * logits + B / 2;                                                      // loss gradient (int32 labels)
      e += (logits + h2 + z[6]) + (logits + z[7]) + (logits + z[6] + h2) + 3 * h2;  // fc3 backward, relu
      e += (h2 + h1 + z[4]) + (h2 + z[5]) + (h2 + z[4] + h1) + 3 * h1;              // fc2 backward, relu
      e += (h1 + p + z[2]) + (h1 + z[3]) + (h1 + z[2] + p);                         // fc1 backward
      e += 2 * a + p + argmax_elements;                                             // pool + relu backward
      e += x + a + z[0] + z[1];                                                     // conv backward_filter
      e += 5.0 * double(s.parameter_count());                                       // SGD: p, g, v in; p, v out
    }
    return e * sizeof(T);
  }

 private:
  T* parameter(int block) { return parameters_.data() + offsets_[block]; }
  T* gradient(int block) { return gradients_.data() + offsets_[block]; }

  // out[B, out_f] = in[B, in_f] W^T + b (W row-major [out_f, in_f]), then ReLU if asked.
  void linear_forward(const T* in, std::int64_t in_f, int block, std::int64_t out_f, T* out, bool relu) {
    fftconv::detail::gemm_desc d;
    d.op_b = fftconv::detail::gemm_op::transpose;
    d.m = s_.batch;
    d.n = out_f;
    d.k = in_f;
    d.lda = in_f;
    d.ldb = in_f;
    d.ldc = out_f;
    backend::gemm(exec_, d, T(1), in, parameter(block), T(0), out);
    backend::for_each_index(exec_, s_.batch * out_f,
                            kernels::add_bias_activation<T>{out, parameter(block + 1), out_f, relu});
  }

  // dW = d_out^T in, db = column sums of d_out, d_in = d_out W.
  void linear_backward(const T* in, std::int64_t in_f, int block, std::int64_t out_f, const T* d_out, T* d_in) {
    fftconv::detail::gemm_desc dw;
    dw.op_a = fftconv::detail::gemm_op::transpose;
    dw.m = out_f;
    dw.n = in_f;
    dw.k = s_.batch;
    dw.lda = out_f;
    dw.ldb = in_f;
    dw.ldc = in_f;
    backend::gemm(exec_, dw, T(1), d_out, in, T(0), gradient(block));
    backend::segmented_sum(exec_, out_f, s_.batch, kernels::column_term<T>{d_out, out_f}, gradient(block + 1));
    fftconv::detail::gemm_desc dx;
    dx.m = s_.batch;
    dx.n = in_f;
    dx.k = out_f;
    dx.lda = out_f;
    dx.ldb = in_f;
    dx.ldc = in_f;
    backend::gemm(exec_, dx, T(1), d_out, static_cast<const T*>(parameter(block)), T(0), d_in);
  }

  Exec exec_;
  Layer& conv_;
  network_shape s_;
  std::array<std::int64_t, 9> offsets_;
  buffer<T> x_;
  buffer<int> labels_;
  buffer<T> parameters_, gradients_, velocity_;
  buffer<T> a_, da_, pooled_, d_pooled_;
  buffer<std::int64_t> argmax_;
  buffer<T> h1_, dh1_, h2_, dh2_, logits_, d_logits_;
};

}  // namespace bench
