#pragma once
// LeNet-5 over fftconv: conv5(->6)-ReLU-pool2-conv5(->16)-ReLU-pool2-fc120-ReLU-fc84-ReLU-fc10 on 32x32
// images, the softmax cross-entropy head and SGD with momentum. Templated on the executor, the convolution
// policy and the element type (double for the finite-difference gradient check).

#include <cstdint>
#include <random>
#include <vector>

#include "layers.hpp"

namespace lenet {

inline constexpr std::int64_t image_extent = 32;  // LeNet's input is 32x32: Fashion-MNIST is padded to it
inline constexpr std::int64_t class_count = 10;

struct sgd {
  double learning_rate = 0.01;
  double momentum = 0.9;
};

template <class Exec, class Policy, class T>
class network {
 public:
  // Parameters drawn from `seed` with PyTorch's default initialisation, layer by layer in forward order.
  network(const Exec& exec, std::int64_t channels, std::int64_t max_batch, std::uint64_t seed)
      : conv1_(exec, "conv1", channels, 6, 5, image_extent, image_extent, max_batch),   // -> 6 x 28 x 28
        pool1_(exec, max_batch * 6 * 28 * 28, /*rectify=*/true),                        // ReLU, -> 6 x 14 x 14
        conv2_(exec, "conv2", 6, 16, 5, 14, 14, max_batch),                             // -> 16 x 10 x 10
        pool2_(exec, max_batch * 16 * 10 * 10, /*rectify=*/true),                       // ReLU, -> 16 x 5 x 5 = 400
        fc1_(exec, "fc1", 16 * 5 * 5, 120, max_batch),
        relu3_(exec, max_batch * 120),
        fc2_(exec, "fc2", 120, 84, max_batch),
        relu4_(exec, max_batch * 84),
        fc3_(exec, "fc3", 84, class_count, max_batch),
        channels_(channels) {
    std::mt19937_64 rng(seed);
    conv1_.initialise(exec, rng);
    conv2_.initialise(exec, rng);
    fc1_.initialise(exec, rng);
    fc2_.initialise(exec, rng);
    fc3_.initialise(exec, rng);
  }

  network(const network&) = delete;
  network& operator=(const network&) = delete;

  std::int64_t channels() const { return channels_; }

  // images: [batch, channels, 32, 32]; returns the logits [batch, 10], valid until the next forward.
  activation<T> forward(const Exec& exec, activation<const T> images) {
    activation<T> a = conv1_.forward(exec, images);
    a = pool1_.forward(exec, a);  // ReLU fused into the pool
    a = conv2_.forward(exec, a);
    a = pool2_.forward(exec, a);
    a = relu3_.forward(exec, fc1_.forward(exec, a));
    a = relu4_.forward(exec, fc2_.forward(exec, a));
    return fc3_.forward(exec, a);
  }

  // Gradients of every parameter for dL/dlogits of the last forward (overwritten, not accumulated).
  void backward(const Exec& exec, activation<const T> logits_gradient) {
    activation<T> g = fc3_.backward(exec, logits_gradient);
    g = fc2_.backward(exec, relu4_.backward(exec, g));
    g = fc1_.backward(exec, relu3_.backward(exec, g));
    g = conv2_.backward(exec, pool2_.backward(exec, g));
    g = pool1_.backward(exec, g);
    conv1_.backward(exec, g, /*input_gradient=*/false);
  }

  // One optimiser step over every parameter with the gradients of the last backward.
  void update(const Exec& exec, const sgd& optimiser) {
    for (parameter<Exec, T>* p : parameters())
      ops::for_each_index(exec, p->count,
                          kernels::sgd_momentum<T>{static_cast<T>(optimiser.learning_rate),
                                                   static_cast<T>(optimiser.momentum), p->gradient.data(),
                                                   p->velocity.data(), p->value.data()});
    weights_changed();
  }

  // To be called after writing parameter values directly (as the gradient check does).
  void weights_changed() {
    conv1_.weights_changed();
    conv2_.weights_changed();
  }

  // In forward order: conv1.weight, conv1.bias, conv2.weight, ..., fc3.bias.
  std::vector<parameter<Exec, T>*> parameters() {
    return {&conv1_.weight(), &conv1_.bias(), &conv2_.weight(), &conv2_.bias(), &fc1_.weight(),
            &fc1_.bias(),     &fc2_.weight(), &fc2_.bias(),     &fc3_.weight(), &fc3_.bias()};
  }

 private:
  conv2d<Exec, Policy, T> conv1_;
  max_pool2<Exec, T> pool1_;
  conv2d<Exec, Policy, T> conv2_;
  max_pool2<Exec, T> pool2_;
  linear<Exec, T> fc1_;
  relu<Exec, T> relu3_;
  linear<Exec, T> fc2_;
  relu<Exec, T> relu4_;
  linear<Exec, T> fc3_;
  std::int64_t channels_;
};

// Softmax cross-entropy over [batch, classes] logits: the summed loss and the number of correct arg-maxes go
// to scalars in the executor's memory (read back once per epoch, not per minibatch), and the gradient is that
// of the batch-mean loss, as torch.nn.CrossEntropyLoss.
template <class Exec, class T>
class cross_entropy {
 public:
  cross_entropy(const Exec& exec, std::int64_t max_batch)
      : losses_(ops::allocate<T>(exec, max_batch)),
        correct_(ops::allocate<T>(exec, max_batch)),
        logits_gradient_(ops::allocate<T>(exec, max_batch * class_count)),
        max_batch_(max_batch) {}

  // loss_sum = sum_b loss_b and correct_sum = #{b : argmax = label}, both in executor memory.
  // Returns dL/dlogits for L = mean_b loss_b when `with_gradient`, else nothing.
  activation<T> evaluate(const Exec& exec, activation<const T> logits, const std::int32_t* labels, T* loss_sum,
                         T* correct_sum, bool with_gradient = true) {
    check_batch(logits.batch, max_batch_, "cross_entropy");
    T* gradient = with_gradient ? logits_gradient_.data() : nullptr;
    ops::for_each_index(exec, logits.batch,
                        kernels::softmax_cross_entropy<T>{logits.data, labels, class_count,
                                                          T(1) / static_cast<T>(logits.batch), losses_.data(),
                                                          correct_.data(), gradient},
                        4 * class_count);
    ops::segmented_sum(exec, 1, logits.batch, kernels::element_term<T>{losses_.data()}, loss_sum);
    ops::segmented_sum(exec, 1, logits.batch, kernels::element_term<T>{correct_.data()}, correct_sum);
    if (!with_gradient) return {};
    return {gradient, logits.batch, class_count};
  }

 private:
  ops::buffer<Exec, T> losses_;
  ops::buffer<Exec, T> correct_;
  ops::buffer<Exec, T> logits_gradient_;
  std::int64_t max_batch_;
};

}  // namespace lenet
