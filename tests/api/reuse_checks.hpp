#pragma once
// No result depends on a buffer's address: each pass reads its arguments afresh, in any order, whatever was
// written in place at the same addresses since the last call; spectra cross passes only through the saved
// state the caller holds. (The FFT policy once reused X̂ and Ŵ keyed on the buffers' addresses, so a pass
// after an in-place update answered from the old contents.)

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "api_checks.hpp"

namespace api_checks {

enum class pass { forward, backward_data, backward_filter };

inline std::string name_of(pass p) {
  switch (p) {
    case pass::forward: return "forward";
    case pass::backward_data: return "backward_data";
    case pass::backward_filter: return "backward_filter";
  }
  return "?";
}

// One layer's tensors at fixed addresses, and the float64 values they hold now. Outputs start as NaN: a pass
// that leaves an element unwritten, or reads an output it overwrites, shows.
template <int N, class T, class Exec>
struct step_data {
  static constexpr std::size_t R = N + 2;
  using input_view = fftconv::tensor_ref<const T, R>;
  using output_view = fftconv::tensor_ref<T, R>;

  Exec exec;
  reference::layer L;
  std::mt19937_64 rng;
  std::vector<double> x_values, w_values, dy_values, bias_values;
  buffer<T, Exec> x, w, dy, bias, y, dx, dw, db;

  step_data(Exec e, const reference::layer& layer, std::uint64_t seed)
      : exec(e),
        L(layer),
        rng(seed),
        x_values(random_values(L.x_size(), seed * 8 + 1)),
        w_values(random_values(L.w_size(), seed * 8 + 2)),
        dy_values(random_values(L.y_size(), seed * 8 + 3)),
        bias_values(random_values(L.out_channels, seed * 8 + 4)),
        x(e, x_values),
        w(e, w_values),
        dy(e, dy_values),
        bias(e, bias_values),
        y(e, nan_values(L.y_size())),
        dx(e, nan_values(L.x_size())),
        dw(e, nan_values(L.w_size())),
        db(e, nan_values(L.out_channels)) {}

  // New contents at the same address.
  void rewrite_x() { x.write(x_values = random_values(L.x_size(), rng())); }
  void rewrite_w() { w.write(w_values = random_values(L.w_size(), rng())); }
  void rewrite_dy() { dy.write(dy_values = random_values(L.y_size(), rng())); }
  void rewrite_bias() { bias.write(bias_values = random_values(L.out_channels, rng())); }

  // New contents for a random non-empty subset of what pass p reads.
  void rewrite_some_inputs_of(pass p) {
    unsigned mask = 0;
    while ((mask & 7u) == 0) mask = static_cast<unsigned>(rng());
    switch (p) {
      case pass::forward:
        if (mask & 1u) rewrite_x();
        if (mask & 2u) rewrite_w();
        if (mask & 4u) rewrite_bias();
        if ((mask & 3u) == 0) rewrite_x();  // bias alone never reaches a cached spectrum
        break;
      case pass::backward_data:
        if (mask & 1u) rewrite_dy();
        if ((mask & 2u) || !(mask & 1u)) rewrite_w();
        break;
      case pass::backward_filter:
        if (mask & 1u) rewrite_x();
        if ((mask & 2u) || !(mask & 1u)) rewrite_dy();
        break;
    }
  }

  input_view xv() const { return input_view(x.data(), x_extents<N>(L)); }
  input_view wv() const { return input_view(w.data(), w_extents<N>(L)); }
  input_view dyv() const { return input_view(dy.data(), y_extents<N>(L)); }
  output_view yv() const { return output_view(y.data(), y_extents<N>(L)); }
  output_view dxv() const { return output_view(dx.data(), x_extents<N>(L)); }
  output_view dwv() const { return output_view(dw.data(), w_extents<N>(L)); }
  fftconv::gradients<T, R> all_gradients() const { return {.dx = dxv(), .dw = dwv(), .dbias = db.data()}; }

  template <class Layer>
  void run(Layer& layer, pass p) {
    switch (p) {
      case pass::forward: layer.forward(exec, xv(), wv(), bias.data(), yv()); break;
      case pass::backward_data: layer.backward_data(exec, dyv(), wv(), dxv()); break;
      case pass::backward_filter: layer.backward_filter(exec, xv(), dyv(), dwv(), db.data()); break;
    }
  }

