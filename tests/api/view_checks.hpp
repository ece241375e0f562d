#pragma once
// Strided views: any strided mdspan (dims in any order, channel slices of a larger buffer, every other
// element, int indices) is read and written where it says, in every pass; disjoint slices of one buffer may be
// an input and an output of one call, or the outputs of two layers; overlapping ones, outputs with stride 0 or a
// non-unique mapping are refused; inputs with stride 0 (broadcast) are read as such. Bias and dbias are rank-1
// views whose extent is checked and whose stride is honoured.

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "reuse_checks.hpp"

namespace api_checks {

// A tensor region in a buffer of its own, the rest of which holds `background`.
template <class T, class Exec, std::size_t R>
struct placed_tensor {
  region<R> where;
  buffer<T, Exec> memory;

  placed_tensor(Exec exec, const std::array<std::int64_t, R>& extents, const placement<R>& place)
      : where(region_of(extents, place)),
        memory(exec, std::vector<double>(static_cast<std::size_t>(lay_out(extents, place).elements), background)) {}

  void store(const std::vector<double>& values) { api_checks::store(memory, where, values); }
  std::vector<double> load() const { return api_checks::load(memory, where); }
  bool untouched_outside() const { return background_outside(memory, {where}); }
  fftconv::tensor_ref<const T, R> input(view_kind kind) const { return view_of<const T>(memory, where, kind); }
  fftconv::tensor_ref<T, R> output(view_kind kind) const { return view_of<T>(memory, where, kind); }
};

// A rank-1 vector (bias, dbias) `stride` elements apart in a buffer of background.
template <class T, class Exec>
struct placed_vector {
  std::int64_t count, stride;
  buffer<T, Exec> memory;

