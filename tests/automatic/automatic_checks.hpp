#pragma once
// fftconv::automatic, on any executor: the pick on layers where one policy is clearly best (both modes), the
// result of the call that triggered the timing, the process cache (hits do not re-time; clear, save, load),
// threads asking for one key at once, a candidate that runs out of memory, and the scratch-pointer trap.
// Included by test_automatic_host.cpp and test_automatic_device.cu.

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "../support/layer_views.hpp"
#include "../support/random_layer.hpp"
#include "../support/reference.hpp"
#include "../support/test_buffer.hpp"
#include "../support/tolerance.hpp"

namespace automatic_checks {

using testing_support::extents;
using testing_support::geometry_of;
using testing_support::layer_spec;
using testing_support::make_layer;
using testing_support::random_values;
using testing_support::relative_l2;
using testing_support::test_buffer;
using testing_support::tolerance;

// Layers where one policy wins by a wide margin on any machine.
inline reference::layer pointwise_layer() {  // 1x1: a plain GEMM for im2col, pure overhead for fft
  return make_layer(2, 8, {.in_channels = 64, .out_channels = 64, .input = {24, 24}, .kernel = {1, 1},
                           .stride = {1, 1}, .dilation = {1, 1}});
}
inline reference::layer large_kernel_layer() {  // 1->1, 150², k=51 (the seed report's layer): fft's case
  return make_layer(2, 1, {.input = {150, 150}, .kernel = {51, 51}, .stride = {1, 1}, .dilation = {1, 1}});
}
inline reference::layer tiny_image_layer() {  // 3x3 on 8x8, 64 channels: fft would transform 4096 kernels
  return make_layer(2, 1, {.in_channels = 64, .out_channels = 64, .input = {8, 8}, .kernel = {3, 3},
                           .padding = {1, 1}, .stride = {1, 1}, .dilation = {1, 1}});
}

// One layer's tensors in Exec's memory, filled with seeded values; outputs start as sentinels.
template <int N, class T, class Exec>
struct layer_data {
  reference::layer L;
  std::vector<double> x_values, w_values, bias_values, dy_values;
  test_buffer<T, Exec> x, w, bias, dy, y, dx, dw, db;

  layer_data(Exec exec, const reference::layer& layer, std::uint64_t seed)
      : L(layer),
        x_values(random_values(L.x_size(), seed * 4 + 1)),
        w_values(random_values(L.w_size(), seed * 4 + 2)),
        bias_values(random_values(L.out_channels, seed * 4 + 3)),
        dy_values(random_values(L.y_size(), seed * 4 + 4)),
        x(exec, x_values), w(exec, w_values), bias(exec, bias_values), dy(exec, dy_values),
        y(exec, L.y_size()), dx(exec, L.x_size()), dw(exec, L.w_size()), db(exec, L.out_channels) {}

  auto x_extents() const { return extents<N>(L.batch, L.in_channels, L.input); }
  auto y_extents() const { return extents<N>(L.batch, L.out_channels, L.output()); }
  auto w_extents() const { return extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel); }

  template <class Layer>
  void forward(Layer& layer, Exec exec) {
    layer.forward(exec, fftconv::make_view<const T, N + 2>(x.data(), x_extents()),
                  fftconv::make_view<const T, N + 2>(w.data(), w_extents()), bias.data(),
                  fftconv::make_view<T, N + 2>(y.data(), y_extents()));
  }
  template <class Layer>
  void backward_data(Layer& layer, Exec exec) {
    layer.backward_data(exec, fftconv::make_view<const T, N + 2>(dy.data(), y_extents()),
                        fftconv::make_view<const T, N + 2>(w.data(), w_extents()),
                        fftconv::make_view<T, N + 2>(dx.data(), x_extents()));
  }
  template <class Layer>
  void backward_filter(Layer& layer, Exec exec) {
    layer.backward_filter(exec, fftconv::make_view<const T, N + 2>(x.data(), x_extents()),
                          fftconv::make_view<const T, N + 2>(dy.data(), y_extents()),
                          fftconv::make_view<T, N + 2>(dw.data(), w_extents()), db.data());
  }

