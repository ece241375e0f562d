#pragma once
// im2col: gather every input window into a column buffer, then let a GEMM (cuBLAS / CBLAS) do the arithmetic.
//
//   forward          columns = gather(x);  y_b,g [O/g, S] = W_g [O/g, C/g*K] * columns_b,g [C/g*K, S];  y += bias
//   backward_data    columns_b,g = W_gᵀ * dY_b,g;  dx = col2im(columns), a gather per input element (no atomics)
//   backward_filter  columns = gather(x);  partial_b,g = dY_b,g * columns_b,gᵀ;  dW = Σ_b partial_b (fixed order)
//                    db = Σ_{b,q} dY (segmented sum)
// (K = taps, S = output spatial size, b = image, g = group.)
//
// Layout: the columns of one image are [C * K, S] row-major, so each GEMM reads/writes y, dy and dx in their
// natural NC(spatial) layout: no permute pass, and one strided-batched GEMM covers all images of a chunk (or all
// groups of an image, whichever is the larger batch). dW goes through per-image partials so that the batch is
// a GEMM batch (parallel on the GPU) rather than a serial K-loop, then a deterministic fixed-order sum.
//
// Memory: the column buffer is chunked over the batch so that the workspace stays under workspace_limit
// (default 256 MiB; chunks are balanced, and one image is always processed even if it alone exceeds the
// limit). The workspace is kept between calls (stream-ordered on the GPU) and released by
// set_workspace_limit; workspace_bytes() reports what is held. It is freed (cudaFreeAsync) on the stream of
// the call that allocated it, so destroy the layer, or call set_workspace_limit, before destroying that stream.
//
// Fast path: a 1x1 kernel with stride 1 and no padding needs no gather: x itself is the column matrix, and
// backward_data's GEMM writes dx directly.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>  // std::nothrow
#include <type_traits>
#include <utility>

#include "../backend/backend.hpp"
#include "../detail/bias_gradient.hpp"
#include "../detail/kernels/im2col.hpp"
#include "../error.hpp"
#include "../executor.hpp"
#include "../geometry.hpp"
#include "../call.hpp"  // keep
#include "../policy.hpp"
#include "../tuning.hpp"
#include "im2col/layout.hpp"
#include "im2col/workspace.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace fftconv::detail {

template <int N, class T>
class conv_impl<im2col, N, T> {
 public:
  static constexpr std::size_t default_workspace_limit = host_tuning.im2col_workspace_limit;

  explicit conv_impl(const geometry<N>&) {}

  // The gathers read x and write dx through their strides; the GEMMs take w, dy, y and dw dense, and the 1x1
  // fast path x and dx too.
  static strided_reach reach(const problem<N>& p) {
    const bool columns = !im2col_direct<N>(p);
    return {columns, false, false, false, columns, false};
  }

  template <class Exec>
  void forward(Exec exec, const problem<N>& p, strided<const T, N> x, strided<const T, N> weights, const T* bias,
               strided<T, N> output) {
    using be = backend<Exec>;
    const T* w = weights.data;
    T* y = output.data;
    const im2col_layout l = layout(p, pass::forward);
    if constexpr (!be::on_device) {
      // Blocks pay off when one image's product is large; small ones (LeNet's: 6 x 784 x 25) run batched
      // over the chunk's images below, which the host GEMM spreads over threads, one image per call.
      if (forward_blocked(l)) return forward_in_blocks(exec, p, l, x, w, bias, y);
    }
    T* columns = workspace_.get<T>(exec, static_cast<std::size_t>(l.workspace_elements(pass::forward, l.images_per_chunk)));
    for (std::int64_t first = 0; first < p.batch; first += l.images_per_chunk) {
      const std::int64_t images = std::min(l.images_per_chunk, p.batch - first);
      const strided<const T, N> x_chunk{x.data + first * x.layout.leading, x.layout};
      T* y_chunk = y + first * l.output_image;
      const T* b = x_chunk.data;  // the 1x1 fast path: x is dense
      if (!l.direct) {
        gather(exec, p, images * l.column_image(), x_chunk, columns);
        b = columns;
      }
      run(exec, l.forward_gemm(images), w, b, T(0), y_chunk);
      if (bias != nullptr)
        be::for_each_index(exec, images * l.output_image,
                           add_bias<T>{fast_divmod(l.output_spatial), fast_divmod(p.out_channels), bias, y_chunk});
    }
  }

  template <class Exec>
  void backward_data(Exec exec, const problem<N>& p, strided<const T, N> gradient, strided<const T, N> weights,
                     strided<T, N> dx) {
    const T* dy = gradient.data;
    const T* w = weights.data;
    const im2col_layout l = layout(p, pass::backward_data);
    T* columns =
        workspace_.get<T>(exec, static_cast<std::size_t>(l.workspace_elements(pass::backward_data, l.images_per_chunk)));
    for (std::int64_t first = 0; first < p.batch; first += l.images_per_chunk) {
      const std::int64_t images = std::min(l.images_per_chunk, p.batch - first);
      const strided<T, N> dx_chunk{dx.data + first * dx.layout.leading, dx.layout};
      // The 1x1 fast path's columns are dx itself (dense there).
      run(exec, l.backward_data_gemm(images), w, dy + first * l.output_image, T(0), l.direct ? dx_chunk.data : columns);
      if (!l.direct) scatter_back(exec, p, images * l.input_image, columns, dx_chunk);
    }
  }

