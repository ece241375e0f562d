// Geometry: the output-size rule, low/high padding, 'same' and causal padding, and validation of every field.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <type_traits>

#include <fftconv/fftconv.hpp>

#include "support/expect_error.hpp"

using testing_support::check_throws_naming;

TEST_CASE("output_extent follows floor((n + 2p - d(k-1) - 1) / s) + 1") {
  CHECK(fftconv::output_extent(32, 5, 0, 1, 1) == 28);
  CHECK(fftconv::output_extent(32, 5, 2, 1, 1) == 32);
  CHECK(fftconv::output_extent(9, 3, 1, 2, 2) == 4);   // (9 + 2 - 4 - 1) / 2 + 1
  CHECK(fftconv::output_extent(10, 3, 0, 3, 1) == 3);  // floor(7 / 3) + 1
  CHECK(fftconv::output_extent(4, 3, 0, 1, 2) == 0);   // dilated kernel (5) larger than the input: rejected later
  CHECK(fftconv::output_extent(1, 1, 0, 5, 1) == 1);
}

TEST_CASE("output_extent with low and high padding: floor((n + lo + hi - d(k-1) - 1) / s) + 1") {
  CHECK(fftconv::output_extent(32, 5, 4, 0, 1, 1) == 32);  // causal
  CHECK(fftconv::output_extent(32, 4, 1, 2, 1, 1) == 32);  // 'same' for an even kernel
  CHECK(fftconv::output_extent(9, 3, 0, 1, 2, 2) == 3);    // (9 + 1 - 4 - 1) / 2 + 1
  CHECK(fftconv::output_extent(9, 3, 1, 0, 2, 2) == 3);
  CHECK(fftconv::output_extent(10, 3, 2, 1, 3, 1) == 4);   // floor(10 / 3) + 1
  CHECK(fftconv::output_extent(4, 5, 0, 0, 1, 1) == 0);
  for (std::int64_t p = 0; p < 4; ++p) CHECK(fftconv::output_extent(11, 3, p, p, 2, 2) == fftconv::output_extent(11, 3, p, 2, 2));
}

using sides1 = fftconv::padding_sides<1>;
using sides2 = fftconv::padding_sides<2>;
using array2 = std::array<std::int64_t, 2>;

TEST_CASE("padding_sides: every way of writing it, and its sides") {
  const sides2 none;
  CHECK(none.low() == array2{0, 0});
  CHECK(none.high() == array2{0, 0});
  CHECK(none.symmetric());
  CHECK_FALSE(none.high_side.has_value());

  const sides2 listed = {1, 2};  // symmetric, as PyTorch's padding
  CHECK(listed.low() == array2{1, 2});
  CHECK(listed.high() == array2{1, 2});
  CHECK(listed.symmetric());
  const sides2 from_array = array2{3, 4};
  CHECK(from_array.high() == array2{3, 4});
  const sides2 both = {{1, 1}, {0, 2}};
  CHECK(both.low() == array2{1, 1});
  CHECK(both.high() == array2{0, 2});
  CHECK_FALSE(both.symmetric());
  const sides2 explicit_equal_sides = {{1, 2}, {1, 2}};
  CHECK(explicit_equal_sides.symmetric());

  // The array is the low side: element access, fill, iteration and copies to std::array read it.
  sides2 edited = both;
  edited[0] = 5;
  CHECK(edited.low() == array2{5, 1});
  CHECK(edited.high() == array2{0, 2});
  edited.fill(7);
  CHECK(edited.low() == array2{7, 7});
  CHECK(edited.high() == array2{0, 2});
  std::int64_t total = 0;
  for (auto v : both) total += v;
  CHECK(total == 2);
  const array2 low = both;
  CHECK(low == array2{1, 1});

  // Designated initializers, one dim and two.
  const fftconv::geometry<1> causal{.in_channels = 1, .out_channels = 1, .kernel = {3}, .padding = {{2}, {0}}};
  CHECK(causal.padding.low() == std::array<std::int64_t, 1>{2});
  CHECK(causal.padding.high() == std::array<std::int64_t, 1>{0});
  const fftconv::geometry<1> symmetric1{.in_channels = 1, .out_channels = 1, .kernel = {3}, .padding = {3}};
  CHECK(symmetric1.padding.high() == std::array<std::int64_t, 1>{3});
  const fftconv::geometry<2> g{.in_channels = 1, .out_channels = 1, .kernel = {3, 3}, .padding = {{1, 1}, {0, 2}}};
  CHECK(g.padding.high() == array2{0, 2});
  static_assert(!std::is_constructible_v<sides1, int, int>, "two plain numbers are not a one-dim padding");
}