  void check_forward() {
    CHECK(relative_l2(y.read(), reference::forward(L, x_values, w_values, &bias_values)) <= tolerance<T>::forward);
  }
  void check_backward_data() {
    CHECK(relative_l2(dx.read(), reference::backward_data(L, dy_values, w_values)) <= tolerance<T>::data);
  }
  void check_backward_filter() {
    CHECK(relative_l2(dw.read(), reference::backward_filter(L, x_values, dy_values)) <= tolerance<T>::filter);
    CHECK(relative_l2(db.read(), reference::backward_bias(L, dy_values)) <= tolerance<T>::filter);
  }
};

inline std::string describe(const fftconv::automatic_choice& choice) {
  std::string text = choice.policy + " (" + choice.reason + ")";
  for (const auto& c : choice.candidates)
    text += "\n  " + c.policy + ": total " + std::to_string(c.total_seconds * 1e3) + " ms" +
            (c.skipped.empty() ? "" : ", " + c.skipped);
  return text;
}

// A fresh cache and counters, and the mode under test as the process default.
inline void start_clean(fftconv::automatic_mode mode) {
  fftconv::clear_automatic_choices();
  fftconv::reset_automatic_choice_statistics();
  fftconv::set_default_automatic_mode(mode);
}

// The layer's pick is one of `allowed`, and a full training step through the automatic layer is right
// (the first forward is the call that triggers the timing: its y is the caller's result).
template <class T, class Exec>
void check_pick(Exec exec, const reference::layer& L, fftconv::automatic_mode mode,
                std::initializer_list<const char*> allowed) {
  start_clean(mode);
  layer_data<2, T, Exec> data(exec, L, 11);
  fftconv::conv<2, T, fftconv::automatic> layer(geometry_of<2>(L));
  CHECK(layer.choice().policy.empty());
  data.forward(layer, exec);
  data.backward_data(layer, exec);
  data.backward_filter(layer, exec);
  const fftconv::automatic_choice& choice = layer.choice();
  INFO(testing_support::describe(L), " -> ", describe(choice));
  bool expected = false;
  for (const char* policy : allowed) expected = expected || choice.policy == policy;
  CHECK(expected);
  CHECK(choice.mode == mode);
  CHECK(!choice.reason.empty());
  const auto statistics = fftconv::automatic_choice_statistics();
  CHECK(statistics.measurements == (mode != fftconv::automatic_mode::heuristic ? 1u : 0u));
  CHECK(statistics.modelled == (mode == fftconv::automatic_mode::heuristic ? 1u : 0u));
  if (mode == fftconv::automatic_mode::exhaustive)  // every candidate timed (fft where the executor has it)
    for (const auto& candidate : choice.candidates) {
      INFO(candidate.policy);
      CHECK((candidate.considered || candidate.skipped.find("no FFT library") != std::string::npos));
      CHECK((candidate.first_call_seconds > 0 || !candidate.considered));
    }
  data.check_forward();
  data.check_backward_data();
  data.check_backward_filter();
}

