// Geometry: the output-size rule, 'same' padding, and validation of every field.
#include <doctest/doctest.h>

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

TEST_CASE("same_padding keeps the extent at stride 1 and refuses even dilated kernels") {
  const auto padding = fftconv::same_padding<2>({7, 3}, {1, 2});
  CHECK(padding == std::array<std::int64_t, 2>{3, 2});
  CHECK(fftconv::output_extent(64, 7, padding[0], 1, 1) == 64);
  CHECK(fftconv::output_extent(64, 3, padding[1], 1, 2) == 64);
  check_throws_naming<fftconv::invalid_argument>([] { (void)fftconv::same_padding<1>({4}); }, {"kernel[0]", "odd"});
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
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.stride[1] = 0; }), {"stride[1]", "0"});
  check_throws_naming<fftconv::invalid_argument>(make([](auto& g) { g.dilation[0] = 0; }), {"dilation[0]", "0"});
  CHECK_NOTHROW(make([](auto&) {})());
}

TEST_CASE("output_extents of a conv object") {
  fftconv::conv<3, double, fftconv::naive> layer({.in_channels = 2, .out_channels = 5, .kernel = {3, 1, 2},
                                                  .padding = {1, 0, 0}, .stride = {2, 1, 1}, .dilation = {1, 1, 3}});
  CHECK(layer.output_extents({4, 2, 9, 5, 7}) == std::array<std::int64_t, 5>{4, 5, 5, 5, 4});
  check_throws_naming<fftconv::invalid_argument>([&] { (void)layer.output_extents({4, 3, 9, 5, 7}); },
                                                 {"3 channels", "in_channels = 2"});
  check_throws_naming<fftconv::invalid_argument>([&] { (void)layer.output_extents({4, 2, 9, 5, 3}); },
                                                 {"spatial dim 2", "is 0"});
  check_throws_naming<fftconv::invalid_argument>([&] { (void)layer.output_extents({0, 2, 9, 5, 7}); }, {">= 1"});
}
