#pragma once
// fftconv::automatic, on any executor: the pick on layers where one policy is clearly best (both modes), the
// result of the call that triggered the timing, the process cache (hits do not re-time; clear, save, load),
// threads asking for one key at once, a candidate that runs out of memory, results that do not depend on
// where the timing's scratch was, and saved states: backward runs the algorithm that wrote the state.
// Included by test_automatic_host.cpp and test_automatic_device.cu.

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fftconv/fftconv.hpp>
#if defined(__CUDACC__)
#include "../support/device_buffer.cuh"
#endif

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

// Caller memory for a saved state (conv::saved_bytes bytes, aligned as forward asks), and its header read back.
template <class Exec>
class saved_memory;

template <>
class saved_memory<fftconv::host> {
 public:
  saved_memory(fftconv::host, std::size_t bytes)
      : bytes_(bytes), data_(static_cast<std::byte*>(::operator new(bytes, std::align_val_t{64}))) {}
  saved_memory(const saved_memory&) = delete;
  saved_memory& operator=(const saved_memory&) = delete;
  ~saved_memory() { ::operator delete(data_, std::align_val_t{64}); }
  fftconv::saved_state state() { return {data_, bytes_}; }
  fftconv::const_saved_state const_state() const { return {data_, bytes_}; }
  fftconv::detail::saved_header header() const {
    fftconv::detail::saved_header h{};
    std::memcpy(&h, data_, sizeof h);
    return h;
  }

 private:
  std::size_t bytes_;
  std::byte* data_;
};

#if defined(__CUDACC__)
template <>
class saved_memory<fftconv::device> {
 public:
  saved_memory(fftconv::device exec, std::size_t bytes) : exec_(exec), bytes_(bytes) {
    testing_support::expect_cuda(cudaMalloc(&data_, bytes), "cudaMalloc (saved state)");  // 256-byte aligned
  }
  saved_memory(const saved_memory&) = delete;
  saved_memory& operator=(const saved_memory&) = delete;
  ~saved_memory() {
    (void)cudaStreamSynchronize(exec_.stream);
    (void)cudaFree(data_);
    (void)cudaGetLastError();
  }
  fftconv::saved_state state() { return {static_cast<std::byte*>(data_), bytes_}; }
  fftconv::const_saved_state const_state() const { return {static_cast<const std::byte*>(data_), bytes_}; }
  fftconv::detail::saved_header header() const {
    fftconv::detail::saved_header h{};
    testing_support::expect_cuda(cudaMemcpyAsync(&h, data_, sizeof h, cudaMemcpyDeviceToHost, exec_.stream), "header");
    testing_support::expect_cuda(cudaStreamSynchronize(exec_.stream), "synchronize");
    return h;
  }

 private:
  fftconv::device exec_;
  std::size_t bytes_;
  void* data_ = nullptr;
};
#endif

// The algorithm a saved state's header names ("naive", "im2col", "fft").
template <class Exec>
std::string written_algorithm(const saved_memory<Exec>& saved) {
  return fftconv::to_string(static_cast<fftconv::algorithm>(saved.header().algorithm));
}

// Whether the automatic layer holds candidate `policy` now (created by a call that ran it).
template <class Layer>
bool holds_candidate(const Layer& layer, const std::string& policy) {
  const auto& impl = layer.implementation();
  if (policy == "naive") return impl.template candidate_state<fftconv::naive>() != nullptr;
  if (policy == "im2col") return impl.template candidate_state<fftconv::im2col>() != nullptr;
  if (policy == "vendor") return impl.template candidate_state<fftconv::vendor>() != nullptr;
  return impl.template candidate_state<fftconv::fft>() != nullptr;
}

// Whether a candidate was left out for what this build or element type lacks (no FFT library; vendor: no
// oneDNN / cuDNN, or oneDNN's missing double), rather than for anything about the layer.
inline bool unavailable_here(const fftconv::automatic_candidate& candidate) {
  return candidate.skipped.find("no FFT library") != std::string::npos ||
         candidate.skipped.find("built without") != std::string::npos ||
         candidate.skipped.find("has no double convolution") != std::string::npos;
}

// Which gradients a backward call asks for.
struct wanted {
  bool dx = true, dw = true, db = true;
};

