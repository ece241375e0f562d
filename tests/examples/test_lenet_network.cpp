// The LeNet example's network on the host backend: each layer against hand-worked values, the whole
// network's backward pass against finite differences of its forward pass (layer by layer, in double), and
// the compiled convolution policies agreeing on the losses of a few training steps from the same seed.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "lenet/network.hpp"
#include "lenet/policies.hpp"
#include "lenet/training.hpp"
#include "lenet_random_data.hpp"

namespace {

using fftconv::host;

std::vector<double> normal_values(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> values(count);
  for (double& v : values) v = normal(rng);
  return values;
}

// sum_b (log sum_c exp z_bc - z_b,label) / batch, written out directly from the logits.
double mean_cross_entropy(const double* logits, const std::vector<std::int32_t>& labels) {
  double total = 0;
  for (std::size_t b = 0; b < labels.size(); ++b) {
    const double* z = logits + b * 10;
    double sum = 0;
    for (int c = 0; c < 10; ++c) sum += std::exp(z[c]);
    total += std::log(sum) - z[labels[b]];
  }
  return total / double(labels.size());
}

}  // namespace

TEST_CASE("max_pool2: the first maximum of each window takes the gradient, ties included") {
  // One 4x4 plane; windows: {1, 5, 2, 0} max 5 at 1; {3, 3, 3, 3} a tie -> the first; {-1, -2, -3, -4} -> the
  // first; {0, 7, 7, 2} -> the first 7.
  std::vector<double> x = {1, 5, 3, 3,     //
                           2, 0, 3, 3,     //
                           -1, -2, 0, 7,   //
                           -3, -4, 7, 2};
  lenet::max_pool2<host, double> pool(host{}, 16);
  const auto y = pool.forward(host{}, {x.data(), 1, 1, 4, 4});
  CHECK(y.height == 2);
  CHECK(y.width == 2);
  CHECK(std::vector<double>(y.data, y.data + 4) == std::vector<double>{5, 3, -1, 7});
  std::vector<double> dy = {10, 20, 30, 40};
  const auto dx = pool.backward(host{}, {dy.data(), 1, 1, 2, 2});
  CHECK(std::vector<double>(dx.data, dx.data + 16) == std::vector<double>{0, 10, 20, 0,  //
                                                                          0, 0, 0, 0,    //
                                                                          30, 0, 0, 40,  //
                                                                          0, 0, 0, 0});
}

TEST_CASE("max_pool2 with rectify: the pool of ReLU(x), a window without a positive value passes no gradient") {
  // The windows of the test above: {1, 5, 2, 0}, {3, 3, 3, 3}, {-1, -2, -3, -4}, {0, 7, 7, 2}.
  std::vector<double> x = {1, 5, 3, 3,     //
                           2, 0, 3, 3,     //
                           -1, -2, 0, 7,   //
                           -3, -4, 7, 2};
  lenet::max_pool2<host, double> pool(host{}, 16, /*rectify=*/true);
  const auto y = pool.forward(host{}, {x.data(), 1, 1, 4, 4});
  CHECK(std::vector<double>(y.data, y.data + 4) == std::vector<double>{5, 3, 0, 7});
  std::vector<double> dy = {10, 20, 30, 40};
  const auto dx = pool.backward(host{}, {dy.data(), 1, 1, 2, 2});
  CHECK(std::vector<double>(dx.data, dx.data + 16) == std::vector<double>{0, 10, 20, 0,  //
                                                                          0, 0, 0, 0,    //
                                                                          0, 0, 0, 40,   //
                                                                          0, 0, 0, 0});
}