// A second layer of the same shape takes the cached choice without timing; the first layer's next calls do
// not even ask the cache. clear_automatic_choices() makes the next new layer time again.
template <class T, class Exec>
void check_cache_hits(Exec exec) {
  start_clean(fftconv::automatic_mode::measure);
  const reference::layer L = tiny_image_layer();
  layer_data<2, T, Exec> data(exec, L, 12);
  fftconv::conv<2, T, fftconv::automatic> first(geometry_of<2>(L)), second(geometry_of<2>(L));
  data.forward(first, exec);
  CHECK(fftconv::automatic_choice_statistics().measurements == 1);
  CHECK(fftconv::automatic_choice_statistics().cache_hits == 0);
  for (int step = 0; step < 3; ++step) {
    data.forward(first, exec);
    data.backward_data(first, exec);
    data.backward_filter(first, exec);
  }
  data.forward(second, exec);
  data.backward_data(second, exec);
  data.backward_filter(second, exec);
  auto statistics = fftconv::automatic_choice_statistics();
  CHECK(statistics.measurements == 1);
  CHECK(statistics.cache_hits == 1);
  CHECK(second.choice().policy == first.choice().policy);
  data.check_forward();
  data.check_backward_data();
  data.check_backward_filter();

  // Another declared set of passes, or another batch, is another key.
  fftconv::conv<2, T, fftconv::automatic> frozen(geometry_of<2>(L));
  frozen.set_passes(fftconv::passes::frozen());
  data.forward(frozen, exec);
  CHECK(fftconv::automatic_choice_statistics().measurements == 2);

  fftconv::clear_automatic_choices();
  fftconv::conv<2, T, fftconv::automatic> third(geometry_of<2>(L));
  data.forward(third, exec);
  CHECK(fftconv::automatic_choice_statistics().measurements == 3);
  data.check_forward();
}

// save, clear, load: a new layer takes the loaded choice without timing; a malformed file changes nothing.
template <class T, class Exec>
void check_save_and_load(Exec exec, const std::string& path) {
  start_clean(fftconv::automatic_mode::measure);
  const reference::layer L = tiny_image_layer();
  layer_data<2, T, Exec> data(exec, L, 13);
  fftconv::conv<2, T, fftconv::automatic> first(geometry_of<2>(L));
  data.forward(first, exec);
  const std::string picked = first.choice().policy;
  CHECK(fftconv::save_automatic_choices(path) == 1);
  fftconv::clear_automatic_choices();
  fftconv::reset_automatic_choice_statistics();
  CHECK(fftconv::load_automatic_choices(path) == 1);
  fftconv::conv<2, T, fftconv::automatic> second(geometry_of<2>(L));
  data.forward(second, exec);
  CHECK(fftconv::automatic_choice_statistics().measurements == 0);
  CHECK(fftconv::automatic_choice_statistics().cache_hits == 1);
  CHECK(second.choice().policy == picked);
  CHECK(second.choice().reason.find("loaded from") != std::string::npos);
  data.check_forward();

  {
    std::ofstream broken(path, std::ios::trunc);
    broken << "fftconv-automatic-choices 1\nN=2 | winograd | measure | made up\n";
  }
  fftconv::clear_automatic_choices();
  CHECK_THROWS_AS(fftconv::load_automatic_choices(path), fftconv::invalid_argument);
  {
    std::ofstream broken(path, std::ios::trunc);
    broken << "not a choices file\n";
  }
  CHECK_THROWS_AS(fftconv::load_automatic_choices(path), fftconv::invalid_argument);
  CHECK_THROWS_AS(fftconv::load_automatic_choices(path + ".missing"), fftconv::invalid_argument);
  std::remove(path.c_str());
  fftconv::conv<2, T, fftconv::automatic> third(geometry_of<2>(L));
  data.forward(third, exec);
  CHECK(fftconv::automatic_choice_statistics().measurements == 1);  // nothing was loaded by the broken files
}

// Several threads, each with its own layer (and executor), ask for one key at once: one of them times it, the
// others wait for that choice; every result is right.
template <class T, class Exec, class MakeExecutor>
void check_concurrent_first_calls(MakeExecutor make_executor, int threads) {
  start_clean(fftconv::automatic_mode::measure);
  const reference::layer L = tiny_image_layer();
  std::vector<std::string> picks(threads);
  std::vector<double> errors(threads, 1.0);
  std::atomic<int> ready{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto executor_holder = make_executor();
      const Exec exec = executor_holder.executor();
      layer_data<2, T, Exec> data(exec, L, 20);
      fftconv::conv<2, T, fftconv::automatic> layer(geometry_of<2>(L));
      ++ready;
      while (ready.load() < threads) std::this_thread::yield();
      data.forward(layer, exec);
      fftconv::detail::backend<Exec>::synchronize(exec);
      picks[t] = layer.choice().policy;
      errors[t] = relative_l2(data.y.read(), reference::forward(L, data.x_values, data.w_values, &data.bias_values));
    });
  for (auto& worker : workers) worker.join();
  const auto statistics = fftconv::automatic_choice_statistics();
  CHECK(statistics.measurements == 1);
  CHECK(statistics.cache_hits == static_cast<std::uint64_t>(threads - 1));
  for (int t = 0; t < threads; ++t) {
    INFO("thread ", t);
    CHECK(picks[t] == picks[0]);
    CHECK(errors[t] <= tolerance<T>::forward);
  }
}

