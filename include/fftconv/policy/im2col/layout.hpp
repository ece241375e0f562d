#pragma once
// The im2col policy's shape arithmetic: how a pass's columns and GEMMs are laid out and how the batch is
// chunked under the workspace limit. Pure functions of the problem, so tests check them without running anything.

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../../backend/common/gemm.hpp"
#include "../../error.hpp"
#include "../../geometry.hpp"
#include "../../policy.hpp"  // pass
#include "../../tuning.hpp"

namespace fftconv::detail {

// Indices inside one chunk stay below this, so the element functors use 32-bit fast division (see
// kernels/im2col.hpp), and the GEMM dimensions fit CBLAS's 32-bit integers.
inline constexpr std::int64_t im2col_index_limit = (std::int64_t{1} << 31) - 1;

// The host forward runs in blocks of output rows when one image's product exceeds this (tuning.hpp).
inline constexpr std::int64_t im2col_blocked_forward_product = host_tuning.im2col_blocked_forward_product;

// The GEMMs of one chunk: `desc` runs `loops` times, the l-th time with A, B and C advanced by l * *_step
// elements. Batched over images and looped over groups, or the other way round when groups outnumber images.
struct im2col_gemm {
  gemm_desc desc;
  std::int64_t loops = 1;
  std::int64_t a_step = 0, b_step = 0, c_step = 0;

  friend bool operator==(const im2col_gemm&, const im2col_gemm&) = default;
};

// Everything a pass needs to know about its shape: the sizes of one image's operands and how the batch is
// chunked. Pure arithmetic over the problem, so tests can check it without running anything.
struct im2col_layout {
  std::int64_t batch = 0;
  std::int64_t groups = 0;
  std::int64_t out_channels = 0;
  std::int64_t out_per_group = 0;  // O/g
  std::int64_t rows_per_group = 0;  // C/g * K: the GEMM's inner dimension
  std::int64_t rows = 0;            // C * K
  std::int64_t output_spatial = 0;  // S
  std::int64_t input_image = 0;     // C * input spatial
  std::int64_t output_image = 0;    // O * S
  std::int64_t weight_size = 0;     // O * C/g * K
  bool direct = false;              // 1x1, stride 1, no padding: x is its own column matrix
  std::int64_t images_per_chunk = 1;
  std::int64_t chunks = 1;

  std::int64_t column_image() const { return direct ? 0 : rows * output_spatial; }
  std::int64_t columns_stride() const { return rows * output_spatial; }  // between images' columns

  // Elements of workspace one chunk of `images` uses in pass `which`.
  std::int64_t workspace_elements(pass which, std::int64_t images) const {
    std::int64_t elements = images * column_image();
    if (which == pass::backward_filter && images > 1) elements += images * weight_size;
    return elements;
  }

  // forward: y_b,g [O/g, S] = W_g [O/g, C/g*K] * columns_b,g [C/g*K, S].
  im2col_gemm forward_gemm(std::int64_t images) const {
    const std::int64_t m = out_per_group, n = output_spatial, k = rows_per_group;
    return batched(images, gemm_desc{gemm_op::none, gemm_op::none, m, n, k, k, n, n},
                   /*image a,b,c*/ 0, columns_stride(), output_image,
                   /*group a,b,c*/ m * k, k * n, m * n);
  }

  // backward_data: columns_b,g [C/g*K, S] = W_gᵀ * dY_b,g [O/g, S] (W_g stored [O/g, C/g*K]).
  im2col_gemm backward_data_gemm(std::int64_t images) const {
    const std::int64_t m = rows_per_group, n = output_spatial, k = out_per_group;
    return batched(images, gemm_desc{gemm_op::transpose, gemm_op::none, m, n, k, m, n, n},
                   /*image*/ 0, output_image, columns_stride(),
                   /*group*/ k * m, k * n, m * n);
  }

  // backward_filter: partial_b,g [O/g, C/g*K] = dY_b,g [O/g, S] * columns_b,gᵀ (columns stored [C/g*K, S]).
  im2col_gemm backward_filter_gemm(std::int64_t images) const {
    const std::int64_t m = out_per_group, n = rows_per_group, k = output_spatial;
    return batched(images, gemm_desc{gemm_op::none, gemm_op::transpose, m, n, k, k, k, n},
                   /*image*/ output_image, columns_stride(), weight_size,
                   /*group*/ m * k, n * k, m * n);
  }