TEST_CASE("padding_sides equality: both sides, and std::array compares the low side") {
  const sides2 symmetric = {1, 2};
  const sides2 spelled_out = {{1, 2}, {1, 2}};
  const sides2 asymmetric = {{1, 2}, {1, 3}};
  CHECK(symmetric == spelled_out);
  CHECK(spelled_out == symmetric);
  CHECK(symmetric != asymmetric);
  CHECK(asymmetric != symmetric);
  CHECK(asymmetric == sides2{{1, 2}, {1, 3}});
  // Against a std::array, std::array's == (the low side), in either order.
  CHECK(symmetric == array2{1, 2});
  CHECK(array2{1, 2} == symmetric);
  CHECK(asymmetric == array2{1, 2});
  CHECK(array2{1, 2} == asymmetric);
  CHECK(asymmetric != array2{1, 3});

  // geometry's == compares the high side too.
  fftconv::geometry<2> a{.in_channels = 1, .out_channels = 1, .kernel = {3, 3}, .padding = {1, 2}};
  fftconv::geometry<2> b = a;
  CHECK(a == b);
  b.padding = {{1, 2}, {1, 2}};
  CHECK(a == b);
  b.padding = {{1, 2}, {0, 2}};
  CHECK(a != b);
  CHECK(b != a);
}

TEST_CASE("same_padding splits the dilated span as PyTorch's padding='same'") {
  const auto padding = fftconv::same_padding<2>({7, 3}, {1, 2});
  CHECK(padding == std::array<std::int64_t, 2>{3, 2});
  CHECK(padding.symmetric());
  CHECK(fftconv::output_extent(64, 7, padding[0], 1, 1) == 64);
  CHECK(fftconv::output_extent(64, 3, padding[1], 1, 2) == 64);

  // Even kernels: odd span t, floor(t/2) low and the rest high.
  const auto even = fftconv::same_padding<1>({4});
  CHECK(even.low() == std::array<std::int64_t, 1>{1});
  CHECK(even.high() == std::array<std::int64_t, 1>{2});
  CHECK_FALSE(even.symmetric());
  CHECK(fftconv::output_extent(64, 4, even.low()[0], even.high()[0], 1, 1) == 64);

  // Dilation: k 4, d 3 spans 9 (4 low, 5 high); k 2, d 2 spans 2 (symmetric 1); k 6, d 1 spans 5.
  const auto dilated = fftconv::same_padding<3>({4, 2, 6}, {3, 2, 1});
  CHECK(dilated.low() == std::array<std::int64_t, 3>{4, 1, 2});
  CHECK(dilated.high() == std::array<std::int64_t, 3>{5, 1, 3});
  const std::array<std::int64_t, 3> kernel{4, 2, 6}, dilation{3, 2, 1};
  for (int d = 0; d < 3; ++d)
    CHECK(fftconv::output_extent(17, kernel[d], dilated.low()[d], dilated.high()[d], 1, dilation[d]) == 17);

  check_throws_naming<fftconv::invalid_argument>([] { (void)fftconv::same_padding<1>({0}); }, {"kernel[0] = 0"});
  check_throws_naming<fftconv::invalid_argument>([] { (void)fftconv::same_padding<2>({3, 3}, {1, 0}); },
                                                 {"dilation[1] = 0"});
}