  template <class Exec>
  void backward_filter(Exec exec, const problem<N>& p, strided<const T, N> x, strided<const T, N> gradient,
                       strided<T, N> weight_gradient, T* dbias) {
    using be = backend<Exec>;
    const T* dy = gradient.data;
    T* dw = weight_gradient.data;
    const im2col_layout l = layout(p, pass::backward_filter);
    T* workspace = workspace_.get<T>(
        exec, static_cast<std::size_t>(l.workspace_elements(pass::backward_filter, l.images_per_chunk)));
    T* columns = workspace;
    T* partials = workspace + l.images_per_chunk * l.column_image();
    for (std::int64_t first = 0; first < p.batch; first += l.images_per_chunk) {
      const std::int64_t images = std::min(l.images_per_chunk, p.batch - first);
      const strided<const T, N> x_chunk{x.data + first * x.layout.leading, x.layout};
      const T* b = x_chunk.data;
      if (!l.direct) {
        gather(exec, p, images * l.column_image(), x_chunk, columns);
        b = columns;
      }
      const T* dy_chunk = dy + first * l.output_image;
      const bool accumulate = first > 0;
      if (images == 1) {
        // One image: the GEMM accumulates into dw itself (beta 1 after the first chunk).
        run(exec, l.backward_filter_gemm(1), dy_chunk, b, accumulate ? T(1) : T(0), dw);
      } else {
        run(exec, l.backward_filter_gemm(images), dy_chunk, b, T(0), partials);
        be::for_each_index(exec, l.weight_size, sum_partials<T>{partials, dw, l.weight_size, images, accumulate}, images);
      }
    }
    if (dbias != nullptr)
      bias_gradient(exec, p, gradient, dbias);
  }

  void weights_changed() {}

  // Bytes of column/partial workspace held between calls (at most the limit, unless one image alone needs more).
  std::size_t workspace_bytes() const { return workspace_.bytes(); }

  // Upper bound on the workspace of one call; the batch is processed in as many chunks as that takes.
  // Releases the held workspace so that a lower limit takes effect at once.
  void set_workspace_limit(std::size_t bytes) {
    workspace_limit_ = bytes;
    workspace_.release();
  }
  std::size_t workspace_limit() const noexcept { return workspace_limit_; }

  im2col_layout layout(const problem<N>& p, pass which) const {
    return make_im2col_layout<N>(p, which, sizeof(T), workspace_limit_);
  }

  // Bytes of workspace this layer holds on the host after a step of `which` passes for p: the largest of
  // what each pass asks for (the buffer only grows). Exact; nothing is allocated.
  std::size_t held_workspace_bytes(const problem<N>& p, const passes& which, keep) const {
    std::int64_t elements = 0;
    if (which.forward) {
      const im2col_layout l = layout(p, pass::forward);
      elements = forward_blocked(l) ? forward_block_rows(p, l) * l.rows * p.output[N - 1] *
                                          forward_block_lanes(p, forward_block_rows(p, l) * l.rows * p.output[N - 1])
                                    : l.workspace_elements(pass::forward, l.images_per_chunk);
    }
    for (const pass backward : {pass::backward_data, pass::backward_filter}) {
      if (!which.has(backward)) continue;
      const im2col_layout l = layout(p, backward);
      elements = std::max(elements, l.workspace_elements(backward, l.images_per_chunk));
    }
    return static_cast<std::size_t>(elements) * sizeof(T);
  }


 private:
  // The host forward runs in blocks of output rows when one image's product is large.
  static bool forward_blocked(const im2col_layout& l) {
    return !l.direct && l.out_per_group * l.output_spatial * l.rows_per_group > im2col_blocked_forward_product;
  }
  std::int64_t forward_block_rows(const problem<N>& p, const im2col_layout& l) const {
    const std::int64_t width = p.output[N - 1];
    const std::size_t row_bytes = static_cast<std::size_t>(l.rows * width) * sizeof(T);
    const std::size_t budget = std::min(forward_block_bytes, workspace_limit_);
    return std::clamp<std::int64_t>(static_cast<std::int64_t>(budget / row_bytes), 1, l.output_spatial / width);
  }
  // With a CBLAS that runs each call on its caller's thread (the one-pool setup), images run in parallel, each
  // thread with its own block of columns, and the loops inside run on that thread: hundreds of products of a
  // few MFLOP each, with a parallel region apiece, cost more in waking threads than they gained. Otherwise one
  // image at a time, each loop and product threaded.
  std::int64_t forward_block_lanes(const problem<N>& p, std::int64_t block) const {
    std::int64_t lanes = 1;
#if defined(_OPENMP)
    if (blas_runs_on_caller_thread() && p.batch > 1 && !omp_in_parallel())
      lanes = std::clamp<std::int64_t>(static_cast<std::int64_t>(workspace_limit_ / (sizeof(T) * std::size_t(block))), 1,
                                       std::min<std::int64_t>(omp_get_max_threads(), p.batch));
#else
    (void)p, (void)block;
#endif
    return lanes;
  }

