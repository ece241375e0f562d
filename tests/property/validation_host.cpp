// Bad input: every rule raises invalid_argument naming the argument and values, and no output is written.
#include <limits>

#include "../support/expect_error.hpp"
#include "property.hpp"

using policy_under_test = FFTCONV_TEST_POLICY;
using testing_support::check_throws_naming;

namespace {

using view4 = fftconv::view<float, 4>;
using const_view4 = fftconv::view<const float, 4>;

// A 2D layer (C_in 4, C_out 6, groups 2, k 3x3, padding 1) and buffers for batch 2 at 8x7.
struct fixture {
  fftconv::conv<2, float, policy_under_test> layer{
      fftconv::geometry<2>{.in_channels = 4, .out_channels = 6, .kernel = {3, 3}, .padding = {1, 1}, .groups = 2}};
  std::vector<float> x = as_float(testing_support::random_values(2 * 4 * 8 * 7, 1));
  std::vector<float> w = as_float(testing_support::random_values(6 * 2 * 3 * 3, 2));
  std::vector<float> bias = as_float(testing_support::random_values(6, 3));
  std::vector<float> dy = as_float(testing_support::random_values(2 * 6 * 8 * 7, 4));
  std::vector<float> y = std::vector<float>(2 * 6 * 8 * 7, 42.0f);
  std::vector<float> dx = std::vector<float>(2 * 4 * 8 * 7, 42.0f);
  std::vector<float> dw = std::vector<float>(6 * 2 * 3 * 3, 42.0f);
  std::vector<float> db = std::vector<float>(6, 42.0f);

  static std::vector<float> as_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }
  const_view4 x_view(std::int64_t n = 2, std::int64_t c = 4, std::int64_t h = 8, std::int64_t w_ = 7) const {
    return const_view4(x.data(), n, c, h, w_);
  }
  const_view4 w_view() const { return const_view4(w.data(), 6, 2, 3, 3); }
  const_view4 dy_view() const { return const_view4(dy.data(), 2, 6, 8, 7); }

  bool outputs_untouched() const {
    auto all_42 = [](const std::vector<float>& v) {
      for (float e : v)
        if (e != 42.0f) return false;
      return true;
    };
    return all_42(y) && all_42(dx) && all_42(dw) && all_42(db);
  }
};

}  // namespace

