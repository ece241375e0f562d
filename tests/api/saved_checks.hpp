#pragma once
// The saved state: backward refuses one it would not have written (another geometry, shape, type or policy),
// a misaligned or wrongly sized buffer, and one forward never wrote, with an fftconv::invalid_argument whose
// message names both sides; a refused call leaves its outputs untouched.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "reuse_checks.hpp"

namespace api_checks {

template <class Exec>
constexpr std::size_t saved_alignment() {
  return fftconv::detail::backend<Exec>::on_device ? fftconv::detail::saved_alignment_device
                                                   : fftconv::detail::saved_alignment_host;
}

inline std::string name_of(fftconv::keep kept) { return kept == fftconv::keep::spectra ? "spectra" : "none"; }

// Checks that `message` names `found` before "this call expects" and `expected` after it: the header refusal
// names what the state holds and what this call wanted.
inline void check_names_both_sides(const std::string& message, const std::string& found, const std::string& expected) {
  INFO("message: ", message);
  const std::size_t split = message.find("this call expects");
  const std::size_t holds = message.find("it holds");
  CHECK(holds < split);
  if (split == std::string::npos || holds == std::string::npos) return;
  const std::size_t found_at = message.find(found, holds);
  CHECK_MESSAGE(found_at < split, "the state's side lacks \"", found, "\"");
  CHECK_MESSAGE(message.find(expected, split) != std::string::npos, "the call's side lacks \"", expected, "\"");
}

// The size refusal names the buffer's size and what x's extents take.
inline void check_names_sizes(const std::string& message, std::size_t given, std::size_t spectra, std::size_t none) {
  INFO("message: ", message);
  CHECK(message.find("saved has " + std::to_string(given) + " bytes") != std::string::npos);
  CHECK(message.find("saved_bytes(x, keep::spectra) = " + std::to_string(spectra)) != std::string::npos);
  CHECK(message.find("saved_bytes(x, keep::none) = " + std::to_string(none)) != std::string::npos);
}

// A backward that must be refused: the message names `fragments`, and dx, dw, db keep what they held.
template <int N, class T, class Exec, class Layer>
std::string refused_backward(Layer& layer, step_data<N, T, Exec>& d, fftconv::const_saved_state saved) {
  d.dx.write(random_values(d.L.x_size(), 7001));
  d.dw.write(random_values(d.L.w_size(), 7002));
  d.db.write(random_values(d.L.out_channels, 7003));
  const auto dx_before = d.dx.read(), dw_before = d.dw.read(), db_before = d.db.read();
  const std::string message =
      refusal_of([&] { layer.backward(d.exec, d.xv(), d.wv(), d.dyv(), saved, d.all_gradients()); });
  CHECK_MESSAGE(!message.empty(), "backward accepted the state");
  CHECK(d.dx.read() == dx_before);
  CHECK(d.dw.read() == dw_before);
  CHECK(d.db.read() == db_before);
  return message;
}

// A state written by `writer` (forward on `a`) handed to `reader`'s backward on `b`: refused, naming both
// sides (the headers' descriptions when the sizes agree, else the sizes).
template <int N, class TW, class TR, class Exec, class Writer, class Reader>
void check_foreign_state(Writer& writer, step_data<N, TW, Exec>& a, Reader& reader, step_data<N, TR, Exec>& b,
                         fftconv::keep kept, const std::string& found, const std::string& expected) {
  constexpr bool on_device = fftconv::detail::backend<Exec>::on_device;
  auto saved = saved_for(a.exec, writer, x_extents<N>(a.L), kept);
  writer.forward(a.exec, a.xv(), a.wv(), a.bias.data(), a.yv(), saved.all());
  const std::size_t spectra = reader.saved_bytes(x_extents<N>(b.L), fftconv::keep::spectra, on_device);
  const std::size_t none = reader.saved_bytes(x_extents<N>(b.L), fftconv::keep::none, on_device);
  INFO("writer's state ", saved.size(), " bytes (keep ", name_of(kept), "); reader takes ", spectra, " or ", none);
  const std::string message = refused_backward(reader, b, saved.all());
  if (saved.size() == spectra || saved.size() == none)
    check_names_both_sides(message, found, expected);
  else
    check_names_sizes(message, saved.size(), spectra, none);
}

// The same x extents as L, another spatial extent in dim 0 for which the layer's saved state has the same byte
// size as for L (the header, not the size, must then refuse it); L's own extents when none is found nearby.
template <int N, class Layer>
reference::layer same_size_other_shape(const Layer& layer, const reference::layer& L, fftconv::keep kept,
                                       bool on_device) {
  const std::size_t bytes = layer.saved_bytes(x_extents<N>(L), kept, on_device);
  for (std::int64_t delta : {1, -1, 2, -2, 3, 4, 5, 6, 7, 8}) {
    reference::layer other = L;
    other.input[0] += delta;
    if (other.input[0] < 1 || other.output()[0] < 1) continue;
    if (layer.saved_bytes(x_extents<N>(other), kept, on_device) == bytes) return other;
  }
  return L;
}

template <int N>
std::string padding_of(std::int64_t low, std::int64_t high) {
  std::string s = "padding";
  for (int d = 0; d < N; ++d) s += ' ' + std::to_string(low) + '/' + std::to_string(high);
  return s;
}

template <int N>
std::string x_of(std::int64_t batch, const reference::layer& L) {
  std::string s = "x [" + std::to_string(batch) + ", " + std::to_string(L.in_channels);
  for (int d = 0; d < N; ++d) s += ", " + std::to_string(L.input[d]);
  return s + "]";
}

template <int N, class T, class P, class Exec>
void check_saved_refusals(Exec exec) {
  INFO(policy_name<P>(), " N=", N);
  constexpr bool on_device = fftconv::detail::backend<Exec>::on_device;
  const std::string type = std::is_same_v<T, float> ? "float" : "double";
  const std::string other_type = std::is_same_v<T, float> ? "double" : "float";
  using other_t = std::conditional_t<std::is_same_v<T, float>, double, float>;
  const std::string rank = std::to_string(N) + "D ";
  // Stride 1, kernel 3, padding 1/1; the other geometry pads 0/2: the same extents everywhere.
  const reference::layer L = same_layer(N, 2, 2, 3, 1, 6, 3);
  reference::layer shifted = L;
  for (int d = 0; d < N; ++d) shifted.padding[d] = 0, shifted.padding_high[d] = 2;
  REQUIRE(shifted.output() == L.output());

  for (const fftconv::keep kept : {fftconv::keep::none, fftconv::keep::spectra}) {
    INFO("keep ", name_of(kept));
    auto layer = make_layer<N, T, P>(L);
    step_data<N, T, Exec> d(exec, L, 100 + N);
    {
      INFO("another geometry (padding 1/1 written, 0/2 read)");
      auto other = make_layer<N, T, P>(shifted);
      step_data<N, T, Exec> d_other(exec, shifted, 200 + N);
      check_foreign_state<N>(layer, d, other, d_other, kept, padding_of<N>(1, 1), padding_of<N>(0, 2));
    }
    {
      INFO("another batch");
      reference::layer bigger = L;
      bigger.batch = L.batch + 1;
      step_data<N, T, Exec> d_bigger(exec, bigger, 300 + N);
      check_foreign_state<N>(layer, d, layer, d_bigger, kept, x_of<N>(L.batch, L), x_of<N>(bigger.batch, L));
    }
    {
      const reference::layer other_shape = same_size_other_shape<N>(layer, L, kept, on_device);
      INFO("another spatial shape: ", describe(other_shape));
      if constexpr (std::is_same_v<P, fftconv::naive> || std::is_same_v<P, fftconv::im2col>)
        CHECK(other_shape.input != L.input);  // a header only: any shape has the same size
      if (other_shape.input != L.input) {
        step_data<N, T, Exec> d_shape(exec, other_shape, 400 + N);
        check_foreign_state<N>(layer, d, layer, d_shape, kept, x_of<N>(L.batch, L), x_of<N>(L.batch, other_shape));
      }
    }
    {
      INFO("another element type");
      auto other = make_layer<N, other_t, P>(L);
      step_data<N, other_t, Exec> d_other(exec, L, 500 + N);
      check_foreign_state<N>(layer, d, other, d_other, kept, rank + type, rank + other_type);
    }
    {
      INFO("a misaligned buffer, and wrong sizes");
      const std::size_t bytes = layer.saved_bytes(x_extents<N>(L), kept, on_device);
      const std::size_t spectra = layer.saved_bytes(x_extents<N>(L), fftconv::keep::spectra, on_device);
      const std::size_t none = layer.saved_bytes(x_extents<N>(L), fftconv::keep::none, on_device);
      byte_buffer<Exec> room(exec, bytes + 1024);
      const std::size_t misaligned = saved_alignment<Exec>() / 2;
      const std::string aligned = "saved must be aligned to " + std::to_string(saved_alignment<Exec>()) + " bytes";
      const std::string forward_message =
          refusal_of([&] { layer.forward(exec, d.xv(), d.wv(), d.bias.data(), d.yv(), room.part(misaligned, bytes)); });
      CHECK_MESSAGE(forward_message.find(aligned) != std::string::npos, forward_message);
      CHECK(refused_backward(layer, d, room.part(misaligned, bytes)).find(aligned) != std::string::npos);
      for (const std::size_t wrong : {bytes + 64, bytes - 8, std::size_t{64}}) {
        CAPTURE(wrong);
        check_names_sizes(
            refusal_of([&] { layer.forward(exec, d.xv(), d.wv(), d.bias.data(), d.yv(), room.part(0, wrong)); }), wrong,
            spectra, none);
        check_names_sizes(refused_backward(layer, d, room.part(0, wrong)), wrong, spectra, none);
      }
    }
    {
      INFO("a state forward never wrote");
      auto blank = saved_for(exec, layer, x_extents<N>(L), kept);
      CHECK(refused_backward(layer, d, blank.all()).find("no fftconv saved state") != std::string::npos);
    }
  }
}

// A state written by policy W refused by a layer of policy R (a fixed policy other than what wrote it).
template <int N, class T, class W, class R, class Exec>
void check_other_policy_refused(Exec exec) {
  INFO(policy_name<W>(), " writes, ", policy_name<R>(), " reads, N=", N);
  const reference::layer L = same_layer(N, 2, 2, 3, 1, 6, 3);
  for (const fftconv::keep kept : {fftconv::keep::none, fftconv::keep::spectra}) {
    INFO("keep ", name_of(kept));
    auto writer = make_layer<N, T, W>(L);
    auto reader = make_layer<N, T, R>(L);
    step_data<N, T, Exec> a(exec, L, 600 + N), b(exec, L, 700 + N);
    check_foreign_state<N>(writer, a, reader, b, kept, policy_name<W>() + ' ' + std::to_string(N) + "D",
                           policy_name<R>() + ' ' + std::to_string(N) + "D");
  }
}

// fftconv::automatic writes the algorithm it ran into the state: a fixed policy of another algorithm refuses
// it, naming both. A state a fixed policy wrote, handed to automatic's backward, is either read with that
// policy's algorithm (right gradients) or refused naming both sides: never misread.
template <int N, class T, class Exec>
void check_automatic_states(const reference::layer& L, std::uint64_t seed, Exec exec) {
  INFO("seed ", seed, ": ", describe(L));
  std::array<std::int64_t, N> spatial{};
  for (int i = 0; i < N; ++i) spatial[i] = L.input[i];
  const std::string rank = ' ' + std::to_string(N) + "D";
  for (const fftconv::keep kept : {fftconv::keep::none, fftconv::keep::spectra}) {
    INFO("keep ", name_of(kept));
    auto writer = make_layer<N, T, fftconv::automatic>(L);
    step_data<N, T, Exec> a(exec, L, seed);
    {
      auto saved = saved_for(exec, writer, x_extents<N>(L), kept);
      writer.forward(exec, a.xv(), a.wv(), a.bias.data(), a.yv(), saved.all());
    }
    const fftconv::algorithm chosen =
        writer.implementation().algorithm_for(fftconv::detail::make_problem<N>(writer.geometry(), L.batch, spatial));
    INFO("automatic ran ", std::string(fftconv::to_string(chosen)));
    const auto refused_by = [&]<class Q>() {
      if (fftconv::algorithm_of<Q> == chosen) return;
      auto reader = make_layer<N, T, Q>(L);
      step_data<N, T, Exec> b(exec, L, seed + 1);
      check_foreign_state<N>(writer, a, reader, b, kept, std::string(fftconv::to_string(chosen)) + rank,
                             policy_name<Q>() + rank);
    };
    refused_by.template operator()<fftconv::naive>();
    refused_by.template operator()<fftconv::im2col>();
    refused_by.template operator()<fftconv::fft>();

    const auto read_by_automatic = [&]<class W>() {
      INFO(policy_name<W>(), " writes");
      auto fixed = make_layer<N, T, W>(L);
      auto reader = make_layer<N, T, fftconv::automatic>(L);
      step_data<N, T, Exec> b(exec, L, seed + 2);
      auto saved = saved_for(exec, fixed, x_extents<N>(L), kept);
      fixed.forward(exec, b.xv(), b.wv(), b.bias.data(), b.yv(), saved.all());
      constexpr bool on_device = fftconv::detail::backend<Exec>::on_device;
      const std::size_t spectra = reader.saved_bytes(x_extents<N>(L), fftconv::keep::spectra, on_device);
      const std::size_t none = reader.saved_bytes(x_extents<N>(L), fftconv::keep::none, on_device);
      const std::string message =
          refusal_of([&] { reader.backward(exec, b.xv(), b.wv(), b.dyv(), saved.all(), b.all_gradients()); });
      if (message.empty()) {
        b.check_gradients();
      } else if (saved.size() == spectra || saved.size() == none) {
        check_names_both_sides(message, policy_name<W>() + rank, "this call expects");
      } else {
        check_names_sizes(message, saved.size(), spectra, none);
      }
    };
    read_by_automatic.template operator()<fftconv::naive>();
    read_by_automatic.template operator()<fftconv::im2col>();
    read_by_automatic.template operator()<fftconv::fft>();
  }
}

}  // namespace api_checks