// fft's transform frame for this layer is over 2^21 points per dim (a dilated kernel spanning 2^21 + 1 over
// padding) on 128 channels: its staging alone is over 2^51 bytes, beyond any address space, while naive and
// im2col see 4x4 outputs of a 2x2 kernel. Exhaustive mode (measure mode would not even time a candidate the
// model rules out) skips fft with the reason kept; the calls succeed.
template <class T, class Exec>
void check_candidate_out_of_memory(Exec exec) {
  start_clean(fftconv::automatic_mode::exhaustive);
  const std::int64_t dilation = std::int64_t{1} << 21;
  reference::layer L = make_layer(2, 1, {.in_channels = 128, .out_channels = 2, .input = {4, 4}, .kernel = {2, 2},
                                         .padding = {dilation / 2, dilation / 2}, .stride = {1, 1},
                                         .dilation = {dilation, dilation}});
  REQUIRE(L.output()[0] == 4);
  layer_data<2, T, Exec> data(exec, L, 30);
  fftconv::conv<2, T, fftconv::automatic> layer(geometry_of<2>(L));
  data.forward(layer, exec);
  data.backward_data(layer, exec);
  data.backward_filter(layer, exec);
  const fftconv::automatic_choice& choice = layer.choice();
  INFO(describe(choice));
  CHECK((choice.policy == "naive" || choice.policy == "im2col"));
  REQUIRE(choice.candidates.size() == 3);
  CHECK(choice.candidates[2].policy == "fft");
  CHECK(choice.candidates[2].skipped.find("out of memory") != std::string::npos);
  CHECK(choice.reason.find("out of memory") != std::string::npos);
  data.check_forward();
  data.check_backward_data();
  data.check_backward_filter();
}

// A workspace limit the FFT policy cannot run under (1 byte) on a layer that is otherwise fft's: measure mode
// skips fft with workspace_limit_exceeded's message kept (then times what the model had ruled out), the
// heuristic rules it out or falls back at run time; every call succeeds and is right.
template <class T, class Exec>
void check_workspace_limit(Exec exec, fftconv::automatic_mode mode) {
  start_clean(mode);
  const reference::layer L = make_layer(2, 1, {.input = {64, 64}, .kernel = {25, 25}, .stride = {1, 1}, .dilation = {1, 1}});
  layer_data<2, T, Exec> data(exec, L, 70);
  fftconv::conv<2, T, fftconv::automatic> unlimited(geometry_of<2>(L)), limited(geometry_of<2>(L));
  data.forward(unlimited, exec);
  INFO("unlimited: ", describe(unlimited.choice()));
  CHECK(unlimited.choice().policy == "fft");
  limited.set_workspace_limit(1);
  data.forward(limited, exec);
  data.backward_data(limited, exec);
  data.backward_filter(limited, exec);
  const fftconv::automatic_choice& choice = limited.choice();
  INFO("limited: ", describe(choice));
  CHECK(choice.policy != "fft");
  if (mode != fftconv::automatic_mode::heuristic) {
    REQUIRE(choice.candidates.size() == 3);
    CHECK(choice.candidates[2].skipped.find("workspace") != std::string::npos);
  }
  data.check_forward();
  data.check_backward_data();
  data.check_backward_filter();
}