  // Relative L2 errors against the reference on the current contents.
  double y_error() const { return relative_l2(y.read(), reference::forward(L, x_values, w_values, &bias_values)); }
  double dx_error() const { return relative_l2(dx.read(), reference::backward_data(L, dy_values, w_values)); }
  double dw_error() const { return relative_l2(dw.read(), reference::backward_filter(L, x_values, dy_values)); }
  double db_error() const { return relative_l2(db.read(), reference::backward_bias(L, dy_values)); }

  void check(pass p) const {
    switch (p) {
      case pass::forward: CHECK(y_error() <= tolerance<T>::forward); break;
      case pass::backward_data: CHECK(dx_error() <= tolerance<T>::data); break;
      case pass::backward_filter:
        CHECK(dw_error() <= tolerance<T>::filter);
        CHECK(db_error() <= tolerance<T>::filter);
        break;
    }
  }
  void check_gradients() const {
    CHECK(dx_error() <= tolerance<T>::data);
    CHECK(dw_error() <= tolerance<T>::filter);
    CHECK(db_error() <= tolerance<T>::filter);
  }
};

// All 6 orders of the three passes on one layer object, two steps each; before every pass a random subset of
// what it reads gets new contents in place, and its result is compared with the reference on what the buffers
// hold now.
template <int N, class T, class P, class Exec>
void check_pass_orders(const reference::layer& L, std::uint64_t seed, Exec exec) {
  INFO(policy_name<P>(), " seed ", seed, ": ", describe(L));
  auto layer = make_layer<N, T, P>(L);
  INFO(choice_of(layer));
  step_data<N, T, Exec> d(exec, L, seed);
  std::array<pass, 3> order{pass::forward, pass::backward_data, pass::backward_filter};
  do {
    for (int step = 0; step < 2; ++step)
      for (pass p : order) {
        INFO("order ", name_of(order[0]), ", ", name_of(order[1]), ", ", name_of(order[2]), "; step ", step, ", ",
             name_of(p));
        d.rewrite_some_inputs_of(p);
        d.run(layer, p);
        d.check(p);
      }
  } while (std::next_permutation(order.begin(), order.end()));
}

// Weights updated in place between forward and backward_data (an optimizer step between the forward of one
// micro-batch and the backward of another), and backward_data used alone as a transposed convolution whose
// weights and input change in place from call to call.
template <int N, class T, class P, class Exec>
void check_weights_updated_in_place(const reference::layer& L, std::uint64_t seed, Exec exec) {
  INFO(policy_name<P>(), " seed ", seed, ": ", describe(L));
  auto layer = make_layer<N, T, P>(L);
  INFO(choice_of(layer));
  step_data<N, T, Exec> d(exec, L, seed);
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    d.run(layer, pass::forward);
    d.check(pass::forward);
    d.rewrite_w();
    d.run(layer, pass::backward_data);
    d.check(pass::backward_data);
    d.rewrite_x();
  }
  auto transposed = make_layer<N, T, P>(L);
  for (int call = 0; call < 4; ++call) {
    CAPTURE(call);
    if (call % 2 == 0)
      d.rewrite_w();
    else
      d.rewrite_dy();
    d.run(transposed, pass::backward_data);
    d.check(pass::backward_data);
  }
}

// One layer applied twice in a step (shared weights, as a recurrent or siamese network does): forward A and B,
// each into its own saved state, then backward B and A. B's batch may differ from A's (another plan).
template <int N, class T, class P, class Exec>
void check_applied_twice(const reference::layer& L, std::uint64_t seed, Exec exec, std::int64_t batch_b,
                         fftconv::keep kept_a) {
  INFO(policy_name<P>(), " seed ", seed, ": ", describe(L), "; B's batch ", batch_b, ", A keeps ",
       kept_a == fftconv::keep::spectra ? "spectra" : "none");
  reference::layer L_b = L;
  L_b.batch = batch_b;
  auto layer = make_layer<N, T, P>(L);
  INFO(choice_of(layer));
  step_data<N, T, Exec> a(exec, L, seed), b(exec, L_b, seed + 1000);
  // B uses A's weights and bias, at A's addresses.
  const fftconv::tensor_ref<const T, N + 2> w = a.wv();
  b.w_values = a.w_values;
  b.bias_values = a.bias_values;

  auto saved_a = saved_for(exec, layer, x_extents<N>(L), kept_a);
  auto saved_b = saved_for(exec, layer, x_extents<N>(L_b));
  layer.forward(exec, a.xv(), w, a.bias.data(), a.yv(), saved_a.all());
  layer.forward(exec, b.xv(), w, a.bias.data(), b.yv(), saved_b.all());
  CHECK(a.y_error() <= tolerance<T>::forward);
  CHECK(b.y_error() <= tolerance<T>::forward);
  layer.backward(exec, b.xv(), w, b.dyv(), saved_b.all(), b.all_gradients());
  {
    INFO("backward B");
    b.check_gradients();
  }
  layer.backward(exec, a.xv(), w, a.dyv(), saved_a.all(), a.all_gradients());
  {
    INFO("backward A");
    a.check_gradients();
  }
}