inline std::string describe(const wanted& want) {
  return std::string(want.dx ? "dx " : "") + (want.dw ? "dw " : "") + (want.db ? "db" : "");
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
  void forward(Layer& layer, Exec exec, fftconv::saved_state saved = {}) {
    layer.forward(exec, fftconv::make_view<const T, N + 2>(x.data(), x_extents()),
                  fftconv::make_view<const T, N + 2>(w.data(), w_extents()), bias.data(),
                  fftconv::make_view<T, N + 2>(y.data(), y_extents()), saved);
  }
  // The combined backward (conv::backward) for the gradients `want` names.
  template <class Layer>
  void backward(Layer& layer, Exec exec, fftconv::const_saved_state saved, wanted want = {}) {
    fftconv::gradients<T, N + 2> out;
    if (want.dx) out.dx = fftconv::make_view<T, N + 2>(dx.data(), x_extents());
    if (want.dw) out.dw = fftconv::make_view<T, N + 2>(dw.data(), w_extents());
    if (want.db) out.dbias = db.data();
    layer.backward(exec, fftconv::make_view<const T, N + 2>(x.data(), x_extents()),
                   fftconv::make_view<const T, N + 2>(w.data(), w_extents()),
                   fftconv::make_view<const T, N + 2>(dy.data(), y_extents()), saved, out);
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
  // The gradients `want` names are right; the others were never written (still the sentinel).
  void check_backward(wanted want) {
    INFO("wanted: ", describe(want));
    const auto untouched = [](const std::vector<double>& values) {
      for (double v : values)
        if (v != testing_support::sentinel) return false;
      return true;
    };
    if (want.dx)
      CHECK(relative_l2(dx.read(), reference::backward_data(L, dy_values, w_values)) <= tolerance<T>::data);
    else
      CHECK(untouched(dx.read()));
    if (want.dw)
      CHECK(relative_l2(dw.read(), reference::backward_filter(L, x_values, dy_values)) <= tolerance<T>::filter);
    else
      CHECK(untouched(dw.read()));
    if (want.db)
      CHECK(relative_l2(db.read(), reference::backward_bias(L, dy_values)) <= tolerance<T>::filter);
    else
      CHECK(untouched(db.read()));
  }
};

// The algorithm a choice names as text, "" before the first call: the form the saved file uses.
inline std::string picked(const fftconv::automatic_choice& choice) {
  return choice.policy ? fftconv::to_string(*choice.policy) : "";
}

inline std::string describe(const fftconv::automatic_choice& choice) {
  std::string text = picked(choice) + " (" + choice.reason + ")";
  for (const auto& c : choice.candidates)
    text += "\n  " + std::string(fftconv::to_string(c.policy)) + ": total " + std::to_string(c.total_seconds * 1e3) + " ms" +
            (c.skipped.empty() ? "" : ", " + c.skipped);
  return text;
}

// A fresh cache and counters, and the mode under test as the process default.
inline void start_clean(fftconv::automatic_mode mode) {
  fftconv::clear_automatic_choices();
  fftconv::reset_automatic_choice_statistics();
  fftconv::set_default_automatic_mode(mode);
}

// The layer's pick is one of `allowed`, and a training step through the automatic layer (forward saving its
// state, one combined backward reading it) is right. The first forward is the call that triggers the timing:
// its y is the caller's result, and its saved state names the pick.
template <class T, class Exec>
void check_pick(Exec exec, const reference::layer& L, fftconv::automatic_mode mode,
                std::initializer_list<fftconv::algorithm> allowed) {
  start_clean(mode);
  layer_data<2, T, Exec> data(exec, L, 11);
  fftconv::conv<2, T, fftconv::automatic> layer(geometry_of<2>(L));
  CHECK(layer.choice().policy.has_value() == false);
  saved_memory<Exec> saved(exec, layer.saved_bytes(data.x_extents(), fftconv::keep::spectra,
                                                   fftconv::detail::backend<Exec>::on_device));
  data.forward(layer, exec, saved.state());
  data.backward(layer, exec, saved.const_state());
  const fftconv::automatic_choice& choice = layer.choice();
  INFO(testing_support::describe(L), " -> ", describe(choice));
  CHECK(written_algorithm(saved) == picked(choice));
  bool expected = false;
  for (fftconv::algorithm a : allowed) expected = expected || choice.policy == a;
  CHECK(expected);
  CHECK(choice.mode == mode);
  CHECK(!choice.reason.empty());
  const auto statistics = fftconv::automatic_choice_statistics();
  CHECK(statistics.measurements == (mode != fftconv::automatic_mode::heuristic ? 1u : 0u));
  CHECK(statistics.modelled == (mode == fftconv::automatic_mode::heuristic ? 1u : 0u));
  if (mode == fftconv::automatic_mode::exhaustive)  // every candidate timed (fft and vendor where they run)
    for (const auto& candidate : choice.candidates) {
      INFO(fftconv::to_string(candidate.policy));
      CHECK((candidate.considered || unavailable_here(candidate)));
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
  const std::string first_pick = picked(first.choice());
  CHECK(fftconv::save_automatic_choices(path) == 1);
  fftconv::clear_automatic_choices();
  fftconv::reset_automatic_choice_statistics();
  CHECK(fftconv::load_automatic_choices(path) == 1);
  fftconv::conv<2, T, fftconv::automatic> second(geometry_of<2>(L));
  data.forward(second, exec);
  CHECK(fftconv::automatic_choice_statistics().measurements == 0);
  CHECK(fftconv::automatic_choice_statistics().cache_hits == 1);
  CHECK(picked(second.choice()) == first_pick);
  CHECK(second.choice().reason.find("loaded from") != std::string::npos);
  data.check_forward();

  {
    std::ofstream broken(path, std::ios::trunc);
    broken << "fftconv-automatic-choices 2\nN=2 | winograd | measure | made up\n";
  }
  fftconv::clear_automatic_choices();
  CHECK_THROWS_AS(fftconv::load_automatic_choices(path), fftconv::invalid_argument);
  {
    std::ofstream older(path, std::ios::trunc);
    older << "fftconv-automatic-choices 1\nN=2 T=float batch=1 | im2col | measure | older\n";
  }
  CHECK_THROWS_WITH_AS(fftconv::load_automatic_choices(path), doctest::Contains("let the choices be measured again"),
                       fftconv::invalid_argument);
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
      picks[t] = picked(layer.choice());
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
  CHECK(choice.policy != fftconv::algorithm::fft);  // naive, im2col or (where it runs) vendor
  REQUIRE(choice.candidates.size() == fftconv::algorithm_count);
  CHECK(choice.candidates[2].policy == fftconv::algorithm::fft);
  CHECK(choice.candidates[2].skipped.find("out of memory") != std::string::npos);
  CHECK(choice.reason.find("out of memory") != std::string::npos);
  data.check_forward();
  data.check_backward_data();
  data.check_backward_filter();
}

// A workspace limit the FFT policy cannot run under (1 byte) on a layer that is otherwise fft's: measure mode
// skips fft with workspace_limit_exceeded's message kept (then times what the model had ruled out), the
// heuristic rules it out or falls back at run time; every call succeeds and is right, with a saved state too
// (header only: fft, the one policy that saves spectra, cannot run under the limit).
template <class T, class Exec>
void check_workspace_limit(Exec exec, fftconv::automatic_mode mode) {
  start_clean(mode);
  const reference::layer L = make_layer(2, 1, {.input = {64, 64}, .kernel = {25, 25}, .stride = {1, 1}, .dilation = {1, 1}});
  layer_data<2, T, Exec> data(exec, L, 70);
  fftconv::conv<2, T, fftconv::automatic> unlimited(geometry_of<2>(L)), limited(geometry_of<2>(L));
  data.forward(unlimited, exec);
  INFO("unlimited: ", describe(unlimited.choice()));
  CHECK(unlimited.choice().policy == fftconv::algorithm::fft);
  limited.set_workspace_limit(1);
  const bool on_device = fftconv::detail::backend<Exec>::on_device;
  const std::size_t saved_bytes = limited.saved_bytes(data.x_extents(), fftconv::keep::spectra, on_device);
  CHECK(saved_bytes == fftconv::detail::saved_header_bytes);
  saved_memory<Exec> saved(exec, saved_bytes);
  data.forward(limited, exec, saved.state());
  data.backward(limited, exec, saved.const_state());
  const fftconv::automatic_choice& choice = limited.choice();
  INFO("limited: ", describe(choice));
  CHECK(choice.policy != fftconv::algorithm::fft);
  CHECK(written_algorithm(saved) == picked(choice));
  if (mode != fftconv::automatic_mode::heuristic) {
    REQUIRE(choice.candidates.size() == fftconv::algorithm_count);
    CHECK(choice.candidates[2].skipped.find("workspace") != std::string::npos);
  }
  data.check_forward();
  data.check_backward_data();
  data.check_backward_filter();
}

// No result depends on where the timing's scratch was. The first call of a training layer is backward_data, so
// the timing runs forward and backward on a synthetic x (and scratch saved state) that is freed before the call
// returns; the caller's x, allocated next with the same size, may well get the same address. backward_filter on
// it must read the caller's x. The layer (1->1, 150², k=51) is fft's, the policy that once tagged its spectra
// with data pointers.
template <class T, class Exec>
void check_no_address_dependence(Exec exec) {
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
  CHECK(layer.choice().policy == fftconv::algorithm::fft);
  CHECK(relative_l2(dx.read(), reference::backward_data(L, dy_values, w_values)) <= tolerance<T>::data);

  // Now the caller's x (allocated after the scratch was freed) and backward_filter.
  const auto x_values = random_values(L.x_size(), 43);
  test_buffer<T, Exec> x(exec, x_values), dw(exec, L.w_size());
  layer.backward_filter(exec, fftconv::make_view<const T, 4>(x.data(), x_extents),
                        fftconv::make_view<const T, 4>(dy.data(), y_extents), fftconv::make_view<T, 4>(dw.data(), w_extents),
                        nullptr);
  CHECK(relative_l2(dw.read(), reference::backward_filter(L, x_values, dy_values)) <= tolerance<T>::filter);
}

// Weights declared constant: the FFT policy keeps Ŵ until weights_changed(). The layer's first call is
// backward_filter, which carries no w, so the timing's forward runs on synthetic weights; the winner (fft on
// this layer) must not keep their Ŵ for the caller's forward.
template <class T, class Exec>
void check_constant_weights_after_timing(Exec exec) {
  start_clean(fftconv::automatic_mode::measure);
  const reference::layer L = large_kernel_layer();
  layer_data<2, T, Exec> data(exec, L, 60);
  fftconv::conv<2, T, fftconv::automatic> layer(geometry_of<2>(L));
  layer.set_weights_constant(true);
  data.backward_filter(layer, exec);
  INFO(describe(layer.choice()));
  CHECK(layer.choice().policy == fftconv::algorithm::fft);
  data.check_backward_filter();
  data.forward(layer, exec);
  data.check_forward();
}

// A saved state names the algorithm that wrote it, and backward runs that algorithm whatever the reading layer
// would choose itself. A writer layer (heuristic) picks one of `model_picks` and saves its state; a reader
// layer of the same shape is pinned to another algorithm through a loaded choices file (as a user would pin
// one). The reader's backward with the writer's state runs the writer's algorithm (only that candidate
// exists in the reader afterwards) and is right; without a state it runs its own pinned choice and is right.
// Both keeps: spectra (fft's X̂ and Ŵ in the payload) and none (a header only).
template <class T, class Exec>
void check_saved_state_read_by_its_producer(Exec exec, const reference::layer& L,
                                            std::initializer_list<fftconv::algorithm> model_picks, const std::string& path) {
  const bool on_device = fftconv::detail::backend<Exec>::on_device;
  // keep::none first: backward gets x and w then, so a reader that ignored the state would fail the checks
  // rather than read null inputs.
  for (fftconv::keep kept : {fftconv::keep::none, fftconv::keep::spectra}) {
    INFO(testing_support::describe(L), ", keep ", kept == fftconv::keep::spectra ? "spectra" : "none");
    start_clean(fftconv::automatic_mode::heuristic);
    layer_data<2, T, Exec> written(exec, L, 80);
    fftconv::conv<2, T, fftconv::automatic> writer(geometry_of<2>(L));
    saved_memory<Exec> saved(exec, writer.saved_bytes(written.x_extents(), kept, on_device));
    written.forward(writer, exec, saved.state());
    const std::string producer = picked(writer.choice());
    INFO("writer: ", describe(writer.choice()));
    bool expected = false;
    for (fftconv::algorithm a : model_picks) expected = expected || producer == fftconv::to_string(a);
    REQUIRE(expected);
    CHECK(written_algorithm(saved) == producer);
    written.check_forward();

    // Pin the reader's own choice for this key to another algorithm.
    const std::string pinned = producer == "fft" ? "im2col" : "fft";
    REQUIRE(fftconv::save_automatic_choices(path) == 1);
    std::stringstream lines;
    {
      std::ifstream in(path);
      lines << in.rdbuf();
    }
    std::string text = lines.str();
    const std::string from = " | " + producer + " | ", to = " | " + pinned + " | ";
    const std::size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    {
      std::ofstream out(path, std::ios::trunc);
      out << text;
    }
    fftconv::clear_automatic_choices();
    REQUIRE(fftconv::load_automatic_choices(path) == 1);
    std::remove(path.c_str());

    fftconv::conv<2, T, fftconv::automatic> reader(geometry_of<2>(L));
    layer_data<2, T, Exec> read(exec, L, 80);  // the same seeded tensors, fresh outputs
    read.backward(reader, exec, saved.const_state());
    CHECK(holds_candidate(reader, producer));
    CHECK_FALSE(holds_candidate(reader, pinned));
    read.check_backward({});

    layer_data<2, T, Exec> again(exec, L, 80);
    again.backward(reader, exec, {});
    INFO("reader: ", describe(reader.choice()));
    CHECK(picked(reader.choice()) == pinned);
    CHECK(holds_candidate(reader, pinned));
    again.check_backward({});
  }
  fftconv::clear_automatic_choices();
}

// Without a saved state the combined backward chooses for the layer's passes (here it is the layer's first
// call, so it triggers the choice, timed or modelled) and computes exactly the gradients asked for; standalone
// backward_data and backward_filter agree.
template <class T, class Exec>
void check_backward_without_saved_state(Exec exec, const reference::layer& L, fftconv::automatic_mode mode) {
  for (wanted want : {wanted{true, true, true}, wanted{true, false, false}, wanted{false, true, false},
                      wanted{false, true, true}, wanted{false, false, true}, wanted{true, false, true}}) {
    start_clean(mode);
    layer_data<2, T, Exec> data(exec, L, 90);
    fftconv::conv<2, T, fftconv::automatic> layer(geometry_of<2>(L));
    data.backward(layer, exec, {}, want);
    INFO(testing_support::describe(L), " -> ", describe(layer.choice()));
    data.check_backward(want);
  }
  start_clean(mode);
  layer_data<2, T, Exec> data(exec, L, 91);
  fftconv::conv<2, T, fftconv::automatic> layer(geometry_of<2>(L));
  data.backward_filter(layer, exec);
  data.backward_data(layer, exec);
  data.check_backward_data();
  data.check_backward_filter();
}

// saved_bytes is the FFT policy's wherever fft is a candidate (which candidate writes is known only at the
// call), for both keeps, and depends on nothing but the shape and the declared settings.
template <class T, class Exec>
void check_saved_bytes(Exec exec, const reference::layer& L) {
  (void)exec;
  const bool on_device = fftconv::detail::backend<Exec>::on_device;
  fftconv::conv<2, T, fftconv::automatic> automatic(geometry_of<2>(L));
  fftconv::conv<2, T, fftconv::fft> fixed(geometry_of<2>(L));
  const auto x_extents = extents<2>(L.batch, L.in_channels, L.input);
  for (fftconv::keep kept : {fftconv::keep::spectra, fftconv::keep::none})
    CHECK(automatic.saved_bytes(x_extents, kept, on_device) == fixed.saved_bytes(x_extents, kept, on_device));
  CHECK(automatic.saved_bytes(x_extents, fftconv::keep::spectra, on_device) > fftconv::detail::saved_header_bytes);
  CHECK(automatic.saved_bytes(x_extents, fftconv::keep::none, on_device) == fftconv::detail::saved_header_bytes);
  // A declared limit is a setting of both.
  automatic.set_workspace_limit(std::size_t{1} << 30);
  fixed.set_workspace_limit(std::size_t{1} << 30);
  CHECK(automatic.saved_bytes(x_extents, fftconv::keep::spectra, on_device) ==
        fixed.saved_bytes(x_extents, fftconv::keep::spectra, on_device));
}

// workspace_bytes(x extents, passes) is what the layer holds after a step (forward with a saved state, one
// backward): before the first call the chosen candidate's figure when the model decides, a bound over the
// candidates when it will be measured; after the step, exactly what the layer holds.
template <class T>
void check_workspace_prediction(const reference::layer& L, fftconv::automatic_mode mode) {
  start_clean(mode);
  const fftconv::host exec{};
  layer_data<2, T, fftconv::host> data(exec, L, 21);
  fftconv::conv<2, T, fftconv::automatic> layer(geometry_of<2>(L));
  const std::size_t before = layer.workspace_bytes(data.x_extents());
  saved_memory<fftconv::host> saved(exec, layer.saved_bytes(data.x_extents()));
  data.forward(layer, exec, saved.state());
  data.backward(layer, exec, saved.const_state());
  INFO(testing_support::describe(L), " -> ", describe(layer.choice()), "; predicted ", before, ", held ",
       layer.workspace_bytes());
  CHECK(layer.workspace_bytes(data.x_extents()) == layer.workspace_bytes());
  if (mode == fftconv::automatic_mode::heuristic)
    CHECK(before == layer.workspace_bytes());
  else
    CHECK(before >= layer.workspace_bytes());
  if (layer.choice().policy != fftconv::algorithm::naive) CHECK(layer.workspace_bytes() > 0);
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