TEST_CASE("max_pool2: odd planes drop the last row and column (floor), which take no gradient") {
  // Two 3x5 planes: one 1x2 row of windows each; row 2 and column 4 lie outside every window and hold the
  // largest values, which must not leak into the output.
  std::vector<double> x(2 * 15);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = double(i % 15);
  for (int p = 0; p < 2; ++p) {
    x[p * 15 + 4] = x[p * 15 + 9] = 100;
    for (int c = 0; c < 5; ++c) x[p * 15 + 10 + c] = 100;
  }
  lenet::max_pool2<host, double> pool(host{}, 30);
  const auto y = pool.forward(host{}, {x.data(), 2, 1, 3, 5});
  REQUIRE(y.height == 1);
  REQUIRE(y.width == 2);
  // plane windows: {0, 1, 5, 6} max 6 at 3; {2, 3, 7, 8} max 8 at 3
  CHECK(std::vector<double>(y.data, y.data + 4) == std::vector<double>{6, 8, 6, 8});
  std::vector<double> dy = {1, 2, 3, 4};
  const auto dx = pool.backward(host{}, {dy.data(), 2, 1, 1, 2});
  std::vector<double> expected(30, 0.0);
  expected[6] = 1, expected[8] = 2, expected[15 + 6] = 3, expected[15 + 8] = 4;
  CHECK(std::vector<double>(dx.data, dx.data + 30) == expected);
  CHECK_THROWS_AS(pool.forward(host{}, {x.data(), 1, 1, 1, 30}), std::invalid_argument);
}

TEST_CASE("relu: passes positive inputs forward and their gradients back, zero included as inactive") {
  std::vector<double> x = {-2, 0, 3, 0.5, -0.25, 4};
  lenet::relu<host, double> relu(host{}, 6);
  const auto y = relu.forward(host{}, {x.data(), 2, 3});
  CHECK(std::vector<double>(y.data, y.data + 6) == std::vector<double>{0, 0, 3, 0.5, 0, 4});
  std::vector<double> dy = {1, 2, 3, 4, 5, 6};
  const auto dx = relu.backward(host{}, {dy.data(), 2, 3});
  CHECK(std::vector<double>(dx.data, dx.data + 6) == std::vector<double>{0, 0, 3, 4, 0, 6});
}

TEST_CASE("linear: y = x W^T + b and its three gradients, against loops") {
  const std::int64_t batch = 3, in = 5, out = 4;
  lenet::linear<host, double> layer(host{}, "fc", in, out, batch);
  const std::vector<double> w = normal_values(out * in, 1), b = normal_values(out, 2);
  std::copy(w.begin(), w.end(), layer.weight().value.data());
  std::copy(b.begin(), b.end(), layer.bias().value.data());
  std::vector<double> x = normal_values(batch * in, 3), dy = normal_values(batch * out, 4);
  // x shaped [batch, 5, 1, 1] as a flattened activation would be
  const auto y = layer.forward(host{}, {x.data(), batch, in, 1, 1});
  REQUIRE(y.channels == out);
  for (std::int64_t s = 0; s < batch; ++s)
    for (std::int64_t o = 0; o < out; ++o) {
      double expected = b[o];
      for (std::int64_t i = 0; i < in; ++i) expected += x[s * in + i] * w[o * in + i];
      CHECK(y.data[s * out + o] == doctest::Approx(expected).epsilon(1e-12));
    }
  const auto dx = layer.backward(host{}, {dy.data(), batch, out});
  CHECK(dx.channels == in);
  for (std::int64_t s = 0; s < batch; ++s)
    for (std::int64_t i = 0; i < in; ++i) {
      double expected = 0;
      for (std::int64_t o = 0; o < out; ++o) expected += dy[s * out + o] * w[o * in + i];
      CHECK(dx.data[s * in + i] == doctest::Approx(expected).epsilon(1e-12));
    }
  for (std::int64_t o = 0; o < out; ++o) {
    double db = 0;
    for (std::int64_t s = 0; s < batch; ++s) db += dy[s * out + o];
    CHECK(layer.bias().gradient.data()[o] == doctest::Approx(db).epsilon(1e-12));
    for (std::int64_t i = 0; i < in; ++i) {
      double dw = 0;
      for (std::int64_t s = 0; s < batch; ++s) dw += dy[s * out + o] * x[s * in + i];
      CHECK(layer.weight().gradient.data()[o * in + i] == doctest::Approx(dw).epsilon(1e-12));
    }
  }
}

