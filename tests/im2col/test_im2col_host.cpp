// The im2col policy on the host: its GEMM descriptors and chunk layout as values (the same descriptors the
// GPU runs through cuBLAS), chunked execution, the 1x1 path, and the 32-bit division of the gathers.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>

#include "../support/expect_error.hpp"
#include "../support/kernel_layouts.hpp"
#include "im2col_checks.hpp"

using fftconv::detail::gemm_desc;
using fftconv::detail::gemm_op;
using fftconv::detail::im2col_gemm;

namespace {

// 2D, 4 -> 6 channels in 2 groups, 3x3 kernel, 8x8 input, padding 1: S = 64 output positions per image,
// C/g*K = 2*9 = 18 column rows per group, O/g = 3, y image = 6*64 = 384, columns per image = 36*64 = 2304.
fftconv::detail::problem<2> known_problem(std::int64_t batch) {
  fftconv::geometry<2> g{.in_channels = 4, .out_channels = 6, .kernel = {3, 3}, .padding = {1, 1}, .groups = 2};
  return fftconv::detail::make_problem<2>(g, batch, {8, 8});
}

}  // namespace

TEST_CASE("im2col: GEMM descriptors of a known layer, batched over images") {
  const auto layout = fftconv::detail::make_im2col_layout<2>(known_problem(5), fftconv::pass::forward, sizeof(float),
                                                             std::size_t{1} << 30);
  CHECK(layout.images_per_chunk == 5);
  CHECK(layout.chunks == 1);
  CHECK_FALSE(layout.direct);

  // y_b,g [3 x 64] = W_g [3 x 18] * columns_b,g [18 x 64]; W shared by the images, groups one loop apart.
  const im2col_gemm forward = layout.forward_gemm(5);
  CHECK(forward.desc == gemm_desc{.op_a = gemm_op::none, .op_b = gemm_op::none, .m = 3, .n = 64, .k = 18,
                                  .lda = 18, .ldb = 64, .ldc = 64,
                                  .stride_a = 0, .stride_b = 2304, .stride_c = 384, .batch = 5});
  CHECK(forward.loops == 2);
  CHECK(forward.a_step == 3 * 18);
  CHECK(forward.b_step == 18 * 64);
  CHECK(forward.c_step == 3 * 64);

  // columns_b,g [18 x 64] = W_gᵀ (W_g stored 3 x 18) * dY_b,g [3 x 64].
  const im2col_gemm data = layout.backward_data_gemm(5);
  CHECK(data.desc == gemm_desc{.op_a = gemm_op::transpose, .op_b = gemm_op::none, .m = 18, .n = 64, .k = 3,
                               .lda = 18, .ldb = 64, .ldc = 64,
                               .stride_a = 0, .stride_b = 384, .stride_c = 2304, .batch = 5});
  CHECK(data.loops == 2);
  CHECK(data.a_step == 54);
  CHECK(data.b_step == 192);
  CHECK(data.c_step == 1152);

  // partial_b,g [3 x 18] = dY_b,g [3 x 64] * columns_b,gᵀ (columns stored 18 x 64); partials one dW apart.
  const im2col_gemm filter = layout.backward_filter_gemm(5);
  CHECK(filter.desc == gemm_desc{.op_a = gemm_op::none, .op_b = gemm_op::transpose, .m = 3, .n = 18, .k = 64,
                                 .lda = 64, .ldb = 64, .ldc = 18,
                                 .stride_a = 384, .stride_b = 2304, .stride_c = 6 * 2 * 9, .batch = 5});
  CHECK(filter.loops == 2);
  CHECK(filter.a_step == 192);
  CHECK(filter.b_step == 1152);
  CHECK(filter.c_step == 54);
}

TEST_CASE("im2col: with more groups than images the batch runs over groups") {
  const auto layout = fftconv::detail::make_im2col_layout<2>(known_problem(1), fftconv::pass::forward, sizeof(float),
                                                             std::size_t{1} << 30);
  const im2col_gemm forward = layout.forward_gemm(1);
  CHECK(forward.desc == gemm_desc{.op_a = gemm_op::none, .op_b = gemm_op::none, .m = 3, .n = 64, .k = 18,
                                  .lda = 18, .ldb = 64, .ldc = 64,
                                  .stride_a = 54, .stride_b = 1152, .stride_c = 192, .batch = 2});
  CHECK(forward.loops == 1);
}

