#pragma once
// A small random dataset (normal pixels, uniform labels), deterministic for a seed: enough for a few steps
// whose losses different runs must reproduce.

#include <cstdint>
#include <random>
#include <utility>

#include "lenet/data.hpp"

namespace lenet_test {

inline lenet::dataset_split random_split(std::int64_t train, std::int64_t test, std::uint64_t seed) {
  lenet::dataset_split data{"random", {}, {}};
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto [d, count] : {std::pair{&data.train, train}, std::pair{&data.test, test}}) {
    d->count = count;
    d->channels = 1;
    d->height = d->width = 32;
    d->images.resize(static_cast<std::size_t>(count * 1024));
    for (float& v : d->images) v = normal(rng);
    for (std::int64_t n = 0; n < count; ++n) d->labels.push_back(static_cast<std::int32_t>(rng() % 10));
  }
  return data;
}

}  // namespace lenet_test
