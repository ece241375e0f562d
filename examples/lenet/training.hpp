#pragma once
// The training loop: the datasets resident in the executor's memory, minibatches gathered there in shuffled
// order, one SGD step per minibatch timed by the executor's stopwatch, and evaluation on the test set.
// Written once over Exec; run_training prints what train_lenet shows.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "data.hpp"
#include "executor_support.hpp"
#include "network.hpp"
#include "options.hpp"
#include "policies.hpp"
#include "report.hpp"

namespace lenet {

struct epoch_result {
  std::vector<double> step_milliseconds;  // per minibatch, by the executor's stopwatch
  std::vector<double> step_losses;        // mean loss of each minibatch, before its update
  double seconds = 0;                     // wall time of the epoch's training steps
  double mean_loss = 0;                   // over the epoch's samples
  double accuracy = 0;                    // fraction of the epoch's samples classified right, before each update
};

struct evaluation {
  double accuracy = 0;  // fraction of correct arg-maxes
  double mean_loss = 0;
};

// A dataset copied to the executor: images [count, sample_size] and labels.
template <class Exec>
struct resident_dataset {
  resident_dataset(const Exec& exec, const dataset& d)
      : count(d.count),
        sample_size(d.sample_size()),
        images(ops::allocate<float>(exec, d.count * d.sample_size())),
        labels(ops::allocate<std::int32_t>(exec, d.count)) {
    transfer<Exec>::to_executor(exec, images.data(), d.images.data(), count * sample_size);
    transfer<Exec>::to_executor(exec, labels.data(), d.labels.data(), count);
  }
  std::int64_t count;
  std::int64_t sample_size;
  ops::buffer<Exec, float> images;
  ops::buffer<Exec, std::int32_t> labels;
};

template <class Exec, class Policy>
class session {
 public:
  session(const Exec& exec, const dataset_split& data, std::int64_t batch, sgd optimiser, std::uint64_t seed)
      : exec_(exec),
        channels_(data.train.channels),
        batch_(batch),
        optimiser_(optimiser),
        shuffle_seed_(seed ^ 0x9e3779b97f4a7c15ull),  // a stream apart from the initialisation's
        train_(exec, checked(data.train, data.name + " training set")),
        test_(exec, checked(data.test, data.name + " test set")),
        order_(ops::allocate<std::int32_t>(exec, data.train.count)),
        batch_images_(ops::allocate<float>(exec, batch * data.train.sample_size())),
        batch_labels_(ops::allocate<std::int32_t>(exec, batch)),
        net_(exec, data.train.channels, batch, seed),
        head_(exec, batch) {
    if (data.test.channels != channels_) throw std::invalid_argument("training and test images differ in channels");
    if (data.train.count > std::int64_t(INT32_MAX)) throw std::invalid_argument("more than 2^31 training images");
  }

  std::int64_t steps_per_epoch() const { return (train_.count + batch_ - 1) / batch_; }