TEST_CASE("im2col: chunks are balanced and sized by the workspace limit") {
  // The bench's layer: 2D 32x64 -> 64 at 64x64, 3x3 'same'. One image's float columns: 64*9*4096*4 bytes.
  fftconv::geometry<2> g{.in_channels = 64, .out_channels = 64, .kernel = {3, 3}, .padding = {1, 1}};
  const auto p = fftconv::detail::make_problem<2>(g, 32, {64, 64});
  const std::size_t image = 64 * 9 * 4096 * 4;
  // The default 256 MiB holds 28 images: 32 run as 16 + 16, not 28 + 4.
  const auto by_default = fftconv::detail::make_im2col_layout<2>(p, fftconv::pass::forward, 4, std::size_t{256} << 20);
  CHECK(by_default.chunks == 2);
  CHECK(by_default.images_per_chunk == 16);
  // A limit of 5 images: 7 chunks of 5 (the last one 2).
  const auto five = fftconv::detail::make_im2col_layout<2>(p, fftconv::pass::forward, 4, 5 * image);
  CHECK(five.chunks == 7);
  CHECK(five.images_per_chunk == 5);
  CHECK(five.workspace_elements(fftconv::pass::forward, 5) * 4 == static_cast<std::int64_t>(5 * image));
  // backward_filter also holds each image's dW partial (64*64*9 elements), so 5 columns no longer fit 5 images.
  const auto filter = fftconv::detail::make_im2col_layout<2>(p, fftconv::pass::backward_filter, 4, 5 * image);
  CHECK(filter.images_per_chunk == 4);
  CHECK(filter.workspace_elements(fftconv::pass::backward_filter, 4) == 4 * (64 * 9 * 4096 + 64 * 64 * 9));
  // A limit below one image still makes progress, one image at a time.
  const auto tiny = fftconv::detail::make_im2col_layout<2>(p, fftconv::pass::forward, 4, 1);
  CHECK(tiny.chunks == 32);
  CHECK(tiny.images_per_chunk == 1);
}

TEST_CASE("im2col: the 1x1, stride-1, unpadded layer needs no column buffer") {
  fftconv::geometry<3> g{.in_channels = 8, .out_channels = 4, .kernel = {1, 1, 1}, .dilation = {2, 3, 1}};
  const auto p = fftconv::detail::make_problem<3>(g, 3, {4, 5, 6});
  const auto layout = fftconv::detail::make_im2col_layout<3>(p, fftconv::pass::forward, 8, 1);
  CHECK(layout.direct);
  CHECK(layout.chunks == 1);  // no workspace, so no reason to split the batch
  // y_b [4 x 120] = W [4 x 8] * x_b [8 x 120], x read in place.
  CHECK(layout.forward_gemm(3).desc == gemm_desc{.op_a = gemm_op::none, .op_b = gemm_op::none, .m = 4, .n = 120,
                                                 .k = 8, .lda = 8, .ldb = 120, .ldc = 120, .stride_a = 0,
                                                 .stride_b = 8 * 120, .stride_c = 4 * 120, .batch = 3});
  g.stride = {1, 2, 1};
  CHECK_FALSE(fftconv::detail::make_im2col_layout<3>(fftconv::detail::make_problem<3>(g, 3, {4, 5, 6}),
                                                     fftconv::pass::forward, 8, 1)
                  .direct);
}

TEST_CASE("im2col: an image whose columns exceed 32-bit indexing is refused with the sizes") {
  fftconv::geometry<3> g{.in_channels = 16, .out_channels = 16, .kernel = {3, 3, 3}, .padding = {1, 1, 1}};
  const auto p = fftconv::detail::make_problem<3>(g, 2, {256, 256, 256});  // 16*27*256^3 = 7.2e9 column entries
  testing_support::check_throws_naming<fftconv::invalid_argument>(
      [&] { (void)fftconv::detail::make_im2col_layout<3>(p, fftconv::pass::forward, 4, std::size_t{1} << 40); },
      {"im2col", "7247757312"});
}