// backward with forward's saved state equals backward without one (then it transforms what it needs again),
// for keep::spectra and keep::none, over two steps with new contents in place between them.
template <int N, class T, class P, class Exec>
void check_saved_or_not(const reference::layer& L, std::uint64_t seed, Exec exec) {
  INFO(policy_name<P>(), " seed ", seed, ": ", describe(L));
  constexpr double close = std::is_same_v<T, float> ? 1e-6 : 1e-13;
  auto layer = make_layer<N, T, P>(L);
  INFO(choice_of(layer));
  step_data<N, T, Exec> d(exec, L, seed);
  for (const fftconv::keep kept : {fftconv::keep::spectra, fftconv::keep::none}) {
    auto saved = saved_for(exec, layer, x_extents<N>(L), kept);
    for (int step = 0; step < 2; ++step) {
      INFO("keep ", kept == fftconv::keep::spectra ? "spectra" : "none", ", step ", step);
      d.rewrite_x();
      d.rewrite_w();
      d.rewrite_dy();
      layer.forward(exec, d.xv(), d.wv(), d.bias.data(), d.yv(), saved.all());
      CHECK(d.y_error() <= tolerance<T>::forward);
      layer.backward(exec, d.xv(), d.wv(), d.dyv(), saved.all(), d.all_gradients());
      d.check_gradients();
      const auto dx_saved = d.dx.read(), dw_saved = d.dw.read(), db_saved = d.db.read();
      layer.backward(exec, d.xv(), d.wv(), d.dyv(), {}, d.all_gradients());
      d.check_gradients();
      CHECK(relative_l2(d.dx.read(), dx_saved) <= close);
      CHECK(relative_l2(d.dw.read(), dw_saved) <= close);
      CHECK(relative_l2(d.db.read(), db_saved) <= close);
    }
  }
}

// The functional forms (a per-thread cache of conv objects keyed by geometry) after in-place changes at the
// same addresses: every call answers from what the buffers hold now.
template <int N, class T, class P, class Exec>
void check_functional_in_place(const reference::layer& L, std::uint64_t seed, Exec exec) {
  INFO(policy_name<P>(), " seed ", seed, ": ", describe(L));
  const fftconv::geometry<N> g = geometry_of<N>(L);
  step_data<N, T, Exec> d(exec, L, seed);
  constexpr std::size_t R = N + 2;
  const auto x = fftconv::make_view<const T, R>(d.x.data(), x_extents<N>(L));
  const auto w = fftconv::make_view<const T, R>(d.w.data(), w_extents<N>(L));
  const auto dy = fftconv::make_view<const T, R>(d.dy.data(), y_extents<N>(L));
  const auto y = fftconv::make_view<T, R>(d.y.data(), y_extents<N>(L));
  const auto dx = fftconv::make_view<T, R>(d.dx.data(), x_extents<N>(L));
  const auto dw = fftconv::make_view<T, R>(d.dw.data(), w_extents<N>(L));
  const auto forward = [&] { fftconv::forward<P>(exec, g, x, w, d.bias.data(), y); };
  const auto backward_data = [&] { fftconv::backward_data<P>(exec, g, dy, w, dx); };
  const auto backward_filter = [&] { fftconv::backward_filter<P>(exec, g, x, dy, dw, d.db.data()); };
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    forward();
    d.check(pass::forward);
    d.rewrite_x();
    forward();
    d.check(pass::forward);
    d.rewrite_w();
    forward();
    d.check(pass::forward);
    backward_data();
    d.check(pass::backward_data);
    d.rewrite_w();
    backward_data();
    d.check(pass::backward_data);
    d.rewrite_dy();
    backward_data();
    d.check(pass::backward_data);
    backward_filter();
    d.check(pass::backward_filter);
    d.rewrite_x();
    backward_filter();
    d.check(pass::backward_filter);
    d.rewrite_dy();
    backward_filter();
    d.check(pass::backward_filter);
    d.rewrite_w();
    d.rewrite_x();
  }
}

