// A short LeNet training run on a Fashion-MNIST subset (the installed dataset-fashion-mnist; skipped when it is
// absent): the loss falls and test accuracy clears chance (10%) by a wide margin.
#include <doctest/doctest.h>

#include <filesystem>
#include <numeric>

#include "lenet/training.hpp"

namespace {
const bool have_fashion_mnist =
    std::filesystem::exists(std::filesystem::path(lenet::fashion_mnist_default_dir) / "train-images-idx3-ubyte.gz");
}

TEST_CASE("training: two epochs on 4096 Fashion-MNIST images lower the loss and beat chance 5-fold" *
          doctest::skip(!have_fashion_mnist)) {
  lenet::dataset_split data = lenet::load_fashion_mnist(lenet::fashion_mnist_default_dir);
  lenet::normalise(data);
  lenet::keep_first(data.train, 4096);
  lenet::keep_first(data.test, 2000);
  // The tool's default policy; lr 0.05 (not the tool's 0.01) so that 64 steps get somewhere.
  lenet::session<fftconv::host, fftconv::fft> s(fftconv::host{}, data, 128, lenet::sgd{0.05, 0.9}, 1);
  const lenet::evaluation before = s.evaluate();
  const lenet::epoch_result first = s.train_epoch(1, 0, false);
  const lenet::epoch_result second = s.train_epoch(2, 0, false);
  const lenet::evaluation after = s.evaluate();
  REQUIRE(first.step_losses.size() == 32);
  REQUIRE(first.step_milliseconds.size() == 32);
  const auto mean_of = [](const std::vector<double>& v, std::size_t from, std::size_t to) {
    return std::accumulate(v.begin() + from, v.begin() + to, 0.0) / double(to - from);
  };
  const double opening = mean_of(first.step_losses, 0, 4);
  const double closing = mean_of(second.step_losses, 28, 32);
  INFO("loss: first 4 steps ", opening, ", last 4 steps ", closing, "; epoch means ", first.mean_loss, ", ",
       second.mean_loss, "; training accuracy ", first.accuracy, ", ", second.accuracy, "; test accuracy ", before.accuracy, " -> ", after.accuracy);
  CHECK(opening > 2.0);  // near log(10) = 2.30 from PyTorch's initialisation
  CHECK(closing < 0.6 * opening);
  CHECK(second.mean_loss < first.mean_loss);
  CHECK(after.mean_loss < before.mean_loss);
  CHECK(after.accuracy >= 0.5);
  CHECK(second.accuracy > first.accuracy);
}
