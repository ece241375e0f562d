// The FFT policy on 16-bit storage converts on load and rounds once on store: a bf16 or fp16 layer (with
// 16-bit or float weights) writes exactly the float layer's results on the same values, each rounded once to
// the narrower type. Bit equality, not a tolerance: a second rounding (a 16-bit copy on the way in or out, a
// partial sum of dx stored between chunks) would show up as a mismatch.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include <fftconv/fftconv.hpp>

namespace {

using fftconv::fft;
using fftconv::host;
using fftconv::keep;

template <class T, class W>
struct types {
  using value = T;
  using weight = W;
};

// Elements of `got` that differ bit for bit from `wide` rounded to the element type of `got`.
template <class U>
std::int64_t mismatches(const std::vector<U>& got, const std::vector<float>& wide) {
  std::int64_t count = 0;
  for (std::size_t i = 0; i < wide.size(); ++i) {
    const U rounded = fftconv::detail::store_as<U>(wide[i]);
    if (std::memcmp(&rounded, &got[i], sizeof(U)) != 0) ++count;
  }
  return count;
}

template <class U>
std::vector<U> random_values(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> draw(-1.0f, 1.0f);
  std::vector<U> v(count);
  for (U& e : v) e = fftconv::detail::store_as<U>(draw(rng));
  return v;
}

template <class U>
std::vector<float> widened(const std::vector<U>& v) {
  std::vector<float> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = fftconv::detail::load_as<float>(v[i]);
  return out;
}

std::int64_t volume(const std::array<std::int64_t, 4>& e) { return e[0] * e[1] * e[2] * e[3]; }

// 64-byte aligned saved state of `bytes` inside `storage` (empty for 0 bytes).
fftconv::saved_state aligned_state(std::vector<std::byte>& storage, std::size_t bytes) {
  if (bytes == 0) return {};
  storage.assign(bytes + 64, std::byte{0});
  const auto address = reinterpret_cast<std::uintptr_t>(storage.data());
  return {storage.data() + (64 - address % 64) % 64, bytes};
}

struct setting {
  std::size_t workspace_limit = 0;  // 0: none
  keep kept = keep::none;
  bool saved = false;
  float alpha = 1, beta = 0;
};

// One training step of a strided, padded 2D layer in T / W and in float on the same values; every output of
// the narrow layer equals the float one rounded once.
template <class T, class W>
void check_step(const setting& s) {
  fftconv::geometry<2> g;
  g.in_channels = 3, g.out_channels = 5, g.kernel = {5, 3}, g.padding = {2, 1}, g.stride = {2, 1};
  fftconv::conv<2, T, fft, W> narrow(g);
  fftconv::conv<2, float, fft> wide(g);
  if (s.workspace_limit != 0) narrow.set_workspace_limit(s.workspace_limit), wide.set_workspace_limit(s.workspace_limit);
  const std::array<std::int64_t, 4> xe{3, 3, 37, 29}, we{5, 3, 5, 3};
  const std::array<std::int64_t, 4> ye = narrow.output_extents(xe);

  const auto x = random_values<T>(volume(xe), 1), dy = random_values<T>(volume(ye), 2);
  const auto w = random_values<W>(volume(we), 3), bias = random_values<W>(5, 4);
  // Outputs start from values beta scales (and that a missed element would leave in place).
  auto y = random_values<T>(volume(ye), 5), dx = random_values<T>(volume(xe), 6);
  auto dw = random_values<W>(volume(we), 7), db = random_values<W>(5, 8);
  const auto xf = widened(x), dyf = widened(dy), wf = widened(w), biasf = widened(bias);
  auto yf = widened(y), dxf = widened(dx), dwf = widened(dw), dbf = widened(db);

  std::vector<std::byte> narrow_storage, wide_storage;
  const fftconv::saved_state narrow_saved = aligned_state(narrow_storage, s.saved ? narrow.saved_bytes(xe, s.kept) : 0);
  const fftconv::saved_state wide_saved = aligned_state(wide_storage, s.saved ? wide.saved_bytes(xe, s.kept) : 0);
  const fftconv::scaling<float> scale{s.alpha, s.beta};
  using fftconv::make_view;

  narrow.forward(host{}, make_view<const T>(x.data(), xe), make_view<const W>(w.data(), we), bias.data(),
                 make_view<T>(y.data(), ye), narrow_saved, scale);
  narrow.backward(host{}, make_view<const T>(x.data(), xe), make_view<const W>(w.data(), we),
                  make_view<const T>(dy.data(), ye), narrow_saved,
                  fftconv::gradients<T, 4, W>{make_view<T>(dx.data(), xe), make_view<W>(dw.data(), we), db.data()},
                  scale);
  wide.forward(host{}, make_view<const float>(xf.data(), xe), make_view<const float>(wf.data(), we), biasf.data(),
               make_view<float>(yf.data(), ye), wide_saved, scale);
  wide.backward(host{}, make_view<const float>(xf.data(), xe), make_view<const float>(wf.data(), we),
                make_view<const float>(dyf.data(), ye), wide_saved,
                fftconv::gradients<float, 4>{make_view<float>(dxf.data(), xe), make_view<float>(dwf.data(), we),
                                             dbf.data()},
                scale);
  CHECK(mismatches(y, yf) == 0);
  CHECK(mismatches(dx, dxf) == 0);
  CHECK(mismatches(dw, dwf) == 0);
  CHECK(mismatches(db, dbf) == 0);
}

}  // namespace

#define FFTCONV_STORAGE_TYPES                                                                                      \
  types<fftconv::bf16, fftconv::bf16>, types<fftconv::fp16, fftconv::fp16>, types<fftconv::bf16, float>,           \
      types<fftconv::fp16, float>

TEST_CASE_TEMPLATE("fft host storage: a 16-bit step is the float step rounded once", P, FFTCONV_STORAGE_TYPES) {
  using T = typename P::value;
  using W = typename P::weight;
  SUBCASE("no saved state") { check_step<T, W>({}); }
  SUBCASE("saved spectra") { check_step<T, W>({.kept = keep::spectra, .saved = true}); }
  SUBCASE("saved header only") { check_step<T, W>({.kept = keep::none, .saved = true}); }
  SUBCASE("scaled outputs: blended in float, rounded once") { check_step<T, W>({.alpha = 0.75f, .beta = 0.5f}); }
}

// Under a tight workspace limit one image's tiles are split over chunks and dx sums chunk by chunk: the
// partial sums must stay in float.
TEST_CASE_TEMPLATE("fft host storage: dx split over chunks is summed in float", P, FFTCONV_STORAGE_TYPES) {
  using T = typename P::value;
  using W = typename P::weight;
  fftconv::geometry<2> g;
  g.in_channels = 3, g.out_channels = 5, g.kernel = {5, 3}, g.padding = {2, 1}, g.stride = {2, 1};
  constexpr std::size_t limit = 200000;
  fftconv::conv<2, T, fft, W> layer(g);
  layer.set_workspace_limit(limit);
  const auto p = fftconv::detail::make_problem<2>(g, 3, {37, 29});
  const auto choice = layer.implementation().plan_choice(p);
  INFO("chunks ", choice.chunks, ", rows per chunk ", choice.chunk_rows, ", tiles per image ", choice.layout.tile_count);
  REQUIRE(choice.chunks > 1);
  REQUIRE(choice.chunk_rows % choice.layout.tile_count != 0);
  check_step<T, W>({.workspace_limit = limit});
  check_step<T, W>({.workspace_limit = limit, .alpha = 2.0f, .beta = 1.0f});
}
