// The LeNet example on a GPU: for every compiled policy, the fftconv::device run takes the same training steps
// as the host run from the same seed and data (step losses and test loss within float tolerance), and its
// per-minibatch times come from CUDA events. Skipped (exit 77) without a GPU.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "lenet/training.hpp"
#include "lenet_random_data.hpp"

TEST_CASE("device: the GPU run reproduces the host run's losses for every compiled policy") {
  const lenet::dataset_split data = lenet_test::random_split(4 * 32 + 7, 70, 13);  // a short last minibatch
  std::vector<std::string> names;
  std::apply([&](const auto&... entry) { (names.push_back(std::string(entry.name)), ...); }, lenet::compiled_policies);
  for (const std::string& name : names) {
    // vendor runs cuDNN on the GPU and oneDNN on the host: compared where this build has both.
    if (!lenet::runs_on_executor<fftconv::device>(name) || !lenet::runs_on_executor<fftconv::host>(name)) {
      MESSAGE("policy ", name, " not compared: it does not run on both executors in this build");
      continue;
    }
    lenet::with_policy<fftconv::device>(name, [&]<class Policy>(std::type_identity<Policy>) {
      INFO("policy ", name);
      const lenet::cuda_stream stream;
      lenet::session<fftconv::device, Policy> gpu(fftconv::device{stream.get()}, data, 32, lenet::sgd{0.05, 0.9}, 3);
      lenet::session<fftconv::host, Policy> cpu(fftconv::host{}, data, 32, lenet::sgd{0.05, 0.9}, 3);
      const lenet::epoch_result on_gpu = gpu.train_epoch(1, 0, false), on_cpu = cpu.train_epoch(1, 0, false);
      REQUIRE(on_gpu.step_losses.size() == 5);
      REQUIRE(on_cpu.step_losses.size() == 5);
      CHECK(on_gpu.step_losses.front() != on_gpu.step_losses.back());
      for (std::size_t step = 0; step < 5; ++step) {
        INFO("step ", step, ": gpu ", on_gpu.step_losses[step], ", host ", on_cpu.step_losses[step]);
        CHECK(std::abs(on_gpu.step_losses[step] - on_cpu.step_losses[step]) <= 1e-4 * on_cpu.step_losses[step]);
        CHECK(on_gpu.step_milliseconds[step] > 0);
      }
      const lenet::evaluation gpu_test = gpu.evaluate(), cpu_test = cpu.evaluate();
      CHECK(std::abs(gpu_test.mean_loss - cpu_test.mean_loss) <= 1e-4 * cpu_test.mean_loss);
    });
  }
}