TEST_CASE("validation: forward refuses mismatched extents, null data and aliasing, and writes nothing") {
  fixture f;
  const fftconv::host h;
  auto forward = [&](const_view4 x, const_view4 w, const float* bias, view4 y) { f.layer.forward(h, x, w, bias, y); };
  check_throws_naming<fftconv::invalid_argument>(
      [&] { forward(f.x_view(2, 5), f.w_view(), f.bias.data(), view4(f.y.data(), 2, 6, 8, 7)); },
      {"forward", "x has 5 channels", "in_channels = 4"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { forward(f.x_view(), const_view4(f.w.data(), 6, 4, 3, 3), f.bias.data(), view4(f.y.data(), 2, 6, 8, 7)); },
      {"w has extents [6, 4, 3, 3]", "[6, 2, 3, 3]"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { forward(f.x_view(), f.w_view(), f.bias.data(), view4(f.y.data(), 2, 6, 8, 6)); },
      {"y has extents [2, 6, 8, 6]", "[2, 6, 8, 7]"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { forward(const_view4(nullptr, 2, 4, 8, 7), f.w_view(), f.bias.data(), view4(f.y.data(), 2, 6, 8, 7)); }, {"x is null"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { forward(f.x_view(), f.w_view(), f.bias.data(), view4(nullptr, 2, 6, 8, 7)); }, {"y is null"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { forward(f.x_view(2, 4, 8, 0), f.w_view(), f.bias.data(), view4(f.y.data(), 2, 6, 8, 7)); },
      {"x has extents [2, 4, 8, 0]", ">= 1"});
  // A 1x1 input with no padding cannot hold a 3x3 window: output extent < 1.
  fftconv::conv<2, float, policy_under_test> unpadded({.in_channels = 4, .out_channels = 6, .kernel = {3, 3}, .groups = 2});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { unpadded.forward(h, f.x_view(2, 4, 2, 7), f.w_view(), nullptr, view4(f.y.data(), 2, 6, 1, 5)); },
      {"output extent of spatial dim 0 is 0", "kernel 3"});
  // y over x (in-place) is refused.
  std::vector<float> shared(2 * 6 * 8 * 7, 42.0f);
  check_throws_naming<fftconv::invalid_argument>(
      [&] { forward(const_view4(shared.data(), 2, 4, 8, 7), f.w_view(), nullptr, view4(shared.data(), 2, 6, 8, 7)); },
      {"y overlaps x"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { forward(f.x_view(), f.w_view(), f.y.data() + 5, view4(f.y.data(), 2, 6, 8, 7)); }, {"y overlaps bias"});
  CHECK(f.outputs_untouched());
}

TEST_CASE("validation: an element count beyond int64 is refused before any access") {
  fixture f;
  const std::int64_t huge = std::int64_t{1} << 40;
  fftconv::conv<2, float, policy_under_test> wide({.in_channels = 4, .out_channels = 6, .kernel = {1, 1}, .groups = 2});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { wide.forward(fftconv::host{}, const_view4(f.x.data(), huge, 4, huge, 7), const_view4(f.w.data(), 6, 2, 1, 1),
                         nullptr, view4(f.y.data(), huge, 6, huge, 7)); },
      {"x", "overflows"});
  CHECK(f.outputs_untouched());
}

TEST_CASE("validation: backward_data refuses mismatched dy, w and dx, and writes nothing") {
  fixture f;
  const fftconv::host h;
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_data(h, const_view4(f.dy.data(), 2, 6, 8, 6), f.w_view(), view4(f.dx.data(), 2, 4, 8, 7)); },
      {"backward_data", "dy has extents [2, 6, 8, 6]", "[2, 6, 8, 7]"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_data(h, f.dy_view(), const_view4(f.w.data(), 6, 2, 3, 2), view4(f.dx.data(), 2, 4, 8, 7)); },
      {"w has extents [6, 2, 3, 2]"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_data(h, f.dy_view(), f.w_view(), view4(f.dx.data(), 2, 3, 8, 7)); },
      {"dx has 3 channels"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_data(h, f.dy_view(), f.w_view(), view4(nullptr, 2, 4, 8, 7)); }, {"dx is null"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_data(h, const_view4(f.dx.data(), 2, 6, 8, 7), f.w_view(), view4(f.dx.data(), 2, 4, 8, 7)); },
      {"dx overlaps dy"});
  CHECK(f.outputs_untouched());
}

TEST_CASE("validation: backward_filter refuses mismatched x, dy, dw and aliasing db, and writes nothing") {
  fixture f;
  const fftconv::host h;
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_filter(h, f.x_view(), f.dy_view(), view4(f.dw.data(), 6, 2, 3, 1), f.db.data()); },
      {"backward_filter", "dw has extents [6, 2, 3, 1]"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_filter(h, f.x_view(3), f.dy_view(), view4(f.dw.data(), 6, 2, 3, 3), f.db.data()); },
      {"dy has extents [2, 6, 8, 7]", "[3, 6, 8, 7]"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_filter(h, f.x_view(), f.dy_view(), view4(f.dw.data(), 6, 2, 3, 3), f.dw.data() + 3); },
      {"dw overlaps dbias"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { f.layer.backward_filter(h, f.x_view(), f.dy_view(), view4(f.dw.data(), 6, 2, 3, 3), const_cast<float*>(f.dy.data())); },
      {"dbias overlaps dy"});
  CHECK(f.outputs_untouched());
}

TEST_CASE("validation: asymmetric padding sets the expected output extents, and a negative side is refused") {
  fixture f;
  const fftconv::host h;
  // Low (1, 1), high (0, 2): an 8x7 input gives (8 + 1 + 0 - 2 - 1) + 1 = 7 by (7 + 1 + 2 - 2 - 1) + 1 = 8.
  fftconv::conv<2, float, policy_under_test> asymmetric(
      {.in_channels = 4, .out_channels = 6, .kernel = {3, 3}, .padding = {{1, 1}, {0, 2}}, .groups = 2});
  CHECK(asymmetric.output_extents({2, 4, 8, 7}) == std::array<std::int64_t, 4>{2, 6, 7, 8});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { asymmetric.forward(h, f.x_view(), f.w_view(), f.bias.data(), view4(f.y.data(), 2, 6, 8, 7)); },
      {"forward", "y has extents [2, 6, 8, 7]", "[2, 6, 7, 8]"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { asymmetric.backward_data(h, f.dy_view(), f.w_view(), view4(f.dx.data(), 2, 4, 8, 7)); },
      {"backward_data", "dy has extents [2, 6, 8, 7]", "[2, 6, 7, 8]"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { asymmetric.backward_filter(h, f.x_view(), f.dy_view(), view4(f.dw.data(), 6, 2, 3, 3), f.db.data()); },
      {"backward_filter", "dy has extents [2, 6, 8, 7]", "[2, 6, 7, 8]"});
  // Only the high side makes room for the window: with it 0, a 2-row input is too short for 3 rows at stride 1.
  fftconv::conv<2, float, policy_under_test> low_only(
      {.in_channels = 4, .out_channels = 6, .kernel = {3, 3}, .padding = {{0, 1}, {0, 1}}, .groups = 2});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { low_only.forward(h, f.x_view(2, 4, 2, 7), f.w_view(), nullptr, view4(f.y.data(), 2, 6, 1, 7)); },
      {"output extent of spatial dim 0 is 0", "padding 0 low 0 high"});
  using layer = fftconv::conv<2, float, policy_under_test>;
  check_throws_naming<fftconv::invalid_argument>(
      [] { layer l({.in_channels = 4, .out_channels = 6, .kernel = {3, 3}, .padding = {{1, 1}, {1, -1}}, .groups = 2}); },
      {"padding.high()[1]", "-1"});
  CHECK(f.outputs_untouched());
}