  placed_vector(Exec exec, std::int64_t n, std::int64_t s)
      : count(n), stride(s), memory(exec, std::vector<double>(static_cast<std::size_t>(n * s), background)) {}
  region<1> where() const { return {{count}, {stride}, 0}; }
  void store(const std::vector<double>& values) { api_checks::store(memory, where(), values); }
  std::vector<double> load() const { return api_checks::load(memory, where()); }
  bool untouched_outside() const { return background_outside(memory, {where()}); }
  auto input() const { return vector_view<const T>(memory, count, stride); }
  auto output() const { return vector_view<T>(memory, count, stride); }
};

// How each tensor of a call is laid out, drawn per tensor.
template <std::size_t R>
struct scenario {
  std::string name;
  view_kind kind;
  std::function<placement<R>(std::mt19937_64&)> place;
  std::int64_t vector_stride = 1;  // bias and dbias
};

template <std::size_t R>
std::vector<scenario<R>> view_scenarios() {
  using P = placement<R>;
  const auto pick = [](std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
  };
  return {
      {"row-major mdspan", view_kind::right, [](std::mt19937_64&) { return P::row_major(); }},
      {"column-major mdspan (layout_left)", view_kind::left, [](std::mt19937_64&) { return P::column_major(); }},
      {"channels last (NHWC for N = 2)", view_kind::strided, [](std::mt19937_64&) { return P::channels_last(); }, 2},
      {"dims in a random order", view_kind::strided, [](std::mt19937_64& rng) { return P::random_order(rng); }},
      {"a channel slice of a larger buffer, dims in a random order", view_kind::strided,
       [pick](std::mt19937_64& rng) {
         P p = P::random_order(rng);
         p.channels_before = pick(rng, 0, 2);
         p.channels_after = pick(rng, p.channels_before == 0 ? 1 : 0, 2);
         return p;
       },
       3},
      {"every other element (stride 2), dims in a random order", view_kind::strided,
       [](std::mt19937_64& rng) {
         P p = P::random_order(rng);
         p.step = 2;
         return p;
       },
       2},
      {"int32 extents, row-major", view_kind::int_right, [](std::mt19937_64&) { return P::row_major(); }},
      {"int32 extents, channels last", view_kind::int_strided, [](std::mt19937_64&) { return P::channels_last(); }},
  };
}

// Every pass of one layer with each tensor placed as the scenario draws it, against the reference; outputs'
// elements start as NaN, and nothing outside an output's elements is written.
template <int N, class T, class P, class Exec>
void check_strided_passes(const reference::layer& L, std::uint64_t seed, Exec exec, const scenario<N + 2>& s) {
  constexpr std::size_t R = N + 2;
  INFO(policy_name<P>(), " seed ", seed, ": ", describe(L), "; ", s.name);
  std::mt19937_64 rng(seed);
  const auto x_values = random_values(L.x_size(), seed * 8 + 1), w_values = random_values(L.w_size(), seed * 8 + 2),
             dy_values = random_values(L.y_size(), seed * 8 + 3),
             bias_values = random_values(L.out_channels, seed * 8 + 4);
  auto placed = [&](const std::array<std::int64_t, R>& extents) {
    placement<R> p = s.place(rng);
    INFO("placement ", p.describe());
    return placed_tensor<T, Exec, R>(exec, extents, p);
  };
  auto x = placed(x_extents<N>(L)), w = placed(w_extents<N>(L)), dy = placed(y_extents<N>(L));
  auto y = placed(y_extents<N>(L)), dx = placed(x_extents<N>(L)), dw = placed(w_extents<N>(L));
  INFO("x ", x.where.strides[0], ",", x.where.strides[1], "..; y ", y.where.strides[0], ",", y.where.strides[1], "..");
  placed_vector<T, Exec> bias(exec, L.out_channels, s.vector_stride), db(exec, L.out_channels, s.vector_stride);
  x.store(x_values);
  w.store(w_values);
  dy.store(dy_values);
  bias.store(bias_values);
  const auto reset_outputs = [&] {
    y.store(nan_values(L.y_size()));
    dx.store(nan_values(L.x_size()));
    dw.store(nan_values(L.w_size()));
    db.store(nan_values(L.out_channels));
  };
  const auto expected_y = reference::forward(L, x_values, w_values, &bias_values);
  const auto expected_dx = reference::backward_data(L, dy_values, w_values);
  const auto expected_dw = reference::backward_filter(L, x_values, dy_values);
  const auto expected_db = reference::backward_bias(L, dy_values);
  const auto check_gradients = [&] {
    CHECK(relative_l2(dx.load(), expected_dx) <= tolerance<T>::data);
    CHECK(relative_l2(dw.load(), expected_dw) <= tolerance<T>::filter);
    CHECK(relative_l2(db.load(), expected_db) <= tolerance<T>::filter);
    CHECK(dx.untouched_outside());
    CHECK(dw.untouched_outside());
    CHECK(db.untouched_outside());
  };

  auto layer = make_layer<N, T, P>(L);
  INFO(choice_of(layer));
  const view_kind k = s.kind;
  reset_outputs();
  layer.forward(exec, x.input(k), w.input(k), bias.input(), y.output(k));
  CHECK(relative_l2(y.load(), expected_y) <= tolerance<T>::forward);
  CHECK(y.untouched_outside());
  layer.backward_data(exec, dy.input(k), w.input(k), dx.output(k));
  CHECK(relative_l2(dx.load(), expected_dx) <= tolerance<T>::data);
  CHECK(dx.untouched_outside());
  layer.backward_filter(exec, x.input(k), dy.input(k), dw.output(k), db.output());
  CHECK(relative_l2(dw.load(), expected_dw) <= tolerance<T>::filter);
  CHECK(relative_l2(db.load(), expected_db) <= tolerance<T>::filter);
  CHECK(dw.untouched_outside());
  CHECK(db.untouched_outside());

  // A step: forward saving its state, then one backward for all three gradients.
  reset_outputs();
  auto saved = saved_for(exec, layer, x_extents<N>(L));
  layer.forward(exec, x.input(k), w.input(k), bias.input(), y.output(k), saved.all());
  CHECK(relative_l2(y.load(), expected_y) <= tolerance<T>::forward);
  layer.backward(exec, x.input(k), w.input(k), dy.input(k), saved.all(),
                 {.dx = dx.output(k), .dw = dw.output(k), .dbias = db.output()});
  check_gradients();
}

// ---- slices of one buffer -----------------------------------------------------------------------------------

// One buffer of [batch, channels, spatial...] (dims nested in `order`) whose channel slices the tests hand out.
template <class T, class Exec, std::size_t R>
struct shared_buffer {
  region<R> whole;
  buffer<T, Exec> memory;