 private:
  im2col_gemm batched(std::int64_t images, gemm_desc desc, std::int64_t image_a, std::int64_t image_b,
                      std::int64_t image_c, std::int64_t group_a, std::int64_t group_b, std::int64_t group_c) const {
    im2col_gemm g{desc};
    if (images >= groups) {
      g.desc.batch = images;
      g.desc.stride_a = image_a, g.desc.stride_b = image_b, g.desc.stride_c = image_c;
      g.loops = groups;
      g.a_step = group_a, g.b_step = group_b, g.c_step = group_c;
    } else {
      g.desc.batch = groups;
      g.desc.stride_a = group_a, g.desc.stride_b = group_b, g.desc.stride_c = group_c;
      g.loops = images;
      g.a_step = image_a, g.b_step = image_b, g.c_step = image_c;
    }
    return g;
  }
};

// A 1x1 layer without stride or padding: its columns would be x itself, so the GEMMs take x (and write dx)
// directly. A matter of the geometry alone.
template <int N>
bool im2col_direct(const problem<N>& p) {
  bool direct = true;
  for (int d = 0; d < N; ++d)
    direct = direct && p.kernel[d] == 1 && p.stride[d] == 1 && p.padding[d] == 0 && p.padding_high[d] == 0;
  return direct;
}

// The layout of pass `which` over problem p, with chunks sized so that one chunk's workspace of
// `element_bytes`-sized elements stays under `limit_bytes` (at least one image per chunk).
template <int N>
im2col_layout make_im2col_layout(const problem<N>& p, pass which, std::size_t element_bytes,
                                 std::size_t limit_bytes) {
  im2col_layout l;
  l.batch = p.batch;
  l.groups = p.groups;
  l.out_channels = p.out_channels;
  l.out_per_group = p.out_channels_per_group();
  const std::int64_t taps = p.kernel_spatial();
  l.rows_per_group = checked_multiply(p.in_channels_per_group(), taps, "im2col columns");
  l.rows = checked_multiply(p.in_channels, taps, "im2col columns");
  l.output_spatial = p.output_spatial();
  l.input_image = checked_multiply(p.in_channels, p.input_spatial(), "im2col input");
  l.output_image = checked_multiply(p.out_channels, l.output_spatial, "im2col output");
  l.weight_size = p.weight_size();
  l.direct = im2col_direct<N>(p);

  // The 32-bit index arithmetic needs every per-chunk extent below 2^31; one image must fit.
  const std::int64_t column_image = checked_multiply(l.rows, l.output_spatial, "im2col columns");
  const std::int64_t largest_image = std::max({column_image, l.input_image, l.output_image, l.weight_size});
  for (int d = 0; d < N; ++d)
    if (p.input[d] + p.padding[d] + p.padding_high[d] >= im2col_index_limit)
      fail("im2col: input extent ", p.input[d], " + padding ", p.padding[d], " + ", p.padding_high[d], " of spatial dim ", d,
           " must be < 2^31 - 1; use fftconv::naive or fftconv::fft");
  if (largest_image >= im2col_index_limit)
    fail("im2col: one image needs ", largest_image, " elements in one operand (columns ", column_image, ", x ",
         l.input_image, ", y ", l.output_image, ", w ", l.weight_size,
         "), more than the 2^31 - 1 this policy indexes; use fftconv::naive or fftconv::fft");
  std::int64_t most_images = im2col_index_limit / largest_image;

  // Workspace per image; the filter pass's partials are only needed when a chunk has several images.
  const std::int64_t per_image = l.workspace_elements(which, 2) / 2;
  if (per_image > 0) {
    const auto fit = static_cast<std::int64_t>(limit_bytes / element_bytes / static_cast<std::size_t>(per_image));
    most_images = std::min(most_images, std::max<std::int64_t>(fit, 1));
  }
  most_images = std::min(most_images, p.batch);
  // Balanced chunks: 32 images under a limit of 28 run as 16 + 16, not 28 + 4.
  l.chunks = (p.batch + most_images - 1) / most_images;
  l.images_per_chunk = (p.batch + l.chunks - 1) / l.chunks;
  return l;
}

}  // namespace fftconv::detail