TEST_CASE("im2col: fast_divmod agrees with / and % over the 31-bit range") {
  std::mt19937_64 rng(2024);
  const std::uint32_t top = (std::uint32_t{1} << 31) - 1;
  std::vector<std::uint32_t> divisors = {1, 2, 3, 5, 7, 9, 25, 64, 100, 4096, 65535, 65536, 65537, 1000003,
                                         top - 1, top};
  for (int i = 0; i < 200; ++i) divisors.push_back(1 + static_cast<std::uint32_t>(rng() % top));
  for (std::uint32_t d : divisors) {
    const fftconv::detail::fast_divmod f(d);
    std::vector<std::uint32_t> dividends = {0, 1, d - 1, d, top, top - 1, top - d};
    if (d < top / 2) dividends.push_back(2 * d - 1), dividends.push_back(2 * d);
    for (int i = 0; i < 2000; ++i) dividends.push_back(static_cast<std::uint32_t>(rng() % (std::uint64_t{top} + 1)));
    for (std::uint32_t n : dividends) {
      std::uint32_t remainder = 0;
      const std::uint32_t quotient = f.divide(n, remainder);
      if (quotient != n / d || remainder != n % d) {
        INFO(n, " / ", d, " gave ", quotient, " rem ", remainder);
        CHECK(quotient == n / d);
        CHECK(remainder == n % d);
      }
    }
  }
}

namespace {

// The GPU gathers one output position (or dx element) per thread, the host one row per iteration; CI has no
// GPU, so the GPU's functors run here on the host and must give the same bits as the row functors.
// channels_last: x and dx laid out [B][n...][C] (support/kernel_layouts.hpp).
template <int N, class T>
void check_row_and_element_gathers_agree(std::uint64_t seed, bool channels_last) {
  using namespace fftconv::detail;
  const reference::layer L = testing_support::random_layer(N, seed);
  INFO("seed ", seed, ": ", testing_support::describe(L));
  const problem<N> p = im2col_checks::problem_of<N>(L);
  const auto to_t = [](const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); };
  const std::vector<T> x = to_t(testing_support::random_values(L.x_size(), seed));
  const std::int64_t column_count = p.batch * p.in_channels * p.kernel_spatial() * p.output_spatial();
  const auto x_layout = testing_support::activation_layout<N>(channels_last, p.in_channels, p.input);
  const strided<const T, N> x_in{x.data(), x_layout};

  std::vector<T> by_element(column_count, T(1e6)), by_row(column_count, T(-1e6));
  backend<fftconv::host>::for_each_index(fftconv::host{}, column_count / p.kernel_spatial(),
                                         im2col_gather<N, T>{p, extent_divisors<N>(p), x_in, by_element.data()});
  backend<fftconv::host>::for_each_index(fftconv::host{}, column_count / p.output[N - 1],
                                         im2col_gather_rows<N, T>{p, x_in, by_row.data()});
  CHECK(by_element == by_row);

  const std::vector<T> columns = to_t(testing_support::random_values(column_count, seed + 1000));
  std::vector<T> dx_by_element(L.x_size(), T(1e6)), dx_by_row(L.x_size(), T(-1e6));
  backend<fftconv::host>::for_each_index(
      fftconv::host{}, L.x_size(), col2im_gather<N, T>{p, extent_divisors<N>(p), columns.data(), strided<T, N>{dx_by_element.data(), x_layout}});
  backend<fftconv::host>::for_each_index(fftconv::host{}, L.x_size() / p.input[N - 1],
                                         col2im_gather_rows<N, T>{p, columns.data(), strided<T, N>{dx_by_row.data(), x_layout}});
  CHECK(dx_by_element == dx_by_row);
}

}  // namespace

TEST_CASE_TEMPLATE("im2col: the GPU's per-element gathers equal the host's per-row gathers bit for bit", T, float,
                   double) {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    for (const bool channels_last : {false, true}) {
      check_row_and_element_gathers_agree<1, T>(seed, channels_last);
      check_row_and_element_gathers_agree<2, T>(seed, channels_last);
      check_row_and_element_gathers_agree<3, T>(seed, channels_last);
    }
  }
}