TEST_CASE("cross_entropy: loss, correct count and the gradient of the batch mean") {
  // logits of 2 samples over 10 classes; sample 0 is right (arg-max 3 = label), sample 1 wrong.
  std::vector<double> z(20, 0.0);
  z[3] = 2.0;
  z[10 + 7] = 1.0;
  z[10 + 2] = 3.0;
  const std::vector<std::int32_t> labels = {3, 7};
  lenet::cross_entropy<host, double> head(host{}, 2);
  double loss = 0, correct = 0;
  const auto g = head.evaluate(host{}, {z.data(), 2, 10}, labels.data(), &loss, &correct);
  const double loss0 = std::log(9 + std::exp(2.0)) - 2.0, loss1 = std::log(8 + std::exp(1.0) + std::exp(3.0)) - 1.0;
  CHECK(loss == doctest::Approx(loss0 + loss1).epsilon(1e-12));
  CHECK(correct == 1);
  CHECK(g.data[3] == doctest::Approx((std::exp(2.0) / (9 + std::exp(2.0)) - 1) / 2).epsilon(1e-12));
  CHECK(g.data[0] == doctest::Approx((1 / (9 + std::exp(2.0))) / 2).epsilon(1e-12));
  CHECK(g.data[10 + 7] == doctest::Approx((std::exp(1.0) / (8 + std::exp(1.0) + std::exp(3.0)) - 1) / 2).epsilon(1e-12));
}

TEST_CASE("sgd: v <- momentum v + g, w <- w - lr v, on every parameter (torch.optim.SGD)") {
  lenet::network<host, fftconv::naive, double> net(host{}, 1, 2, 5);
  std::vector<std::vector<double>> initial, gradients;
  std::uint64_t seed = 40;
  for (lenet::parameter<host, double>* p : net.parameters()) {
    initial.emplace_back(p->value.data(), p->value.data() + p->count);
    gradients.push_back(normal_values(p->count, ++seed));
    std::copy(gradients.back().begin(), gradients.back().end(), p->gradient.data());
  }
  const lenet::sgd optimiser{0.1, 0.9};
  net.update(host{}, optimiser);
  net.update(host{}, optimiser);  // same gradient twice: v1 = g, v2 = 1.9 g, w2 = w0 - 0.1 (g + 1.9 g)
  const auto parameters = net.parameters();
  for (std::size_t t = 0; t < parameters.size(); ++t) {
    INFO(parameters[t]->name);
    for (std::int64_t i = 0; i < parameters[t]->count; i += 7) {
      CHECK(parameters[t]->velocity.data()[i] == doctest::Approx(1.9 * gradients[t][i]).epsilon(1e-12));
      CHECK(parameters[t]->value.data()[i] == doctest::Approx(initial[t][i] - 0.29 * gradients[t][i]).epsilon(1e-12));
    }
  }
}

TEST_CASE("default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) per tensor, the same for a seed") {
  lenet::network<host, fftconv::naive, double> a(host{}, 1, 2, 7), b(host{}, 1, 2, 7), c(host{}, 1, 2, 8);
  const std::int64_t fan_in[10] = {25, 25, 150, 150, 400, 400, 120, 120, 84, 84};
  const auto pa = a.parameters(), pb = b.parameters(), pc = c.parameters();
  REQUIRE(pa.size() == 10);
  for (std::size_t t = 0; t < pa.size(); ++t) {
    INFO(pa[t]->name);
    const double bound = 1 / std::sqrt(double(fan_in[t]));
    double largest = 0, sum = 0;
    bool same_as_b = true, same_as_c = true;
    for (std::int64_t i = 0; i < pa[t]->count; ++i) {
      const double v = pa[t]->value.data()[i];
      largest = std::max(largest, std::abs(v));
      sum += v;
      same_as_b = same_as_b && v == pb[t]->value.data()[i];
      same_as_c = same_as_c && v == pc[t]->value.data()[i];
    }
    CHECK(largest <= bound);
    if (pa[t]->count >= 100) {  // spread over the range, centred
      CHECK(largest >= 0.9 * bound);
      CHECK(std::abs(sum / double(pa[t]->count)) <= 0.2 * bound);
    }
    CHECK(same_as_b);
    CHECK_FALSE(same_as_c);
  }
}

