#pragma once
// Executor-generic checks of the FFT policy, run on the host and (with a GPU) on the device: the transform
// counts of a training step (X̂ and Ŵ reused from the saved state, dŶ transformed once for dx and dw), passes
// that read their own arguments whatever came before (weights changed in place, other x / dy), the
// stale-weights contract of set_weights_constant, shape changes, workspace accounting, and several threads
// sharing the process-wide plan cache.

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <fftconv/fftconv.hpp>

#include "../support/layer_views.hpp"
#include "../support/random_layer.hpp"
#include "../support/reference.hpp"
#include "../support/test_buffer.hpp"
#include "../support/tolerance.hpp"

namespace fft_checks {

using testing_support::extents;
using testing_support::geometry_of;
using testing_support::relative_l2;
using testing_support::test_buffer;
using testing_support::tolerance;

// Groups, padding, stride and dilation differing per dim, and a bias: every staging and crop branch.
inline reference::layer strided_grouped_layer(int rank, std::int64_t batch) {
  return testing_support::make_layer(rank, batch,
                                     {.in_channels = 4, .out_channels = 6, .groups = 2,
                                      .input = {rank == 1 ? 37 : 13, 9, 6}, .kernel = {3, 2, 3},
                                      .padding = {2, 1, 0}, .stride = {2, 1, 2}, .dilation = {1, 2, 1}});
}

// One layer object with its data in the executor's memory; each call checks its output against the reference.
template <int N, class T, class Exec>
struct session {
  Exec exec;
  reference::layer L;
  fftconv::conv<N, T, fftconv::fft> layer;
  std::vector<double> x_values, w_values, bias_values, dy_values;
  test_buffer<T, Exec> x, w, bias, dy, y, dx, dw, db;
  typename fftconv::detail::backend<Exec>::template buffer<unsigned char> saved;

  session(Exec e, const reference::layer& l, std::uint64_t seed)
      : exec(e), L(l), layer(geometry_of<N>(l)),
        x_values(testing_support::random_values(l.x_size(), seed + 1)),
        w_values(testing_support::random_values(l.w_size(), seed + 2)),
        bias_values(testing_support::random_values(l.out_channels, seed + 3)),
        dy_values(testing_support::random_values(l.y_size(), seed + 4)),
        x(e, x_values), w(e, w_values), bias(e, bias_values), dy(e, dy_values), y(e, l.y_size()), dx(e, l.x_size()),
        dw(e, l.w_size()), db(e, l.out_channels) {}

  auto x_extents() const { return extents<N>(L.batch, L.in_channels, L.input); }
  auto y_extents() const { return extents<N>(L.batch, L.out_channels, L.output()); }
  auto w_extents() const { return extents<N>(L.out_channels, L.in_channels / L.groups, L.kernel); }
  template <class U>
  static auto const_view(U* p, const std::array<std::int64_t, N + 2>& e) {
    return fftconv::make_view<const T, N + 2>(p, e);
  }

  // The passes on given buffers (default: the session's own).
  void forward(T* x_data = nullptr) {
    layer.forward(exec, const_view(x_data ? x_data : x.data(), x_extents()), const_view(w.data(), w_extents()),
                  bias.data(), fftconv::make_view<T, N + 2>(y.data(), y_extents()));
  }
  void backward_data(T* dy_data = nullptr) {
    layer.backward_data(exec, const_view(dy_data ? dy_data : dy.data(), y_extents()),
                        const_view(w.data(), w_extents()), fftconv::make_view<T, N + 2>(dx.data(), x_extents()));
  }
  // A training step's passes: forward saves X̂ and Ŵ, backward reuses them and transforms dy once.
  // Sized at the call: the layer's settings (tile extents, workspace limit) decide the saved bytes.
  std::span<std::byte> saved_state() {
    const std::size_t bytes =
        layer.saved_bytes(x_extents(), fftconv::keep::spectra, fftconv::detail::backend<Exec>::on_device);
    if (saved.size() != bytes) saved = fftconv::detail::backend<Exec>::template allocate<unsigned char>(exec, bytes);
    return {reinterpret_cast<std::byte*>(saved.data()), saved.size()};
  }
  void forward_saved() {
    layer.forward(exec, const_view(x.data(), x_extents()), const_view(w.data(), w_extents()), bias.data(),
                  fftconv::make_view<T, N + 2>(y.data(), y_extents()), saved_state());
  }
  void backward_saved() {
    layer.backward(exec, const_view(x.data(), x_extents()), const_view(w.data(), w_extents()),
                   const_view(dy.data(), y_extents()), saved_state(),
                   {.dx = fftconv::make_view<T, N + 2>(dx.data(), x_extents()),
                    .dw = fftconv::make_view<T, N + 2>(dw.data(), w_extents()), .dbias = db.data()});
  }
  void backward_filter(T* x_data = nullptr, T* dy_data = nullptr) {
    layer.backward_filter(exec, const_view(x_data ? x_data : x.data(), x_extents()),
                          const_view(dy_data ? dy_data : dy.data(), y_extents()),
                          fftconv::make_view<T, N + 2>(dw.data(), w_extents()), db.data());
  }