namespace {

template <int N, class T>
fftconv::detail::strided<const T, N> row_major_input(const fftconv::detail::problem<N>& p, const std::vector<T>& x) {
  return {x.data(), fftconv::detail::tensor_layout<N>::row_major(p.in_channels, p.input)};
}

// The host forward gathers one image's columns in blocks of output rows (dims 0..N-2): each block must hold
// exactly the entries of those rows in the whole image's columns, row for row.
template <int N, class T>
void check_block_gathers_are_slices(std::uint64_t seed) {
  using namespace fftconv::detail;
  const reference::layer L = testing_support::random_layer(N, seed);
  INFO("seed ", seed, ": ", testing_support::describe(L));
  const problem<N> p = im2col_checks::problem_of<N>(L);
  const std::vector<double> x_values = testing_support::random_values(L.x_size(), seed);
  const std::vector<T> x(x_values.begin(), x_values.end());
  const std::int64_t width = p.output[N - 1], output_rows = p.output_spatial() / width;
  const std::int64_t column_rows = p.in_channels * p.kernel_spatial();  // of one image
  std::vector<T> whole(column_rows * p.output_spatial(), T(-1e6));
  backend<fftconv::host>::for_each_index(fftconv::host{}, column_rows * output_rows,
                                         im2col_gather_rows<N, T>{p, row_major_input(p, x), whole.data()});
  for (std::int64_t block_rows = 1; block_rows <= std::min<std::int64_t>(output_rows, 3); ++block_rows)
    for (std::int64_t first = 0; first < output_rows; first += block_rows) {
      const std::int64_t rows = std::min(block_rows, output_rows - first);
      std::vector<T> block(column_rows * rows * width, T(1e6));
      backend<fftconv::host>::for_each_index(fftconv::host{}, column_rows * rows,
                                             im2col_gather_rows<N, T>{p, row_major_input(p, x), block.data(), first, rows});
      bool same = true;
      for (std::int64_t r = 0; r < column_rows; ++r)
        for (std::int64_t q = 0; q < rows * width; ++q)
          same = same && block[r * rows * width + q] == whole[r * p.output_spatial() + first * width + q];
      INFO("rows ", first, "..", first + rows);
      CHECK(same);
    }
}

}  // namespace

TEST_CASE_TEMPLATE("im2col host: a block of output rows gathers that slice of the image's columns", T, float, double) {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    check_block_gathers_are_slices<2, T>(seed);
    check_block_gathers_are_slices<3, T>(seed);
  }
}

TEST_CASE("im2col host: a forward over many row blocks (columns larger than a block) matches the reference") {
  // 32 -> 32 channels in 2 groups, 3x3, 64x64, padding 1, bias: one image's columns are 288 rows x 4096 floats
  // (4.5 MiB), so the forward runs in several blocks of output rows, the last one shorter.
  reference::layer L;
  L.rank = 2;
  L.batch = 2;
  L.in_channels = 32;
  L.out_channels = 32;
  L.groups = 2;
  L.input = {64, 64};
  L.kernel = {3, 3};
  L.padding = {1, 1};
  L.padding_high = {1, 1};
  L.stride = {1, 1};
  L.dilation = {1, 1};
  const auto x_values = testing_support::random_values(L.x_size(), 41);
  const auto w_values = testing_support::random_values(L.w_size(), 42);
  const auto bias_values = testing_support::random_values(L.out_channels, 43);
  const std::vector<float> x(x_values.begin(), x_values.end()), w(w_values.begin(), w_values.end()),
      bias(bias_values.begin(), bias_values.end());
  std::vector<float> y(static_cast<std::size_t>(L.y_size()));
  fftconv::conv<2, float, fftconv::im2col> layer(testing_support::geometry_of<2>(L));
  layer.forward(fftconv::host{}, fftconv::view<const float, 4>(x.data(), 2, 32, 64, 64),
                fftconv::view<const float, 4>(w.data(), 32, 16, 3, 3), bias.data(),
                fftconv::view<float, 4>(y.data(), 2, 32, 64, 64));
  CHECK(layer.workspace_bytes() < std::size_t{288} * 4096 * sizeof(float));  // blocks, not whole-image columns
  CHECK(layer.workspace_bytes() == layer.workspace_bytes({2, 32, 64, 64}, fftconv::passes::inference()));
  CHECK(testing_support::relative_l2(std::vector<double>(y.begin(), y.end()),
                                     reference::forward(L, x_values, w_values, &bias_values)) <=
        testing_support::tolerance<float>::forward);
}