TEST_CASE("causal_padding puts the whole dilated span before the input") {
  const auto causal = fftconv::causal_padding<1>({5});
  CHECK(causal.low() == std::array<std::int64_t, 1>{4});
  CHECK(causal.high() == std::array<std::int64_t, 1>{0});
  CHECK(fftconv::output_extent(32, 5, 4, 0, 1, 1) == 32);
  const auto dilated = fftconv::causal_padding<2>({3, 1}, {4, 2});
  CHECK(dilated.low() == array2{8, 0});
  CHECK(dilated.high() == array2{0, 0});
  CHECK_FALSE(dilated.symmetric());
  check_throws_naming<fftconv::invalid_argument>([] { (void)fftconv::causal_padding<1>({0}); }, {"causal_padding", "kernel[0] = 0"});
  // In a geometry: the output keeps the input's extent.
  fftconv::conv<1, double, fftconv::naive> layer(
      {.in_channels = 1, .out_channels = 1, .kernel = {5}, .padding = fftconv::causal_padding<1>({5})});
  CHECK(layer.output_extents({1, 1, 12}) == std::array<std::int64_t, 3>{1, 1, 12});
}

TEST_CASE("conv refuses invalid geometry, naming the field and its value") {
  using layer = fftconv::conv<2, float, fftconv::naive>;
  auto make = [](auto edit) {
    fftconv::geometry<2> g{.in_channels = 4, .out_channels = 6, .kernel = {3, 3}, .groups = 2};
    edit(g);
    return [g] { layer l(g); };
  };
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.in_channels = 0; }), {"in_channels", "0"});
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.out_channels = -2; }), {"out_channels", "-2"});
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.groups = 3; }), {"groups = 3", "in_channels = 4"});
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.out_channels = 5; }), {"groups = 2", "out_channels = 5"});
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.groups = 0; }), {"groups", "0"});
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.kernel[1] = 0; }), {"kernel[1]", "0"});
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.padding[0] = -1; }), {"padding[0]", "-1"});
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.padding = {{1, 1}, {0, -3}}; }),
                                                 {"padding.high()[1]", "-3"});
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.padding = {{1, -2}, {0, 0}}; }),
                                                 {"padding[1]", "-2"});
  check_throws_naming<fftconv::invalid_argument>(
      make([](auto& g) { g.padding = {{0, 0}, {std::int64_t{1} << 32, 0}}; }), {"padding", "2^31"});
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.stride[1] = 0; }), {"stride[1]", "0"});
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.dilation[0] = 0; }), {"dilation[0]", "0"});
  CHECK_NOTHROW(make([](auto&) {})());
  CHECK_NOTHROW(make([](auto& g) { g.padding = {{0, 2}, {2, 0}}; })());
}

TEST_CASE("output_extents of a conv object") {
  fftconv::conv<3, double, fftconv::naive> layer({.in_channels = 2, .out_channels = 5, .kernel = {3, 1, 2},
                                                  .padding = {1, 0, 0}, .stride = {2, 1, 1}, .dilation = {1, 1, 3}});
  CHECK(layer.output_extents({4, 2, 9, 5, 7}) == std::array<std::int64_t, 5>{4, 5, 5, 5, 4});
  check_throws_naming<fftconv::invalid_argument>([&] { (void)layer.output_extents({4, 3, 9, 5, 7}); },
                                                 {"3 channels", "in_channels = 2"});
  check_throws_naming<fftconv::invalid_argument>([&] { (void)layer.output_extents({4, 2, 9, 5, 3}); },
                                                 {"spatial dim 2", "is 0"});
  // The high side alone can make room for the kernel.
  fftconv::conv<2, double, fftconv::naive> padded_after(
      {.in_channels = 1, .out_channels = 1, .kernel = {3, 4}, .padding = {{0, 0}, {2, 3}}, .stride = {1, 2}});
  CHECK(padded_after.output_extents({1, 1, 1, 1}) == std::array<std::int64_t, 4>{1, 1, 1, 1});
  CHECK(padded_after.output_extents({1, 1, 5, 6}) == std::array<std::int64_t, 4>{1, 1, 5, 3});
  fftconv::conv<2, double, fftconv::naive> too_little_after(
      {.in_channels = 1, .out_channels = 1, .kernel = {3, 4}, .padding = {{0, 0}, {2, 0}}, .stride = {1, 2}});
  check_throws_naming<fftconv::invalid_argument>([&] { (void)too_little_after.output_extents({1, 1, 1, 1}); },
                                                 {"spatial dim 1", "is -1", "padding 0 low 0 high"});
  check_throws_naming<fftconv::invalid_argument>([&] { (void)layer.output_extents({0, 2, 9, 5, 7}); }, {">= 1"});
}