  // columns = gather(x) over `count` column entries. Per output position on the GPU (coalesced stores), per
  // row of the last output dim on the host (see kernels/im2col.hpp); the two are tested equal.
  template <class Exec>
  static void gather(Exec exec, const problem<N>& p, std::int64_t count, strided<const T, N> x, T* columns) {
    if constexpr (backend<Exec>::on_device)
      backend<Exec>::for_each_index(exec, count / p.kernel_spatial(),
                                    im2col_gather<N, T>{p, extent_divisors<N>(p), x, columns});
    else
      backend<Exec>::for_each_index(exec, count / p.output[N - 1], im2col_gather_rows<N, T>{p, x, columns},
                                    p.output[N - 1]);
  }

  // The host forward, one image at a time in blocks of output rows (of dims 0..N-2): gather the block's
  // columns [C * K, rows * output[N-1]], multiply, add the bias to the block of y just written. A block's
  // columns (about tuning's im2col_block_bytes) stay in cache from the gather to the GEMM, and the bias pass
  // reads y from cache, where whole-chunk columns would go to memory and back.
  static constexpr std::size_t forward_block_bytes = host_tuning.im2col_block_bytes;

  template <class Exec>
  void forward_in_blocks(Exec exec, const problem<N>& p, const im2col_layout& l, strided<const T, N> x, const T* w,
                         const T* bias, T* y) {
    using be = backend<Exec>;
    const std::int64_t width = p.output[N - 1];
    const std::int64_t output_rows = l.output_spatial / width;
    const std::int64_t block_rows = forward_block_rows(p, l);
    const std::int64_t m = l.out_per_group, k = l.rows_per_group;
    const std::int64_t block = l.rows * block_rows * width;
    const std::int64_t lanes = forward_block_lanes(p, block);
    T* columns = workspace_.get<T>(exec, static_cast<std::size_t>(block * lanes));
    auto run_image = [&](std::int64_t image, T* image_columns) {
      const strided<const T, N> x_image{x.data + image * x.layout.leading, x.layout};
      T* y_image = y + image * l.output_image;
      for (std::int64_t first_row = 0; first_row < output_rows; first_row += block_rows) {
        const std::int64_t rows = std::min(block_rows, output_rows - first_row);
        const std::int64_t n = rows * width;
        be::for_each_index(exec, l.rows * rows, im2col_gather_rows<N, T>{p, x_image, image_columns, first_row, rows},
                           width);
        // y[g * O/g + o, block] = W_g [O/g, C/g * K] * columns_g [C/g * K, n], over the groups
        gemm_desc d{gemm_op::none, gemm_op::none, m, n, k, k, n, l.output_spatial};
        d.batch = l.groups;
        d.stride_a = m * k, d.stride_b = k * n, d.stride_c = m * l.output_spatial;
        T* y_block = y_image + first_row * width;
        be::gemm(exec, d, T(1), w, image_columns, T(0), y_block);
        if (bias != nullptr)
          be::for_each_index(exec, l.out_channels, [=](std::int64_t o) {
            T* y_row = y_block + o * l.output_spatial;
            for (std::int64_t q = 0; q < n; ++q) y_row[q] += bias[o];
          }, n);
      }
    };
    if (lanes == 1) {
      for (std::int64_t image = 0; image < p.batch; ++image) run_image(image, columns);
      return;
    }
#if defined(_OPENMP)
    std::exception_ptr failure;  // nothing may leave a parallel region by an exception
#pragma omp parallel for schedule(dynamic) num_threads(static_cast<int>(lanes))
    for (std::int64_t image = 0; image < p.batch; ++image) {
      try {
        run_image(image, columns + omp_get_thread_num() * block);
      } catch (...) {
#pragma omp critical(fftconv_im2col_failure)
        if (!failure) failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);
#endif
  }

  // dx = col2im(columns) over `count` dx entries, as a gather per dx element (per row on the host).
  template <class Exec>
  static void scatter_back(Exec exec, const problem<N>& p, std::int64_t count, const T* columns, strided<T, N> dx) {
    if constexpr (backend<Exec>::on_device)
      backend<Exec>::for_each_index(exec, count, col2im_gather<N, T>{p, extent_divisors<N>(p), columns, dx});
    else
      backend<Exec>::for_each_index(exec, count / p.input[N - 1], col2im_gather_rows<N, T>{p, columns, dx},
                                    p.input[N - 1] * p.kernel_spatial());
  }

  template <class Exec>
  static void run(Exec exec, const im2col_gemm& g, const T* a, const T* b, T beta, T* c) {
    for (std::int64_t l = 0; l < g.loops; ++l)
      backend<Exec>::gemm(exec, g.desc, T(1), a + l * g.a_step, b + l * g.b_step, beta, c + l * g.c_step);
  }

  std::size_t workspace_limit_ = default_workspace_limit;
  im2col_workspace workspace_;
};

}  // namespace fftconv::detail