// The scratch-pointer trap. The first call of a training layer is backward_data, so the timing runs its
// forward and backward_filter on a synthetic x: fft's X̂ is then tagged with the synthetic buffer's address.
// That buffer is freed before the call returns, and the caller's x, allocated next with the same size, may
// well get the same address; a surviving X̂ would then pass for the caller's and dw would be wrong. The layer
// (1->1, 150², k=51) is fft's, so the winner is the policy with cached maps.
template <class T, class Exec>
void check_scratch_pointer_trap(Exec exec) {
  start_clean(fftconv::automatic_mode::measure);
  const reference::layer L = large_kernel_layer();
  fftconv::conv<2, T, fftconv::automatic> layer(geometry_of<2>(L));
  const auto dy_values = random_values(L.y_size(), 41), w_values = random_values(L.w_size(), 42);
  test_buffer<T, Exec> dy(exec, dy_values), w(exec, w_values), dx(exec, L.x_size());
  const auto x_extents = extents<2>(L.batch, L.in_channels, L.input);
  const auto y_extents = extents<2>(L.batch, L.out_channels, L.output());
  const auto w_extents = extents<2>(L.out_channels, L.in_channels, L.kernel);
  layer.backward_data(exec, fftconv::make_view<const T, 4>(dy.data(), y_extents),
                      fftconv::make_view<const T, 4>(w.data(), w_extents), fftconv::make_view<T, 4>(dx.data(), x_extents));
  INFO(describe(layer.choice()));
  CHECK(layer.choice().policy == "fft");
  CHECK(relative_l2(dx.read(), reference::backward_data(L, dy_values, w_values)) <= tolerance<T>::data);

  // Now the caller's x (allocated after the scratch was freed) and backward_filter.
  const auto x_values = random_values(L.x_size(), 43);
  test_buffer<T, Exec> x(exec, x_values), dw(exec, L.w_size());
  const auto* fft_state = layer.implementation().template candidate_state<fftconv::fft>();
  REQUIRE(fft_state != nullptr);
  const auto before = fft_state->transform_counts();
  layer.backward_filter(exec, fftconv::make_view<const T, 4>(x.data(), x_extents),
                        fftconv::make_view<const T, 4>(dy.data(), y_extents), fftconv::make_view<T, 4>(dw.data(), w_extents),
                        nullptr);
  const auto after = fft_state->transform_counts();
  CHECK(after.forward - before.forward == 1);  // X̂ of the caller's x; dŶ reused from backward_data
  CHECK(relative_l2(dw.read(), reference::backward_filter(L, x_values, dy_values)) <= tolerance<T>::filter);
}

// The functional form decides per pass: each of its calls declares its one pass, so three keys are decided.
template <class T, class Exec>
void check_functional_per_pass(Exec exec) {
  start_clean(fftconv::automatic_mode::heuristic);
  const reference::layer L = tiny_image_layer();
  layer_data<2, T, Exec> data(exec, L, 50);
  const auto g = geometry_of<2>(L);
  fftconv::forward<fftconv::automatic>(exec, g, fftconv::make_view<const T, 4>(data.x.data(), data.x_extents()),
                                       fftconv::make_view<const T, 4>(data.w.data(), data.w_extents()), data.bias.data(),
                                       fftconv::make_view<T, 4>(data.y.data(), data.y_extents()));
  fftconv::backward_data<fftconv::automatic>(exec, g, fftconv::make_view<const T, 4>(data.dy.data(), data.y_extents()),
                                             fftconv::make_view<const T, 4>(data.w.data(), data.w_extents()),
                                             fftconv::make_view<T, 4>(data.dx.data(), data.x_extents()));
  fftconv::backward_filter<fftconv::automatic>(exec, g, fftconv::make_view<const T, 4>(data.x.data(), data.x_extents()),
                                               fftconv::make_view<const T, 4>(data.dy.data(), data.y_extents()),
                                               fftconv::make_view<T, 4>(data.dw.data(), data.w_extents()), data.db.data());
  CHECK(fftconv::automatic_choice_statistics().modelled == 3);
  data.check_forward();
  data.check_backward_data();
  data.check_backward_filter();
  fftconv::clear_functional_cache();
}

}  // namespace automatic_checks