  double forward_error(const std::vector<double>& xv, const std::vector<double>& wv) const {
    return relative_l2(y.read(), reference::forward(L, xv, wv, &bias_values));
  }
  double data_error(const std::vector<double>& dyv, const std::vector<double>& wv) const {
    return relative_l2(dx.read(), reference::backward_data(L, dyv, wv));
  }
  double filter_error(const std::vector<double>& xv, const std::vector<double>& dyv) const {
    return relative_l2(dw.read(), reference::backward_filter(L, xv, dyv));
  }
  double bias_error(const std::vector<double>& dyv) const {
    return relative_l2(db.read(), reference::backward_bias(L, dyv));
  }

  fftconv::detail::transform_counts counts() const { return layer.implementation().transform_counts(); }
};

// Writes new values into a buffer's existing allocation (same pointer), as an optimizer step does to weights.
template <class T, class Exec>
void write_in_place(Exec exec, test_buffer<T, Exec>& buffer, const std::vector<double>& values) {
  test_buffer<T, Exec> staged(exec, values);
  fftconv::detail::backend<Exec>::copy(exec, buffer.data(), staged.data(), static_cast<std::int64_t>(values.size()));
  fftconv::detail::backend<Exec>::synchronize(exec);
}

inline fftconv::detail::transform_counts counts(std::int64_t forward, std::int64_t inverse) {
  return {forward, inverse};
}

// A training step (forward saving its spectra, one combined backward) is 3 forward + 3 inverse transforms, and
// each result is right; the separate passes, without a saved state, transform what each needs.
template <int N, class T, class Exec>
void check_step_counts(Exec exec) {
  session<N, T, Exec> s(exec, strided_grouped_layer(N, 2), 10 + N);
  CHECK(s.counts() == counts(0, 0));
  s.forward_saved();
  CHECK(s.counts() == counts(2, 1));  // X̂, Ŵ; y
  CHECK(s.forward_error(s.x_values, s.w_values) <= tolerance<T>::forward);
  s.backward_saved();
  CHECK(s.counts() == counts(3, 3));  // + dŶ; dx, dw (X̂ and Ŵ from the saved state)
  CHECK(s.data_error(s.dy_values, s.w_values) <= tolerance<T>::data);
  CHECK(s.filter_error(s.x_values, s.dy_values) <= tolerance<T>::filter);
  CHECK(s.bias_error(s.dy_values) <= tolerance<T>::filter);
  // The next step transforms x, w and dy again: weights and gradients changed in between.
  s.forward_saved();
  s.backward_saved();
  CHECK(s.counts() == counts(6, 6));
  // Separate passes, no saved state: forward X̂, Ŵ; backward_data Ŵ, dŶ; backward_filter X̂, dŶ.
  s.layer.implementation().reset_transform_counts();
  s.forward();
  s.backward_data();
  s.backward_filter();
  CHECK(s.counts() == counts(6, 3));
  CHECK(s.data_error(s.dy_values, s.w_values) <= tolerance<T>::data);
  CHECK(s.filter_error(s.x_values, s.dy_values) <= tolerance<T>::filter);
}

// Correct by default: weights changed in place between forwards give the new answer with no extra call.
template <int N, class T, class Exec>
void check_weights_changed_in_place(Exec exec) {
  session<N, T, Exec> s(exec, strided_grouped_layer(N, 1), 20 + N);
  s.forward();
  const auto new_w = testing_support::random_values(s.L.w_size(), 99);
  T* const w_pointer = s.w.data();
  write_in_place(exec, s.w, new_w);  // new contents; the conv object is told nothing
  REQUIRE(s.w.data() == w_pointer);
  s.forward();
  CHECK(s.forward_error(s.x_values, new_w) <= tolerance<T>::forward);
  CHECK(s.counts() == counts(4, 2));
}

// set_weights_constant(true) keeps Ŵ: an in-place change without weights_changed() gives the OLD answer
// (the documented trap); after weights_changed() the new one.
template <int N, class T, class Exec>
void check_constant_weights(Exec exec) {
  session<N, T, Exec> s(exec, strided_grouped_layer(N, 2), 30 + N);
  s.layer.set_weights_constant(true);
  s.forward();
  CHECK(s.counts() == counts(2, 1));
  s.forward();
  CHECK(s.counts() == counts(3, 2));  // x only: Ŵ kept
  const auto old_w = s.w_values;
  const auto new_w = testing_support::random_values(s.L.w_size(), 77);
  T* const w_pointer = s.w.data();
  write_in_place(exec, s.w, new_w);
  REQUIRE(s.w.data() == w_pointer);
  s.forward();
  CHECK(s.forward_error(s.x_values, old_w) <= tolerance<T>::forward);  // stale, as documented
  CHECK(s.forward_error(s.x_values, new_w) > 1e-2);
  s.layer.weights_changed();
  s.forward();
  CHECK(s.forward_error(s.x_values, new_w) <= tolerance<T>::forward);
  CHECK(s.counts() == counts(6, 4));
  s.layer.set_weights_constant(false);
  s.forward();
  CHECK(s.counts() == counts(8, 5));  // every forward recomputes Ŵ again
}

// Each pass reads its own arguments, whatever the passes before it saw: other x and dy at other addresses, and
// new contents at the same ones.
template <int N, class T, class Exec>
void check_mismatched_inputs(Exec exec) {
  session<N, T, Exec> s(exec, strided_grouped_layer(N, 2), 40 + N);
  const auto other_x_values = testing_support::random_values(s.L.x_size(), 41);
  const auto other_dy_values = testing_support::random_values(s.L.y_size(), 42);
  test_buffer<T, Exec> other_x(exec, other_x_values), other_dy(exec, other_dy_values);
  s.forward();
  s.backward_data();
  s.backward_filter(other_x.data(), nullptr);
  CHECK(s.filter_error(other_x_values, s.dy_values) <= tolerance<T>::filter);
  s.backward_filter(other_x.data(), other_dy.data());
  CHECK(s.filter_error(other_x_values, other_dy_values) <= tolerance<T>::filter);
  CHECK(s.bias_error(other_dy_values) <= tolerance<T>::filter);
  s.backward_data();
  CHECK(s.data_error(s.dy_values, s.w_values) <= tolerance<T>::data);
  // New dy contents at the same address after a backward_data: the next backward_filter reads them.
  write_in_place(exec, s.dy, other_dy_values);
  s.backward_filter();
  CHECK(s.filter_error(s.x_values, other_dy_values) <= tolerance<T>::filter);
  write_in_place(exec, s.x, other_x_values);
  s.backward_filter();
  CHECK(s.filter_error(other_x_values, other_dy_values) <= tolerance<T>::filter);
  // backward passes without any forward: everything from scratch, and right.
  session<N, T, Exec> fresh(exec, strided_grouped_layer(N, 1), 50 + N);
  fresh.backward_filter();
  fresh.backward_data();
  CHECK(fresh.counts() == counts(4, 2));  // X̂, dŶ; dw; Ŵ, dŶ; dx
  CHECK(fresh.filter_error(fresh.x_values, fresh.dy_values) <= tolerance<T>::filter);
  CHECK(fresh.data_error(fresh.dy_values, fresh.w_values) <= tolerance<T>::data);
}

// One object across batch sizes and spatial extents (e.g. a last, smaller minibatch) replans and stays right.
template <int N, class T, class Exec>
void check_shape_changes(Exec exec) {
  reference::layer L = strided_grouped_layer(N, 3);
  fftconv::conv<N, T, fftconv::fft> layer(geometry_of<N>(L));
  for (const std::int64_t batch : {3, 1, 3}) {
    for (const std::int64_t grow : {0, 4}) {
      reference::layer M = L;
      M.batch = batch;
      for (auto& n : M.input) n += grow;
      CAPTURE(batch);
      CAPTURE(grow);
      const auto xv = testing_support::random_values(M.x_size(), 60 + batch + grow);
      const auto wv = testing_support::random_values(M.w_size(), 61);
      test_buffer<T, Exec> x(exec, xv), w(exec, wv), y(exec, M.y_size());
      layer.forward(exec, fftconv::make_view<const T, N + 2>(x.data(), extents<N>(M.batch, M.in_channels, M.input)),
                    fftconv::make_view<const T, N + 2>(w.data(), extents<N>(M.out_channels, 2, M.kernel)), nullptr,
                    fftconv::make_view<T, N + 2>(y.data(), extents<N>(M.batch, M.out_channels, M.output())));
      CHECK(relative_l2(y.read(), reference::forward(M, xv, wv, nullptr)) <= tolerance<T>::forward);
    }
  }
}

// workspace_bytes() counts the spectra the layer holds at the planned tiling, exactly as workspace_bytes(x
// extents, passes, keep) predicts, and no more than the cost model's step bound; the frame holds one tile and
// its halo, 7-smooth.
template <int N, class T, class Exec>
void check_workspace(Exec exec) {
  session<N, T, Exec> s(exec, strided_grouped_layer(N, 2), 70 + N);
  CHECK(s.layer.workspace_bytes() == 0);
  const auto p0 = fftconv::detail::make_problem<N>(geometry_of<N>(s.L), s.L.batch, [&] {
    std::array<std::int64_t, N> spatial{};
    for (int d = 0; d < N; ++d) spatial[d] = s.L.input[d];
    return spatial;
  }());
  const std::size_t predicted_step = s.layer.implementation().predicted_workspace_bytes(p0);
  s.forward();
  s.backward_data();
  s.backward_filter();
  const auto* plan = s.layer.implementation().template current_plan<Exec>();
  REQUIRE(plan != nullptr);
  const auto& choice = plan->choice();
  std::array<std::int64_t, N> spatial{};
  for (int d = 0; d < N; ++d) spatial[d] = s.L.input[d];
  const auto p = fftconv::detail::make_problem<N>(geometry_of<N>(s.L), s.L.batch, spatial);
  const auto bytes = fftconv::detail::bytes_of<N>(p, choice.layout, sizeof(T));
  CHECK(s.layer.workspace_bytes() >= static_cast<std::size_t>(bytes.spectra));
  if constexpr (!fftconv::detail::backend<Exec>::on_device) {  // cuFFT's work area is not part of the prediction
    // Separate passes without a saved state hold X̂ and dŶ over all rows and Ŵ: exactly the prediction for
    // passes declared without a forward-to-backward state, and within the cost model's step bound.
    CHECK(s.layer.workspace_bytes() == s.layer.workspace_bytes(s.x_extents(), fftconv::passes::training(),
                                                                fftconv::keep::none));
    // The bound leaves out the host products' fixed per-thread packing scratch.
    CHECK(s.layer.workspace_bytes() <=
          predicted_step + fftconv::detail::spectral_packing_count<T>() * sizeof(T));
    // A step with a saved state holds less (X̂ and Ŵ are the caller's), exactly as predicted.
    session<N, T, Exec> saved(exec, strided_grouped_layer(N, 2), 80 + N);
    saved.forward_saved();
    saved.backward_saved();
    CHECK(saved.layer.workspace_bytes() == saved.layer.workspace_bytes(saved.x_extents()));
    CHECK(saved.layer.workspace_bytes() < s.layer.workspace_bytes());
    // Inference: forward alone holds one chunk's X̂ and Ŵ.
    session<N, T, Exec> inference(exec, strided_grouped_layer(N, 2), 90 + N);
    inference.forward();
    CHECK(inference.layer.workspace_bytes() ==
          inference.layer.workspace_bytes(inference.x_extents(), fftconv::passes::inference()));
  }
  for (int d = 0; d < N; ++d) {
    CHECK(choice.layout.frame[d] >= choice.layout.window[d]);
    CHECK(fftconv::detail::is_7_smooth(choice.layout.frame[d]));
  }
}

// Several threads, each with its own layer objects of a few shapes, sharing the plan cache (which a further
// thread keeps clearing): every result stays right.
template <int N, class T, class Exec>
void check_threads(std::function<Exec()> make_executor, int threads, int rounds) {
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::thread clearer([&] {
    while (!done.load()) {
      fftconv::clear_plan_cache();
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      try {
        Exec exec = make_executor();
        for (int r = 0; r < rounds; ++r) {
          session<N, T, Exec> s(exec, strided_grouped_layer(N, 1 + (t + r) % 3), 1000 + 31 * t + r);
          s.forward();
          s.backward_data();
          s.backward_filter();
          if (s.forward_error(s.x_values, s.w_values) > tolerance<T>::forward ||
              s.data_error(s.dy_values, s.w_values) > tolerance<T>::data ||
              s.filter_error(s.x_values, s.dy_values) > tolerance<T>::filter)
            ++failures;
        }
      } catch (...) {
        failures += 1000;
      }
    });
  for (auto& w : workers) w.join();
  done = true;
  clearer.join();
  CHECK(failures.load() == 0);
}

}  // namespace fft_checks