// ---- the FFT policy's transform counts -------------------------------------------------------------------

// A workspace limit that leaves room for the fewest rows per chunk (as tests/fft's tiling tests force chunks);
// returns the number of chunks a pass then runs in.
template <int N, class T, class Exec>
std::int64_t force_smallest_chunks(fftconv::conv<N, T, fftconv::fft>& layer, const reference::layer& L) {
  namespace d = fftconv::detail;
  auto& impl = layer.implementation();
  constexpr bool on_device = d::backend<Exec>::on_device;
  std::array<std::int64_t, N> spatial{};
  for (int i = 0; i < N; ++i) spatial[i] = L.input[i];
  const d::problem<N> p = d::make_problem<N>(layer.geometry(), L.batch, spatial);
  const d::tiling_choice<N> free_choice = impl.plan_choice(p, on_device);
  const d::tiling_bytes bytes = d::bytes_of<N>(p, free_choice.layout, sizeof(T));
  layer.set_workspace_limit(static_cast<std::size_t>(bytes.spectra + bytes.scratch(1)) + 64);
  return impl.plan_choice(p, on_device).chunks;
}

inline fftconv::detail::transform_counts counts(std::int64_t forward, std::int64_t inverse) {
  return {forward, inverse};
}

// forward with a saved state + backward(dx, dw) with it: each map transformed once per step, X̂ and dŶ once
// per chunk, Ŵ and dŴ once: (2c + 1) forward and (2c + 1) inverse executions for c chunks. Again for a second
// step on new contents at the same addresses, and for the other subsets of gradients.
template <int N, class T, class Exec>
void check_transform_counts(const reference::layer& L, std::uint64_t seed, Exec exec, bool chunked) {
  INFO("seed ", seed, ": ", describe(L), chunked ? ", smallest chunks" : ", default chunks");
  fftconv::conv<N, T, fftconv::fft> layer(geometry_of<N>(L));
  const std::int64_t c = chunked ? force_smallest_chunks<N, T, Exec>(layer, L) : 1;
  CAPTURE(c);
  if (chunked) REQUIRE(c > 1);
  step_data<N, T, Exec> d(exec, L, seed);
  auto saved = saved_for(exec, layer, x_extents<N>(L));
  auto& impl = layer.implementation();
  for (int step = 0; step < 2; ++step) {
    CAPTURE(step);
    d.rewrite_x();
    d.rewrite_w();
    d.rewrite_dy();
    impl.reset_transform_counts();
    layer.forward(exec, d.xv(), d.wv(), d.bias.data(), d.yv(), saved.all());
    CHECK(impl.transform_counts() == counts(c + 1, c));  // Ŵ, X̂ per chunk; y per chunk
    layer.backward(exec, d.xv(), d.wv(), d.dyv(), saved.all(), d.all_gradients());
    CHECK(impl.transform_counts() == counts(2 * c + 1, 2 * c + 1));  // + dŶ per chunk; dx per chunk, dw once
    CHECK(d.y_error() <= tolerance<T>::forward);
    d.check_gradients();
  }
  // One gradient: dŶ is still transformed once per chunk, and X̂ / Ŵ come from the saved state.
  impl.reset_transform_counts();
  layer.forward(exec, d.xv(), d.wv(), d.bias.data(), d.yv(), saved.all());
  layer.backward(exec, d.xv(), d.wv(), d.dyv(), saved.all(), {.dx = d.dxv()});
  CHECK(impl.transform_counts() == counts(2 * c + 1, 2 * c));
  CHECK(d.dx_error() <= tolerance<T>::data);
  impl.reset_transform_counts();
  layer.backward(exec, d.xv(), d.wv(), d.dyv(), saved.all(), {.dw = d.dwv()});
  CHECK(impl.transform_counts() == counts(c, 1));
  CHECK(d.dw_error() <= tolerance<T>::filter);
  // Without a saved state backward transforms Ŵ and X̂ again: more forward transforms, the same results.
  impl.reset_transform_counts();
  layer.backward(exec, d.xv(), d.wv(), d.dyv(), {}, d.all_gradients());
  CHECK(impl.transform_counts().forward > c);
  CHECK(impl.transform_counts().inverse == c + 1);
  d.check_gradients();
}

}  // namespace api_checks