TEST_CASE("network gradients: every layer's parameters against central differences of the loss (double)") {
  // Three 3-channel 32x32 images (CIFAR-shaped: conv1 sees several input channels), random labels.
  const std::int64_t batch = 3, channels = 3;
  lenet::network<host, fftconv::naive, double> net(host{}, channels, batch, 2024);
  const std::vector<double> images = normal_values(batch * channels * 32 * 32, 5);
  const std::vector<std::int32_t> labels = {4, 0, 9};
  const lenet::activation<const double> x{images.data(), batch, channels, 32, 32};

  const auto loss = [&] {
    const auto logits = net.forward(host{}, x);
    return mean_cross_entropy(logits.data, labels);
  };
  lenet::cross_entropy<host, double> head(host{}, batch);
  double loss_sum = 0, correct = 0;
  const auto logits = net.forward(host{}, x);
  net.backward(host{}, head.evaluate(host{}, logits, labels.data(), &loss_sum, &correct));
  CHECK(loss_sum / batch == doctest::Approx(loss()).epsilon(1e-12));

  std::mt19937_64 rng(99);
  for (lenet::parameter<host, double>* p : net.parameters()) {
    INFO("parameter ", p->name, " (", p->count, " values)");
    const std::vector<double> analytic(p->gradient.data(), p->gradient.data() + p->count);
    // Twelve random coordinates and the largest gradient; every one of a bias of at most 16.
    std::vector<std::int64_t> coordinates;
    if (p->count <= 16) {
      for (std::int64_t i = 0; i < p->count; ++i) coordinates.push_back(i);
    } else {
      std::uniform_int_distribution<std::int64_t> pick(0, p->count - 1);
      for (int k = 0; k < 12; ++k) coordinates.push_back(pick(rng));
      coordinates.push_back(std::max_element(analytic.begin(), analytic.end(),
                                             [](double a, double b) { return std::abs(a) < std::abs(b); }) -
                            analytic.begin());
    }
    double error = 0, norm = 0;
    for (std::int64_t i : coordinates) {
      constexpr double h = 1e-5;
      double& value = p->value.data()[i];
      const double saved = value;
      value = saved + h;
      net.weights_changed();
      const double up = loss();
      value = saved - h;
      net.weights_changed();
      const double down = loss();
      value = saved;
      net.weights_changed();
      const double numeric = (up - down) / (2 * h);
      INFO("coordinate ", i, ": analytic ", analytic[i], ", numeric ", numeric);
      CHECK(std::abs(analytic[i] - numeric) <= 1e-6 * std::abs(numeric) + 1e-9);
      error += (analytic[i] - numeric) * (analytic[i] - numeric);
      norm += numeric * numeric;
    }
    CHECK(norm > 0);  // a gradient that vanished everywhere would pass the comparison vacuously
    CHECK(std::sqrt(error / norm) <= 1e-7);
  }
}


TEST_CASE("policies agree: the same losses over a few training steps from the same seed") {
  const lenet::dataset_split data = lenet_test::random_split(5 * 32, 64, 11);
  std::vector<std::string> names;
  std::vector<std::vector<double>> losses;
  std::vector<double> test_losses;
  std::apply([&](const auto&... entry) { (names.push_back(std::string(entry.name)), ...); }, lenet::compiled_policies);
  // A policy that does not run on the host in this build (vendor without oneDNN) is left out, and says so.
  std::erase_if(names, [](const std::string& name) {
    const bool runs = lenet::runs_on_executor<host>(name);
    if (!runs) MESSAGE("policy ", name, " not compared: it does not run on the host in this build");
    return !runs;
  });
  for (const std::string& name : names)
    lenet::with_policy<host>(name, [&]<class Policy>(std::type_identity<Policy>) {
      // lr 0.05 so that five steps move the weights well away from the initialisation
      lenet::session<host, Policy> s(host{}, data, 32, lenet::sgd{0.05, 0.9}, 3);
      losses.push_back(s.train_epoch(1, 0, /*show_progress=*/false).step_losses);
      test_losses.push_back(s.evaluate().mean_loss);
    });
  REQUIRE(names.size() >= 2);
  REQUIRE(losses[0].size() == 5);
  CHECK(losses[0].front() != losses[0].back());  // the steps changed the network
  for (std::size_t p = 1; p < names.size(); ++p) {
    INFO(names[p], " against ", names[0]);
    for (std::size_t step = 0; step < losses[0].size(); ++step) {
      INFO("step ", step, ": ", losses[p][step], " vs ", losses[0][step]);
      CHECK(std::abs(losses[p][step] - losses[0][step]) <= 1e-4 * std::abs(losses[0][step]));
    }
    CHECK(std::abs(test_losses[p] - test_losses[0]) <= 1e-4 * std::abs(test_losses[0]));
  }
}