  shared_buffer(Exec exec, const std::array<std::int64_t, R>& extents, const placement<R>& place)
      : whole(region_of(extents, place)),
        memory(exec, std::vector<double>(static_cast<std::size_t>(lay_out(extents, place).elements), background)) {}
  region<R> slice(std::int64_t first, std::int64_t count) const { return channel_slice(whole, first, count); }
  // Every other channel from `first`: `count` channels at twice the channel stride.
  region<R> interleaved(std::int64_t first, std::int64_t count) const {
    region<R> r = channel_slice(whole, first, count);
    r.strides[1] *= 2;
    return r;
  }
};

// Disjoint channel slices of one buffer as an input and an output of one call, and as the outputs of two
// layers (a concatenation): accepted, right, and nothing else in the buffer written.
template <int N, class T, class P, class Exec>
void check_disjoint_slices(Exec exec, const placement<N + 2>& order) {
  constexpr std::size_t R = N + 2;
  INFO(policy_name<P>(), " N=", N, " buffer ", order.describe());
  // 'same' padding, stride 1: x, y, dx and dy have equal spatial extents, so slices share strides.
  const reference::layer L = same_layer(N, 2, 2, 3, 1, 5, 3);
  const auto x_values = random_values(L.x_size(), 11), w_values = random_values(L.w_size(), 12),
             dy_values = random_values(L.y_size(), 13), bias_values = random_values(L.out_channels, 14);
  buffer<T, Exec> w(exec, w_values), bias(exec, bias_values);
  const auto wv = fftconv::tensor_ref<const T, R>(w.data(), w_extents<N>(L));
  auto layer = make_layer<N, T, P>(L);
  const std::int64_t cin = L.in_channels, cout = L.out_channels;
  const auto expected_y = reference::forward(L, x_values, w_values, &bias_values);
  const auto expected_dx = reference::backward_data(L, dy_values, w_values);

  {
    INFO("forward: x = channels [0, C_in), y = [C_in, C_in + C_out) of one buffer");
    shared_buffer<T, Exec, R> both(exec, extents<N>(L.batch, cin + cout, L.input), order);
    const region<R> x = both.slice(0, cin), y = both.slice(cin, cout);
    store(both.memory, x, x_values);
    layer.forward(exec, view_of<const T>(both.memory, x, view_kind::strided), wv, bias.data(),
                  view_of<T>(both.memory, y, view_kind::strided));
    CHECK(relative_l2(load(both.memory, y), expected_y) <= tolerance<T>::forward);
    CHECK(relative_l2(load(both.memory, x), x_values) <= tolerance<T>::forward);  // x untouched
    CHECK(background_outside(both.memory, {x, y}));
  }
  {
    INFO("backward: dy = channels [0, C_out), dx = [C_out, C_out + C_in) of one buffer; dw and db in one other");
    shared_buffer<T, Exec, R> both(exec, extents<N>(L.batch, cout + cin, L.input), order);
    const region<R> dy = both.slice(0, cout), dx = both.slice(cout, cin);
    store(both.memory, dy, dy_values);
    buffer<T, Exec> x(exec, x_values);
    // dw then db, back to back in one buffer (different ranks: disjoint by address range).
    buffer<T, Exec> gradients(exec, std::vector<double>(static_cast<std::size_t>(L.w_size() + cout), background));
    const auto dw = fftconv::tensor_ref<T, R>(gradients.data(), w_extents<N>(L));
    const auto db = fftconv::tensor_ref<T, 1>(gradients.data() + L.w_size(), {cout});
    layer.backward_data(exec, view_of<const T>(both.memory, dy, view_kind::strided), wv,
                        view_of<T>(both.memory, dx, view_kind::strided));
    CHECK(relative_l2(load(both.memory, dx), expected_dx) <= tolerance<T>::data);
    store(both.memory, dx, nan_values(L.x_size()));
    auto saved = saved_for(exec, layer, x_extents<N>(L));
    buffer<T, Exec> y(exec, L.y_size());
    const auto xv = fftconv::tensor_ref<const T, R>(x.data(), x_extents<N>(L));
    layer.forward(exec, xv, wv, bias.data(), fftconv::tensor_ref<T, R>(y.data(), y_extents<N>(L)), saved.all());
    layer.backward(exec, xv, wv, view_of<const T>(both.memory, dy, view_kind::strided), saved.all(),
                   {.dx = view_of<T>(both.memory, dx, view_kind::strided), .dw = dw, .dbias = db});
    CHECK(relative_l2(load(both.memory, dx), expected_dx) <= tolerance<T>::data);
    CHECK(relative_l2(load(both.memory, dy), dy_values) <= tolerance<T>::forward);  // dy untouched
    const auto g = gradients.read();
    CHECK(relative_l2({g.begin(), g.begin() + L.w_size()}, reference::backward_filter(L, x_values, dy_values)) <=
          tolerance<T>::filter);
    CHECK(relative_l2({g.begin() + L.w_size(), g.end()}, reference::backward_bias(L, dy_values)) <=
          tolerance<T>::filter);
    CHECK(background_outside(both.memory, {dy, dx}));
  }
  {
    INFO("forward: x = every other channel from 0, y = every other channel from 1 of one buffer");
    const reference::layer S = same_layer(N, 2, 3, 3, 1, 5, 3);  // C_in = C_out: equal strides
    auto square = make_layer<N, T, P>(S);
    const auto sx = random_values(S.x_size(), 21), sw = random_values(S.w_size(), 22);
    buffer<T, Exec> w_square(exec, sw);
    shared_buffer<T, Exec, R> both(exec, extents<N>(S.batch, 2 * S.in_channels, S.input), order);
    const region<R> x = both.interleaved(0, S.in_channels), y = both.interleaved(1, S.out_channels);
    store(both.memory, x, sx);
    square.forward(exec, view_of<const T>(both.memory, x, view_kind::strided),
                   fftconv::tensor_ref<const T, R>(w_square.data(), w_extents<N>(S)), nullptr,
                   view_of<T>(both.memory, y, view_kind::strided));
    CHECK(relative_l2(load(both.memory, y), reference::forward(S, sx, sw, nullptr)) <= tolerance<T>::forward);
    CHECK(relative_l2(load(both.memory, x), sx) <= tolerance<T>::forward);
    CHECK(background_outside(both.memory, {x, y}));
  }
  {
    INFO("two layers' forwards into channels [0, C_a) and [C_a, C_a + C_b) of one buffer (a concatenation)");
    reference::layer B = L;
    B.out_channels = 2;
    auto layer_b = make_layer<N, T, P>(B);
    const auto wb_values = random_values(B.w_size(), 31);
    buffer<T, Exec> x(exec, x_values), wb(exec, wb_values);
    shared_buffer<T, Exec, R> concat(exec, extents<N>(L.batch, cout + B.out_channels, L.output()), order);
    const region<R> ya = concat.slice(0, cout), yb = concat.slice(cout, B.out_channels);
    store(concat.memory, ya, nan_values(L.y_size()));
    store(concat.memory, yb, nan_values(B.y_size()));
    const auto xv = fftconv::tensor_ref<const T, R>(x.data(), x_extents<N>(L));
    layer.forward(exec, xv, wv, bias.data(), view_of<T>(concat.memory, ya, view_kind::strided));
    layer_b.forward(exec, xv, fftconv::tensor_ref<const T, R>(wb.data(), w_extents<N>(B)), nullptr,
                    view_of<T>(concat.memory, yb, view_kind::strided));
    CHECK(relative_l2(load(concat.memory, ya), expected_y) <= tolerance<T>::forward);
    CHECK(relative_l2(load(concat.memory, yb), reference::forward(B, x_values, wb_values, nullptr)) <=
          tolerance<T>::forward);
    CHECK(background_outside(concat.memory, {ya, yb}));
  }
}

// Overlapping inputs and outputs, outputs with stride 0 or a non-unique mapping: refused with
// fftconv::invalid_argument naming the tensors, before anything is written.
template <int N, class T, class P, class Exec>
void check_aliasing_refused(Exec exec) {
  constexpr std::size_t R = N + 2;
  INFO(policy_name<P>(), " N=", N);
  const reference::layer L = same_layer(N, 2, 3, 3, 1, 5, 3);
  auto layer = make_layer<N, T, P>(L);
  // Each input's buffer has room after the tensor, so that an output placed over it reaches nothing else
  // (the refusal then names that input).
  const std::size_t saved_bytes = layer.saved_bytes(x_extents<N>(L));
  const std::int64_t room = std::max(L.x_size(), L.y_size()) + std::int64_t(saved_bytes / sizeof(T)) + 64;
  buffer<T, Exec> x(exec, random_values(L.x_size() + room, 41)), w(exec, random_values(L.w_size() + room, 42)),
      dy(exec, random_values(L.y_size() + room, 43));
  buffer<T, Exec> y(exec, random_values(L.y_size(), 44)), dx(exec, random_values(L.x_size(), 45)),
      dw(exec, random_values(L.w_size() + room, 46)), db(exec, random_values(L.out_channels, 47));
  const auto x_values = random_values(L.x_size(), 41);
  byte_buffer<Exec> saved(exec, saved_bytes + sizeof(T) * std::size_t(room));
  const fftconv::saved_state state = saved.part(0, saved_bytes);
  const auto xv = fftconv::tensor_ref<const T, R>(x.data(), x_extents<N>(L));
  const auto wv = fftconv::tensor_ref<const T, R>(w.data(), w_extents<N>(L));
  const auto dyv = fftconv::tensor_ref<const T, R>(dy.data(), y_extents<N>(L));
  const auto yv = fftconv::tensor_ref<T, R>(y.data(), y_extents<N>(L));
  const auto dxv = fftconv::tensor_ref<T, R>(dx.data(), x_extents<N>(L));
  const auto dwv = fftconv::tensor_ref<T, R>(dw.data(), w_extents<N>(L));
  layer.forward(exec, xv, wv, nullptr, yv, state);
  const auto before = [&] {
    return std::vector<std::vector<double>>{x.read(), w.read(), dy.read(), y.read(), dx.read(), dw.read(), db.read()};
  };
  const auto expect_refused = [&](const std::string& what, const std::string& fragment, auto call) {
    INFO(what);
    const auto contents = before();
    const std::string message = refusal_of(call);
    CHECK_MESSAGE(message.find(fragment) != std::string::npos, "message \"", message, "\" lacks \"", fragment, "\"");
    CHECK(before() == contents);
  };

  // y over x itself (in place), and over x shifted by one channel in one buffer.
  const auto y_on_x = fftconv::tensor_ref<T, R>(x.data(), y_extents<N>(L));
  expect_refused("forward in place", "y overlaps x", [&] { layer.forward(exec, xv, wv, nullptr, y_on_x); });
  {
    shared_buffer<T, Exec, R> both(exec, extents<N>(L.batch, 2 * L.in_channels, L.input), placement<R>::row_major());
    const region<R> xs = both.slice(0, L.in_channels), ys = both.slice(1, L.out_channels);
    store(both.memory, xs, x_values);
    const auto contents = both.memory.read();
    const std::string message = refusal_of([&] {
      layer.forward(exec, view_of<const T>(both.memory, xs, view_kind::strided), wv, nullptr,
                    view_of<T>(both.memory, ys, view_kind::strided));
    });
    CHECK_MESSAGE(message.find("y overlaps x") != std::string::npos, message);
    CHECK(both.memory.read() == contents);
  }
  expect_refused("forward: y over w", "y overlaps w", [&] {
    layer.forward(exec, xv, wv, nullptr, fftconv::tensor_ref<T, R>(w.data() + 1, y_extents<N>(L)));
  });
  expect_refused("forward: saved over x", "saved overlaps x", [&] {
    layer.forward(exec, xv, wv, nullptr, yv, fftconv::saved_state(reinterpret_cast<std::byte*>(x.data()), saved_bytes));
  });
  expect_refused("backward_data: dx over dy", "dx overlaps dy",
                 [&] { layer.backward_data(exec, dyv, wv, fftconv::tensor_ref<T, R>(dy.data(), x_extents<N>(L))); });
  expect_refused("backward_filter: dw over x", "dw overlaps x", [&] {
    layer.backward_filter(exec, xv, dyv, fftconv::tensor_ref<T, R>(x.data(), w_extents<N>(L)), db.data());
  });
  expect_refused("backward_filter: dbias over dw", "dw overlaps dbias",
                 [&] { layer.backward_filter(exec, xv, dyv, dwv, dw.data()); });
  expect_refused("backward: dx and dw over one another", "dx overlaps dw", [&] {
    layer.backward(exec, xv, wv, dyv, state,
                   {.dx = dxv, .dw = fftconv::tensor_ref<T, R>(dx.data() + 1, w_extents<N>(L))});
  });
  expect_refused("backward: dx over the saved state", "dx overlaps saved", [&] {
    layer.backward(exec, xv, wv, dyv, state,
                   {.dx = fftconv::tensor_ref<T, R>(reinterpret_cast<T*>(saved.data()), x_extents<N>(L))});
  });

  // Outputs with stride 0 (built as tensor_ref directly: layout_stride forbids it) or declared not unique.
  std::array<std::int64_t, R> broadcast = fftconv::row_major_strides(y_extents<N>(L));
  broadcast[0] = 0;
  expect_refused("forward: y with stride 0 over the batch", "stride 0", [&] {
    layer.forward(exec, xv, wv, nullptr, fftconv::tensor_ref<T, R>(y.data(), y_extents<N>(L), broadcast));
  });
  std::array<std::int64_t, R> dx_broadcast = fftconv::row_major_strides(x_extents<N>(L));
  dx_broadcast[1] = 0;
  expect_refused("backward_data: dx with stride 0 over channels", "stride 0", [&] {
    layer.backward_data(exec, dyv, wv, fftconv::tensor_ref<T, R>(dx.data(), x_extents<N>(L), dx_broadcast));
  });
  std::array<std::int64_t, R> dw_broadcast = fftconv::row_major_strides(w_extents<N>(L));
  dw_broadcast[0] = 0;
  expect_refused("backward: dw with stride 0", "stride 0", [&] {
    layer.backward(exec, xv, wv, dyv, state,
                   {.dw = fftconv::tensor_ref<T, R>(dw.data(), w_extents<N>(L), dw_broadcast)});
  });
  expect_refused("backward_filter: dbias with stride 0", "stride 0", [&] {
    layer.backward_filter(exec, xv, dyv, dwv, fftconv::tensor_ref<T, 1>(db.data(), {L.out_channels}, {0}));
  });
  expect_refused("forward: y declared not unique", "not unique", [&] {
    layer.forward(
        exec, xv, wv, nullptr,
        fftconv::tensor_ref<T, R>(y.data(), y_extents<N>(L), fftconv::row_major_strides(y_extents<N>(L)), false));
  });
}

// Inputs with stride 0 are broadcasts: x the same image for every batch entry, w the same filter for every
// output channel, dy the same map for every channel, bias one value for every channel.
template <int N, class T, class P, class Exec>
void check_broadcast_inputs(const reference::layer& L, std::uint64_t seed, Exec exec) {
  constexpr std::size_t R = N + 2;
  INFO(policy_name<P>(), " seed ", seed, ": ", describe(L));
  const std::int64_t image = L.x_size() / L.batch, filter = L.w_size() / L.out_channels;
  const std::int64_t y_map = reference::layer::volume(L.output());
  const auto one_image = random_values(image, seed * 8 + 1), one_filter = random_values(filter, seed * 8 + 2),
             one_map = random_values(L.batch * y_map, seed * 8 + 3);
  const double one_bias = 0.375;
  // The tensors as the reference sees them: repeated.
  std::vector<double> x_values, w_values, dy_values, bias_values(static_cast<std::size_t>(L.out_channels), one_bias);
  for (std::int64_t b = 0; b < L.batch; ++b) x_values.insert(x_values.end(), one_image.begin(), one_image.end());
  for (std::int64_t o = 0; o < L.out_channels; ++o)
    w_values.insert(w_values.end(), one_filter.begin(), one_filter.end());
  for (std::int64_t b = 0; b < L.batch; ++b)
    for (std::int64_t o = 0; o < L.out_channels; ++o)
      dy_values.insert(dy_values.end(), one_map.begin() + b * y_map, one_map.begin() + (b + 1) * y_map);
  buffer<T, Exec> x(exec, one_image), w(exec, one_filter), dy(exec, one_map), bias(exec, std::vector<double>{one_bias});
  auto strides = [](const std::array<std::int64_t, R>& extents, int zero_dim, std::int64_t scale_dim0) {
    auto s = fftconv::row_major_strides(extents);
    s[zero_dim] = 0;
    if (zero_dim == 1) s[0] /= scale_dim0;  // the channel dim is not stored
    return s;
  };
  const auto xv = fftconv::tensor_ref<const T, R>(x.data(), x_extents<N>(L), strides(x_extents<N>(L), 0, 1), false);
  const auto wv = fftconv::tensor_ref<const T, R>(w.data(), w_extents<N>(L), strides(w_extents<N>(L), 0, 1), false);
  const auto dyv =
      fftconv::tensor_ref<const T, R>(dy.data(), y_extents<N>(L), strides(y_extents<N>(L), 1, L.out_channels), false);
  const auto bv = fftconv::tensor_ref<const T, 1>(bias.data(), {L.out_channels}, {0}, false);
  buffer<T, Exec> y(exec, nan_values(L.y_size())), dx(exec, nan_values(L.x_size())), dw(exec, nan_values(L.w_size())),
      db(exec, nan_values(L.out_channels));
  auto layer = make_layer<N, T, P>(L);
  layer.forward(exec, xv, wv, bv, fftconv::tensor_ref<T, R>(y.data(), y_extents<N>(L)));
  CHECK(relative_l2(y.read(), reference::forward(L, x_values, w_values, &bias_values)) <= tolerance<T>::forward);
  layer.backward_data(exec, dyv, wv, fftconv::tensor_ref<T, R>(dx.data(), x_extents<N>(L)));
  CHECK(relative_l2(dx.read(), reference::backward_data(L, dy_values, w_values)) <= tolerance<T>::data);
  layer.backward_filter(exec, xv, dyv, fftconv::tensor_ref<T, R>(dw.data(), w_extents<N>(L)), db.data());
  CHECK(relative_l2(dw.read(), reference::backward_filter(L, x_values, dy_values)) <= tolerance<T>::filter);
  CHECK(relative_l2(db.read(), reference::backward_bias(L, dy_values)) <= tolerance<T>::filter);
  auto saved = saved_for(exec, layer, x_extents<N>(L));
  layer.forward(exec, xv, wv, bv, fftconv::tensor_ref<T, R>(y.data(), y_extents<N>(L)), saved.all());
  dx.write(nan_values(L.x_size()));
  layer.backward(exec, xv, wv, dyv, saved.all(), {.dx = fftconv::tensor_ref<T, R>(dx.data(), x_extents<N>(L))});
  CHECK(relative_l2(dx.read(), reference::backward_data(L, dy_values, w_values)) <= tolerance<T>::data);
}

// bias / dbias: a rank-1 view of the wrong extent is refused (and nothing written); a strided one is honoured.
template <int N, class T, class P, class Exec>
void check_bias_views(Exec exec) {
  INFO(policy_name<P>(), " N=", N);
  const reference::layer L = same_layer(N, 2, 2, 3, 1, 5, 3);
  step_data<N, T, Exec> d(exec, L, 800 + N);
  auto layer = make_layer<N, T, P>(L);
  const std::int64_t cout = L.out_channels;
  buffer<T, Exec> long_bias(exec, random_values(2 * (cout + 1), 801));
  d.y.write(random_values(L.y_size(), 802));
  d.dw.write(random_values(L.w_size(), 803));
  for (const std::int64_t extent : {cout + 1, cout - 1}) {
    CAPTURE(extent);
    const std::string fragment =
        "has " + std::to_string(extent) + " elements but geometry.out_channels = " + std::to_string(cout);
    const auto y_before = d.y.read(), dw_before = d.dw.read(), db_before = long_bias.read();
    const std::string f =
        refusal_of([&] { layer.forward(exec, d.xv(), d.wv(), vector_view<const T>(long_bias, extent, 1), d.yv()); });
    CHECK_MESSAGE(f.find("forward: bias " + fragment) != std::string::npos, f);
    const std::string bf = refusal_of(
        [&] { layer.backward_filter(exec, d.xv(), d.dyv(), d.dwv(), vector_view<T>(long_bias, extent, 1)); });
    CHECK_MESSAGE(bf.find("backward_filter: dbias " + fragment) != std::string::npos, bf);
    const std::string b = refusal_of([&] {
      layer.backward(exec, d.xv(), d.wv(), d.dyv(), {}, {.dx = d.dxv(), .dbias = vector_view<T>(long_bias, extent, 1)});
    });
    CHECK_MESSAGE(b.find("backward: dbias " + fragment) != std::string::npos, b);
    CHECK(d.y.read() == y_before);
    CHECK(d.dw.read() == dw_before);
    CHECK(long_bias.read() == db_before);
  }
  // Stride 2: bias values at even positions, odd ones must be neither read nor written.
  placed_vector<T, Exec> bias(exec, cout, 2), db(exec, cout, 2);
  bias.store(d.bias_values);
  db.store(nan_values(cout));
  layer.forward(exec, d.xv(), d.wv(), bias.input(), d.yv());
  CHECK(d.y_error() <= tolerance<T>::forward);
  layer.backward_filter(exec, d.xv(), d.dyv(), d.dwv(), db.output());
  CHECK(relative_l2(db.load(), reference::backward_bias(L, d.dy_values)) <= tolerance<T>::filter);
  CHECK(db.untouched_outside());
  db.store(nan_values(cout));
  layer.backward(exec, d.xv(), d.wv(), d.dyv(), {}, {.dbias = db.output()});
  CHECK(relative_l2(db.load(), reference::backward_bias(L, d.dy_values)) <= tolerance<T>::filter);
  CHECK(db.untouched_outside());
}

}  // namespace api_checks