  // One pass over the training set in the order of a permutation drawn for (seed, epoch); the last minibatch
  // may be short (no samples dropped). max_steps > 0 stops early (tests).
  epoch_result train_epoch(std::int64_t epoch, std::int64_t max_steps = 0, bool show_progress = true) {
    std::vector<std::int32_t> order(static_cast<std::size_t>(train_.count));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(shuffle_seed_ + static_cast<std::uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    transfer<Exec>::to_executor(exec_, order_.data(), order.data(), train_.count);

    const std::int64_t steps = max_steps > 0 ? std::min(max_steps, steps_per_epoch()) : steps_per_epoch();
    ops::buffer<Exec, float> loss_sums = ops::allocate<float>(exec_, steps);
    ops::buffer<Exec, float> correct_sums = ops::allocate<float>(exec_, steps);
    epoch_result result;
    result.step_milliseconds.reserve(static_cast<std::size_t>(steps));
    std::vector<std::int64_t> step_sizes;
    stopwatch<Exec> watch(exec_);
    progress_bar progress("epoch " + std::to_string(epoch) + " train", show_progress ? steps : 0);
    ops::synchronize(exec_);
    const auto start = std::chrono::steady_clock::now();
    for (std::int64_t step = 0; step < steps; ++step) {
      const std::int64_t first = step * batch_;
      const std::int64_t size = std::min(batch_, train_.count - first);
      watch.start();
      ops::for_each_index(exec_, size * train_.sample_size,
                          kernels::gather_samples<float>{train_.images.data(), order_.data(), first,
                                                         train_.sample_size, batch_images_.data()});
      ops::for_each_index(
          exec_, size, kernels::gather_labels{train_.labels.data(), order_.data(), first, batch_labels_.data()});
      const activation<float> logits = net_.forward(exec_, images(batch_images_.data(), size));
      const activation<float> gradient = head_.evaluate(exec_, logits, batch_labels_.data(), loss_sums.data() + step,
                                                        correct_sums.data() + step);
      net_.backward(exec_, gradient);
      net_.update(exec_, optimiser_);
      result.step_milliseconds.push_back(watch.stop());
      step_sizes.push_back(size);
      progress.update(step + 1);
    }
    ops::synchronize(exec_);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.finish();

    std::vector<float> losses(static_cast<std::size_t>(steps)), correct(static_cast<std::size_t>(steps));
    transfer<Exec>::to_host(exec_, losses.data(), loss_sums.data(), steps);
    transfer<Exec>::to_host(exec_, correct.data(), correct_sums.data(), steps);
    double total = 0, hits = 0;
    std::int64_t samples = 0;
    for (std::int64_t s = 0; s < steps; ++s) {
      result.step_losses.push_back(losses[s] / double(step_sizes[s]));
      total += losses[s];
      hits += correct[s];
      samples += step_sizes[s];
    }
    result.mean_loss = total / double(samples);
    result.accuracy = hits / double(samples);
    return result;
  }

  // Loss and accuracy over the whole test set, in minibatches of the training size.
  evaluation evaluate(bool show_progress = false) {
    const std::int64_t steps = (test_.count + batch_ - 1) / batch_;
    progress_bar progress("test", show_progress ? steps : 0);
    ops::buffer<Exec, float> loss_sums = ops::allocate<float>(exec_, steps);
    ops::buffer<Exec, float> correct_sums = ops::allocate<float>(exec_, steps);
    for (std::int64_t step = 0; step < steps; ++step) {
      const std::int64_t first = step * batch_;
      const std::int64_t size = std::min(batch_, test_.count - first);
      const activation<float> logits =
          net_.forward(exec_, images(test_.images.data() + first * test_.sample_size, size));
      head_.evaluate(exec_, logits, test_.labels.data() + first, loss_sums.data() + step, correct_sums.data() + step,
                     /*with_gradient=*/false);
      if (progress.enabled()) ops::synchronize(exec_);  // the bar shows work done, not work queued
      progress.update(step + 1);
    }
    progress.finish();
    std::vector<float> losses(static_cast<std::size_t>(steps)), correct(static_cast<std::size_t>(steps));
    transfer<Exec>::to_host(exec_, losses.data(), loss_sums.data(), steps);
    transfer<Exec>::to_host(exec_, correct.data(), correct_sums.data(), steps);
    // Per-minibatch sums are exact in float (at most `batch` ones); their total is summed in double.
    const double loss = std::accumulate(losses.begin(), losses.end(), 0.0);
    const double hits = std::accumulate(correct.begin(), correct.end(), 0.0);
    return {hits / double(test_.count), loss / double(test_.count)};
  }

  network<Exec, Policy, float>& net() { return net_; }

 private:
  static const dataset& checked(const dataset& d, const std::string& what) {
    if (d.count < 1) throw std::invalid_argument(what + " is empty");
    if (d.height != image_extent || d.width != image_extent)
      throw std::invalid_argument(what + ": images are " + std::to_string(d.height) + "x" + std::to_string(d.width) +
                                  ", LeNet takes 32x32");
    return d;
  }

  activation<const float> images(const float* data, std::int64_t count) const {
    return {data, count, channels_, image_extent, image_extent};
  }

  Exec exec_;
  std::int64_t channels_;
  std::int64_t batch_;
  sgd optimiser_;
  std::uint64_t shuffle_seed_;
  resident_dataset<Exec> train_;
  resident_dataset<Exec> test_;
  ops::buffer<Exec, std::int32_t> order_;
  ops::buffer<Exec, float> batch_images_;
  ops::buffer<Exec, std::int32_t> batch_labels_;
  network<Exec, Policy, float> net_;
  cross_entropy<Exec, float> head_;
};

// Trains for o.epochs epochs with the policy named by o.policy, printing each epoch's time table, mean loss
// and test accuracy to stdout. Returns the last test accuracy (a fraction).
template <class Exec>
double run_training(const Exec& exec, const options& o, const dataset_split& data) {
  return with_policy<Exec>(o.policy, [&]<class Policy>(std::type_identity<Policy>) {
    session<Exec, Policy> s(exec, data, o.batch, sgd{o.learning_rate, o.momentum}, o.seed);
    double accuracy = 0;
    for (std::int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
      const epoch_result r = s.train_epoch(epoch);
      std::printf("epoch %lld: per-minibatch time\n", static_cast<long long>(epoch));
      print_time_table(stdout, summarise(r.step_milliseconds));
      const auto start = std::chrono::steady_clock::now();
      const evaluation test = s.evaluate(/*show_progress=*/true);
      const double test_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("epoch %lld: time %.3f s (test pass %.3f s), mean loss %.4f (training accuracy %.2f%%, test loss %.4f)\n",
                  static_cast<long long>(epoch), r.seconds, test_seconds, r.mean_loss, 100.0 * r.accuracy,
                  test.mean_loss);
      std::printf("epoch %lld: test accuracy %.2f%%\n", static_cast<long long>(epoch), 100.0 * test.accuracy);
      std::fflush(stdout);
      accuracy = test.accuracy;
    }
    return accuracy;
  });
}

}  // namespace lenet