TEST_CASE("im2col: set_workspace_limit releases the held workspace") {
  const reference::layer L = im2col_checks::strided_grouped_layer(2, 3);
  fftconv::conv<2, double, fftconv::im2col> layer(im2col_checks::geometry_of<2>(L));
  CHECK(layer.workspace_bytes() == 0);
  const auto values = testing_support::random_values(L.x_size() + L.w_size() + L.out_channels + L.y_size(), 5);
  const auto part = [&](std::int64_t begin, std::int64_t count) {
    return std::vector<double>(values.begin() + begin, values.begin() + begin + count);
  };
  (void)im2col_checks::run_passes<2, double>(layer, L, fftconv::host{}, part(0, L.x_size()),
                                             part(L.x_size(), L.w_size()), part(L.x_size() + L.w_size(), L.out_channels),
                                             part(L.x_size() + L.w_size() + L.out_channels, L.y_size()));
  CHECK(layer.workspace_bytes() > 0);
  // Exactly what the prediction says a step of the three passes holds.
  CHECK(layer.workspace_bytes() == layer.workspace_bytes(im2col_checks::extents<2>(L.batch, L.in_channels, L.input)));
  layer.set_workspace_limit(1 << 20);
  CHECK(layer.workspace_bytes() == 0);
}

TEST_CASE("im2col: a copied layer does not share the original's workspace, a moved one takes it") {
  const reference::layer L = im2col_checks::strided_grouped_layer(1, 2);
  fftconv::conv<1, float, fftconv::im2col> layer(im2col_checks::geometry_of<1>(L));
  const auto values = testing_support::random_values(L.x_size() + L.w_size() + L.out_channels + L.y_size(), 7);
  const auto part = [&](std::int64_t begin, std::int64_t count) {
    return std::vector<double>(values.begin() + begin, values.begin() + begin + count);
  };
  (void)im2col_checks::run_passes<1, float>(layer, L, fftconv::host{}, part(0, L.x_size()),
                                            part(L.x_size(), L.w_size()), part(L.x_size() + L.w_size(), L.out_channels),
                                            part(L.x_size() + L.w_size() + L.out_channels, L.y_size()));
  const std::size_t held = layer.workspace_bytes();
  REQUIRE(held > 0);
  const fftconv::conv<1, float, fftconv::im2col> copy = layer;
  CHECK(copy.workspace_bytes() == 0);
  CHECK(layer.workspace_bytes() == held);
  const fftconv::conv<1, float, fftconv::im2col> moved = std::move(layer);
  CHECK(moved.workspace_bytes() == held);
}

TEST_CASE_TEMPLATE("im2col host: a limit forcing several chunks matches one chunk and the reference", T, float, double) {
  im2col_checks::check_chunking<1, T>(fftconv::host{});
  im2col_checks::check_chunking<2, T>(fftconv::host{});
  im2col_checks::check_chunking<3, T>(fftconv::host{});
}

TEST_CASE_TEMPLATE("im2col host: the 1x1 path reads x and writes dx in place", T, float, double) {
  im2col_checks::check_pointwise<1, T>(fftconv::host{});
  im2col_checks::check_pointwise<2, T>(fftconv::host{});
  im2col_checks::check_pointwise<3, T>(fftconv::host{});
}

TEST_CASE_TEMPLATE("im2col host: every pass repeats bit for bit", T, float, double) {
  im2col_checks::check_repeatable<1, T>(fftconv::host{});
  im2col_checks::check_repeatable<2, T>(fftconv::host{});
  im2col_checks::check_repeatable<3, T>(fftconv::host{});
}
