#pragma once
// The frequency-domain plan of one problem shape on one executor: the tiling (tiling/tiling.hpp), the FFT plans,
// the workspace, and the spectra X̂, Ŵ, dŶ where the caller's saved state does not hold them.
//
// A pass runs over chunks of rows (batch x tiles), so that the scratch stays under the workspace limit:
//   stage (tiles, phases, zero fill) -> R2C -> [to frequency-major] -> products -> [to natural] -> C2R ->
//   crop into y (+ bias) / overlap-add into dx / gather dw.
// Products per frequency (and group), over channels:
//     forward          Ŷ[r,o]  = sum_k X̂[r,k] conj(Ŵ[o,k])      Ŷ  = X̂ · Ŵ^H
//     backward_data    dX̂[r,k] = sum_o dŶ[r,o] Ŵ[o,k]           dX̂ = dŶ · Ŵ
//     backward_filter  dŴ[o,k] = sum_r conj(dŶ[r,o]) X̂[r,k]     dŴ = dŶ^H · X̂   (rows are the GEMM's k)
// either over the natural layout (one spectral_gemm descriptor: on the host a blocked SIMD kernel, on the GPU a
// functor per element, chosen there for few channels per group) or as one strided-batched complex GEMM over
// frequency-major spectra (the GPU's wider groups); see detail/kernels/products.hpp and spectrum_layout.hpp.
// Transform counts: X̂ and dŶ one execution per chunk, Ŵ and dŴ one per step; a step with c chunks is
// (2c + 1) forward and (2c + 1) inverse executions.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../backend/backend.hpp"
#include "../../backend/common/fft_backend.hpp"
#include "../../backend/common/fft_desc.hpp"
#include "../../backend/common/gemm.hpp"
#include "../../detail/kernels/products.hpp"
#include "../../detail/kernels/spectral.hpp"
#include "../../detail/kernels/spectrum_layout.hpp"
#include "../../detail/kernels/strided.hpp"  // blend_strided: a narrower dx rounded once
#include "../../geometry.hpp"
#include "../../policy.hpp"  // passes
#include "../../tiling/tiling.hpp"
#include "spectral_products.hpp"  // run_spectral_gemm

namespace fftconv::detail {

// Transform executions, counted per plan execution (one R2C or C2R over a batch of maps).
struct transform_counts {
  std::int64_t forward = 0;
  std::int64_t inverse = 0;
  friend bool operator==(const transform_counts&, const transform_counts&) = default;
};

// What conv_impl<fft> needs to know of a plan without its executor type.
class frequency_plan_base {
 public:
  virtual ~frequency_plan_base() = default;
  virtual std::size_t workspace_bytes() const = 0;
  virtual void forget_kept_kernel() = 0;  // declared-constant weights changed
};

template <int N>
bool same_problem(const problem<N>& a, const problem<N>& b) {
  if (a.batch != b.batch || a.in_channels != b.in_channels || a.out_channels != b.out_channels ||
      a.groups != b.groups)
    return false;
  for (int d = 0; d < N; ++d)
    if (a.input[d] != b.input[d] || a.output[d] != b.output[d] || a.kernel[d] != b.kernel[d] ||
        a.padding[d] != b.padding[d] || a.padding_high[d] != b.padding_high[d] || a.stride[d] != b.stride[d] ||
        a.dilation[d] != b.dilation[d])
      return false;
  return true;
}

// false when, in some dim, no tap of any output window lands inside the input (the windows see padding only):
// y is then exactly the bias and dx, dw exactly zero, written directly rather than with rounding noise.
template <int N>
bool windows_reach_input(const problem<N>& p) {
  for (int d = 0; d < N; ++d) {
    bool reached = false;
    for (std::int64_t j = 0; j < p.kernel[d] && !reached; ++j) {
      const std::int64_t shift = j * p.dilation[d] - p.padding[d];
      // q*s + shift in [0, n)  <=>  q in [ceil(-shift / s), floor((n - 1 - shift) / s)]
      const std::int64_t low = shift >= 0 ? 0 : (-shift + p.stride[d] - 1) / p.stride[d];
      const std::int64_t top = p.input[d] - 1 - shift;
      if (top < 0) continue;
      const std::int64_t high = std::min(top / p.stride[d], p.output[d] - 1);
      reached = low <= high;
    }
    if (!reached) return false;
  }
  return true;
}

// Where a spectrum of rows lives: `rows_held` rows starting at row `first_row` (all rows: 0 and sizes.rows; one
// chunk's: its first row and its row count). Natural layout: maps of row r at (r - first_row) * maps per row;
// frequency-major (GEMM): [frequency x group][rows_held][columns].
template <class T>
struct spectrum_rows {
  complex<T>* data = nullptr;
  std::int64_t rows_held = 0;
  std::int64_t first_row = 0;
};

// The saved payload of the FFT policy: X̂ over all rows, then Ŵ, at byte offsets that keep the FFT library's
// alignment (the payload itself starts 512 bytes into the caller's 64- or 256-byte aligned state).
struct saved_spectra_layout {
  std::size_t input_offset = 0;
  std::size_t input_bytes = 0;
  std::size_t kernel_offset = 0;
  std::size_t kernel_bytes = 0;
  std::size_t map_bytes = 0;       // from one map's spectrum to the next
  std::size_t map_used_bytes = 0;  // of which a transform writes (the rest: padding of the elementwise layout)
  std::size_t total() const noexcept { return kernel_offset + kernel_bytes; }
};

// Zeroes the payload's bytes no transform writes (the gap before Ŵ, each map's padding), so that a saved state
// is a function of x and w alone: a checkpoint or a traced graph's state compares equal to the eager one.
struct clear_saved_padding {
  unsigned char* payload;
  std::int64_t gap_begin, gap_bytes, input_maps, kernel_offset, map_bytes, map_used_bytes;

  std::int64_t count(std::int64_t kernel_maps) const {
    return gap_bytes + (input_maps + kernel_maps) * (map_bytes - map_used_bytes);
  }
  FFTCONV_HD void operator()(std::int64_t i) const {
    if (i < gap_bytes) {
      payload[gap_begin + i] = 0;
      return;
    }
    const std::int64_t tail = map_bytes - map_used_bytes, map = (i - gap_bytes) / tail, at = (i - gap_bytes) % tail;
    const std::int64_t base = map < input_maps ? map * map_bytes : kernel_offset + (map - input_maps) * map_bytes;
    payload[base + map_used_bytes + at] = 0;
  }
};

template <int N, class T>
saved_spectra_layout saved_layout_of(const tiling_choice<N>& choice, const tiling_sizes<N>& sizes) {
  const bool elementwise = choice.layout.products == spectral_products::elementwise;
  const std::int64_t per_map = elementwise ? sizes.spectrum_distance : sizes.frequencies;
  const auto bytes = [&](std::int64_t maps) {
    return static_cast<std::size_t>(checked_multiply(checked_multiply(maps, per_map, "fft saved spectra"),
                                                     static_cast<std::int64_t>(sizeof(complex<T>)), "fft saved spectra"));
  };
  saved_spectra_layout l;
  l.input_bytes = bytes(checked_multiply(sizes.rows, sizes.row_inputs, "fft saved spectra"));
  l.kernel_offset = (l.input_bytes + 255) / 256 * 256;
  l.kernel_bytes = bytes(sizes.kernel_maps);
  l.map_bytes = bytes(1);
  l.map_used_bytes = static_cast<std::size_t>(sizes.frequencies) * sizeof(complex<T>);
  return l;
}

template <int N, class T, class Exec>
class frequency_plan final : public frequency_plan_base {
  using transforms = fft_backend<Exec>;
  using fft_plan = typename transforms::template plan<T>;
  using ops = backend<Exec>;
  template <class U>
  using buffer = typename ops::template buffer<U>;

 public:
  // Chooses the tiling and allocates the scratch (an out_of_memory leaves nothing behind); spectra the plan
  // holds itself are allocated on first use, FFT plans before the first pass that needs them.
  frequency_plan(const Exec& exec, const problem<N>& p, const tiling_request<N>& request)
      : exec_(exec), queue_(queue_of(exec)), problem_(p), request_(request), reaches_input_(windows_reach_input(p)) {
    choice_ = choose_tiling<N>(p, on_executor(request, ops::on_device), sizeof(T));
    const tiling<N>& t = choice_.layout;
    sizes_ = sizes_of<N>(p, t, sizeof(T));
    std::int64_t frame[N];
    for (int d = 0; d < N; ++d) frame[d] = t.frame[d];
    frame_ = make_spectral_frame<N>(frame);
    const scratch_counts c = scratch_of(p, choice_, sizes_);
    real_ = ops::template allocate<T>(exec, c.real);
    natural_ = ops::template allocate<complex<T>>(exec, c.natural);
    product_ = ops::template allocate<complex<T>>(exec, c.product);
  }

  // Elements of the scratch a plan allocates on construction: staged maps, the natural-layout spectra of the
  // GEMM path, the products.
  struct scratch_counts {
    std::size_t real = 0, natural = 0, product = 0;
    std::size_t bytes() const { return real * sizeof(T) + (natural + product) * sizeof(complex<T>); }
  };
  static scratch_counts scratch_of(const problem<N>& p, const tiling_choice<N>& choice, const tiling_sizes<N>& sizes) {
    const std::int64_t chunk_maps = std::max(checked_multiply(choice.chunk_rows, sizes.row_inputs, "fft maps"),
                                             checked_multiply(choice.chunk_rows, sizes.row_outputs, "fft maps"));
    const std::int64_t scratch_maps = std::max(chunk_maps, sizes.kernel_maps);
    scratch_counts c;
    c.real = count(scratch_maps, sizes.real_distance);
    if (choice.layout.products == spectral_products::elementwise) {
      c.product = count(scratch_maps, sizes.spectrum_distance);
    } else {
      c.natural = count(scratch_maps, sizes.spectrum_distance);
      const std::int64_t og = p.out_channels_per_group();
      const std::int64_t k = checked_multiply(p.in_channels_per_group(), choice.layout.phases, "fft maps");
      const std::int64_t matrices = checked_multiply(sizes.frequencies, p.groups, "fft products");
      const std::int64_t per_matrix = std::max(choice.chunk_rows * std::max(og, k), og * k);
      c.product = count(matrices, per_matrix);
    }
    return c;
  }

  // Bytes a plan for p holds after a step of `which` passes, on the host (no FFT work area): the scratch, and the
  // spectra it keeps itself — X̂ and Ŵ when no saved state holds them (`saved`), dŶ for the backward passes,
  // Ŵ always for declared-constant weights. Mirrors what the passes allocate (held_*_spectrum).
  static std::size_t held_bytes(const problem<N>& p, const tiling_choice<N>& choice, const passes& which, bool saved,
                                bool weights_constant) {
    const tiling_sizes<N> sizes = sizes_of<N>(p, choice.layout, sizeof(T));
    std::size_t bytes = scratch_of(p, choice, sizes).bytes();
    if (!windows_reach_input(p)) return bytes;
    if (choice.layout.products == spectral_products::elementwise)
      bytes += spectral_packing_count<T>() * sizeof(T);
    const std::int64_t per_map =
        choice.layout.products == spectral_products::elementwise ? sizes.spectrum_distance : sizes.frequencies;
    const auto spectrum = [&](std::int64_t rows, std::int64_t maps_per_row) {
      return count(checked_multiply(rows, maps_per_row, "fft maps"), per_map) * sizeof(complex<T>);
    };
    const bool backward = which.backward_data || which.backward_filter;
    const bool step_saved = saved && which.forward && backward;
    std::size_t input = 0;
    if (which.forward && !step_saved) input = spectrum(choice.chunk_rows, sizes.row_inputs);
    if (which.backward_filter && !step_saved) input = spectrum(sizes.rows, sizes.row_inputs);
    const bool kernel = weights_constant || (which.forward && !step_saved) || (which.backward_data && !step_saved);
    std::size_t output = 0;
    if (which.backward_data) output = spectrum(choice.chunk_rows, sizes.row_outputs);
    if (which.backward_filter) output = spectrum(sizes.rows, sizes.row_outputs);
    return bytes + input + output + (kernel ? spectrum(1, sizes.kernel_maps) : 0);
  }

  bool matches(const problem<N>& p, const tiling_request<N>& request) const {
    return same_problem<N>(problem_, p) && request.forced_tile == request_.forced_tile &&
           request.products == request_.products && request.workspace_limit == request_.workspace_limit;
  }

  // The queue the workspace was allocated for: on the GPU its buffers are ordered on that stream, so a call on
  // another stream must not use them (the policy frees them on their stream and builds afresh on the new one).
  const execution_queue& queue() const noexcept { return queue_; }
  bool same_queue(const Exec& exec) const { return queue_of(exec) == queue_; }

  bool reaches_input() const noexcept { return reaches_input_; }
  const spectral_frame<N>& frame() const noexcept { return frame_; }
  const tiling_choice<N>& choice() const noexcept { return choice_; }
  saved_spectra_layout saved_layout() const { return saved_layout_of<N, T>(choice_, sizes_); }

  std::size_t workspace_bytes() const override {
    return real_.bytes() + natural_.bytes() + product_.bytes() + input_spectrum_.bytes() + kernel_spectrum_.bytes() +
           output_spectrum_.bytes() + work_area_.bytes() + packing_.bytes();
  }

  memory_resource* resource() const noexcept { return exec_.resource; }

  // Ŵ kept for weights the caller declared constant (conv::set_weights_constant), until weights_changed().
  bool kept_kernel_valid() const noexcept { return kept_kernel_valid_; }
  void keep_kernel() noexcept { kept_kernel_valid_ = true; }
  void forget_kept_kernel() override { kept_kernel_valid_ = false; }

  // ---- spectra: in the caller's saved state, or in buffers of this plan ----
  spectrum_rows<T> all_rows(complex<T>* data) const { return {data, sizes_.rows, 0}; }
  // The plan's own X̂ over all rows (backward without saved spectra) or over one chunk (forward without).
  spectrum_rows<T> held_input_spectrum(bool all) { return held_rows(input_spectrum_, all, sizes_.row_inputs); }
  spectrum_rows<T> held_output_spectrum(bool all) { return held_rows(output_spectrum_, all, sizes_.row_outputs); }
  complex<T>* held_kernel_spectrum() {
    if (kernel_spectrum_.data() == nullptr)
      kernel_spectrum_ = ops::template allocate<complex<T>>(exec_, count(sizes_.kernel_maps, per_map()));
    return kernel_spectrum_.data();
  }
  std::size_t kernel_spectrum_elements() const { return count(sizes_.kernel_maps, per_map()); }

  // ---- the passes ----

  // Ŵ <- FFT(phases of the dilated w) into `kernel` (kernel_spectrum_elements()): one execution.
  // The tensors' element types (S, X, Y, DY, DX, DW) may be narrower than T: staging converts on load, the
  // crop, overlap-add and dw gather round on store.
  template <class S>
  void transform_kernel(const Exec& exec, strided<const S, N> w, complex<T>* kernel, transform_counts& counts) {
    launch(exec, sizes_.kernel_maps * frame_.real_volume, frame_.real[N - 1],
           stage_kernel_phases<N, T, S>{problem_, layout(), sizes_.real_distance, w, real_.data()});
    to_spectrum(exec, sizes_.kernel_maps, {1, problem_.groups, problem_.out_channels_per_group(), kernel_columns()}, 1, 0,
                kernel, live_taps(), counts);
  }

  // X̂ <- FFT(tiles of x) over all rows, into `input` (backward without saved spectra).
  template <class X>
  void transform_input(const Exec& exec, strided<const X, N> x, spectrum_rows<T> input, transform_counts& counts) {
    for_each_chunk([&](std::int64_t first, std::int64_t rows) { transform_input_rows(exec, x, first, rows, input, counts); });
  }

  // y = crop(IFFT(X̂ · Ŵ^H)) + bias, chunk by chunk; X̂ is transformed into `input` (all rows: the saved
  // spectra; or one chunk's rows: a buffer of this plan), one execution per chunk.
  template <class X, class Y>
  void forward(const Exec& exec, strided<const X, N> x, const complex<T>* kernel, spectrum_rows<T> input, const T* bias,
               strided<Y, N> y, transform_counts& counts) {
    prepare(exec, sizes_.row_inputs, fft_direction::real_to_complex, live_window());
    prepare(exec, sizes_.row_outputs, fft_direction::complex_to_real, live_tile());
    for_each_chunk([&](std::int64_t first, std::int64_t rows) {
      const spectrum_rows<T> in = at_chunk(input, first);
      transform_input_rows(exec, x, first, rows, in, counts);
      const std::int64_t local = first - in.first_row;
      if (elementwise()) {
        run_spectral_gemm(exec, spectral_gemm<T>(forward_products_desc(sizes_.frequencies, sizes_.spectrum_distance,
                                                                       problem_.groups, kernel_columns(),
                                                                       problem_.out_channels_per_group(), rows),
                                                 in.data + local * sizes_.row_inputs * sizes_.spectrum_distance,
                                                 kernel, product_.data()),
                          &packing_);
      } else {
        const std::int64_t og = problem_.out_channels_per_group(), k = kernel_columns();
        gemm_desc desc;
        desc.op_b = gemm_op::conjugate_transpose;
        desc.m = rows, desc.n = og, desc.k = k;
        desc.lda = k, desc.ldb = k, desc.ldc = og;
        desc.stride_a = in.rows_held * k, desc.stride_b = og * k, desc.stride_c = rows * og;
        desc.batch = sizes_.frequencies * problem_.groups;
        ops::gemm(exec, desc, complex<T>(1), in.data + local * k, kernel, complex<T>(0), product_.data());
      }
      from_products(exec, rows * sizes_.row_outputs, {rows, problem_.groups, 1, problem_.out_channels_per_group()},
                    live_tile(), counts);
      const tiling<N>& t = layout();
      std::int64_t tile_volume = 1;
      for (int d = 0; d < N; ++d) tile_volume *= t.tile[d];
      const std::int64_t elements = rows * sizes_.row_outputs * tile_volume;
      launch_maps(exec, elements, tile_volume,
                  crop_output_tiles<N, T, Y>{problem_, t, sizes_.real_distance, first, scale(), bias, real_.data(), y,
                                          tile_divisors<N>(t, problem_.out_channels, std::max(elements, sizes_.rows))});
    });
  }

  // dŶ <- FFT(tiles of dy) chunk by chunk into `output` (all rows when dw is wanted, else one chunk's);
  // dx = overlap-add(IFFT(dŶ · Ŵ)) per chunk (needs `kernel`); dw = IFFT(dŶ^H · X̂) at the kernel's taps over
  // all rows (needs `input`, all rows). Either output may be null.
  template <class DY, class DX, class DW>
  void backward(const Exec& exec, strided<const DY, N> dy, const complex<T>* kernel, const complex<T>* input,
                spectrum_rows<T> output, strided<DX, N> dx, strided<DW, N> dw, transform_counts& counts) {
    const tiling<N>& t = layout();
    // Rows of one image split over chunks add into dx, which then starts from zero.
    const bool split_images = choice_.chunks > 1 && choice_.chunk_rows % t.tile_count != 0;
    if constexpr (!std::is_same_v<DX, T>) {
      // Partial sums of a narrower dx would be rounded once per chunk: they add into a T copy, rounded once.
      if (dx && split_images) {
        buffer<T> wide = ops::template allocate<T>(exec, static_cast<std::size_t>(problem_.input_size()));
        const strided<T, N> wide_dx{wide.data(), tensor_layout<N>::row_major(problem_.in_channels, problem_.input)};
        backward(exec, dy, kernel, input, output, wide_dx, dw, counts);
        blend_strided<T, DX, T, N + 2> round{wide.data(), dx.data, {}, {}, T(1), T(0), nullptr, 0};
        round.extents[0] = problem_.batch, round.extents[1] = problem_.in_channels;
        round.strides[0] = dx.layout.leading, round.strides[1] = dx.layout.channel;
        for (int d = 0; d < N; ++d) round.extents[d + 2] = problem_.input[d], round.strides[d + 2] = dx.layout.spatial[d];
        ops::for_each_index(exec, problem_.input_size(), round);
        return;
      }
    }
    prepare(exec, sizes_.row_outputs, fft_direction::real_to_complex, live_tile());
    if (dx) prepare(exec, sizes_.row_inputs, fft_direction::complex_to_real, live_window());
    if (dw) plan_for(exec, sizes_.kernel_maps, fft_direction::complex_to_real, live_taps());
    if (dx && split_images)
      ops::for_each_index(exec, problem_.input_size(),
                          fill_channels<N, T, DX>(problem_.in_channels, problem_.input, nullptr, dx));
    for_each_chunk([&](std::int64_t first, std::int64_t rows) {
      const spectrum_rows<T> out = at_chunk(output, first);
      transform_output_rows(exec, dy, first, rows, out, counts);
      if (!dx) return;
      const std::int64_t local = first - out.first_row;
      const std::int64_t k = kernel_columns();
      if (elementwise()) {
        run_spectral_gemm(exec, spectral_gemm<T>(data_products_desc(sizes_.frequencies, sizes_.spectrum_distance,
                                                                    problem_.groups, k,
                                                                    problem_.out_channels_per_group(), rows),
                                                 out.data + local * sizes_.row_outputs * sizes_.spectrum_distance,
                                                 kernel, product_.data()),
                          &packing_);
      } else {
        const std::int64_t og = problem_.out_channels_per_group();
        gemm_desc desc;
        desc.m = rows, desc.n = k, desc.k = og;
        desc.lda = og, desc.ldb = k, desc.ldc = k;
        desc.stride_a = out.rows_held * og, desc.stride_b = og * k, desc.stride_c = rows * k;
        desc.batch = sizes_.frequencies * problem_.groups;
        ops::gemm(exec, desc, complex<T>(1), out.data + local * og, kernel, complex<T>(0), product_.data());
      }
      from_products(exec, rows * sizes_.row_inputs, {rows, problem_.groups, 1, k}, live_window(), counts);
      const std::int64_t first_image = first / t.tile_count, last_image = (first + rows - 1) / t.tile_count;
      const std::int64_t elements = (last_image - first_image + 1) * problem_.in_channels * problem_.input_spatial();
      launch(exec, elements, problem_.input[N - 1],
             overlap_add_input<N, T, DX>{problem_, t, sizes_.real_distance, first_image, first, first + rows, scale(),
                                     split_images, real_.data(), dx});
    });
    if (dw) filter_gradient(exec, output.data, input, dw, counts);
  }

  private:
  const tiling<N>& layout() const noexcept { return choice_.layout; }
  bool elementwise() const noexcept { return layout().products == spectral_products::elementwise; }
  std::int64_t kernel_columns() const { return problem_.in_channels_per_group() * layout().phases; }
  std::int64_t input_maps() const { return sizes_.rows * sizes_.row_inputs; }
  std::int64_t output_maps() const { return sizes_.rows * sizes_.row_outputs; }
  T scale() const { return T(1) / static_cast<T>(frame_.real_volume); }  // the inverse transforms are unnormalised

  // The live boxes of the maps at their frames' origin (detail/kernels/spectral.hpp): a kernel's phase taps K'
  // (Ŵ in, dŴ out), a tile's T outputs (dŶ in, y out), a tile's window W of x (X̂ in, dx out).
  using box = std::array<std::int64_t, N>;
  box live_taps() const { return per_dim(layout().phase_taps); }
  box live_tile() const { return per_dim(layout().tile); }
  box live_window() const { return per_dim(layout().window); }
  static box per_dim(const std::int64_t (&extents)[N]) {
    box b{};
    for (int d = 0; d < N; ++d) b[d] = extents[d];
    return b;
  }

  template <class Body>
  void for_each_chunk(Body&& body) {
    for (std::int64_t first = 0; first < sizes_.rows; first += choice_.chunk_rows)
      body(first, std::min(choice_.chunk_rows, sizes_.rows - first));
  }

  // Makes the FFT plans of a chunked pass before it writes anything: a full chunk's and a smaller last one's.
  void prepare(const Exec& exec, std::int64_t maps_per_row, fft_direction direction, const box& live) {
    const std::int64_t full = std::min(choice_.chunk_rows, sizes_.rows);
    const std::int64_t last = sizes_.rows - (sizes_.rows - 1) / full * full;
    plan_for(exec, full * maps_per_row, direction, live);
    if (last != full) plan_for(exec, last * maps_per_row, direction, live);
  }

  // The rows of `s` that hold chunk `first`: all-rows spectra as they are, a chunk buffer from that chunk on.
  spectrum_rows<T> at_chunk(spectrum_rows<T> s, std::int64_t first) const {
    if (s.rows_held == sizes_.rows) return s;
    return {s.data, s.rows_held, first};
  }

  // dw = IFFT(dŶ^H · X̂) at the kernel's taps: one product over all rows, one inverse execution.
  template <class DW>
  void filter_gradient(const Exec& exec, const complex<T>* output, const complex<T>* input, strided<DW, N> dw,
                       transform_counts& counts) {
    const std::int64_t og = problem_.out_channels_per_group(), k = kernel_columns();
    if (elementwise()) {
      run_spectral_gemm(exec, spectral_gemm<T>(filter_products_desc(sizes_.frequencies, sizes_.spectrum_distance,
                                                                    problem_.groups, k, og, sizes_.rows),
                                               output, input, product_.data()),
                          &packing_);
    } else {
      gemm_desc desc;
      desc.op_a = gemm_op::conjugate_transpose;
      desc.m = og, desc.n = k, desc.k = sizes_.rows;
      desc.lda = og, desc.ldb = k, desc.ldc = k;
      desc.stride_a = sizes_.rows * og, desc.stride_b = sizes_.rows * k, desc.stride_c = og * k;
      desc.batch = sizes_.frequencies * problem_.groups;
      ops::gemm(exec, desc, complex<T>(1), output, input, complex<T>(0), product_.data());
    }
    from_products(exec, sizes_.kernel_maps, {1, problem_.groups, og, k}, live_taps(), counts);
    launch(exec, problem_.weight_size(), problem_.kernel[N - 1],
           gather_kernel_gradient<N, T, DW>{problem_, layout(), sizes_.real_distance, scale(), real_.data(), dw});
  }

  template <class X>
  void transform_input_rows(const Exec& exec, strided<const X, N> x, std::int64_t first, std::int64_t rows,
                            spectrum_rows<T> target, transform_counts& counts) {
    const std::int64_t maps = rows * sizes_.row_inputs;
    const std::int64_t elements = maps * frame_.real_volume;
    launch_maps(exec, elements, frame_.real_volume,
                stage_input_tiles<N, T, X>{problem_, layout(), sizes_.real_distance, first * sizes_.row_inputs, x, real_.data(),
                                   tile_divisors<N>(layout(), problem_.in_channels,
                                                    std::max(elements, input_maps()))});
    to_spectrum(exec, maps, {rows, problem_.groups, 1, kernel_columns()}, target.rows_held, first - target.first_row,
                target.data, live_window(), counts);
  }

  template <class DY>
  void transform_output_rows(const Exec& exec, strided<const DY, N> dy, std::int64_t first, std::int64_t rows,
                             spectrum_rows<T> target, transform_counts& counts) {
    const std::int64_t maps = rows * sizes_.row_outputs;
    const std::int64_t elements = maps * frame_.real_volume;
    launch_maps(exec, elements, frame_.real_volume,
                stage_output_tiles<N, T, DY>{problem_, layout(), sizes_.real_distance, first * sizes_.row_outputs, dy,
                                    real_.data(),
                                    tile_divisors<N>(layout(), problem_.out_channels, std::max(elements, output_maps()))});
    to_spectrum(exec, maps, {rows, problem_.groups, 1, problem_.out_channels_per_group()}, target.rows_held,
                first - target.first_row, target.data, live_tile(), counts);
  }

  // real_ (staged `maps` maps, of rows [first, first + chunk.outer) of `total_rows`) -> R2C -> the spectrum:
  // straight into its natural layout (elementwise), or through natural_ into its frequency-major rows (GEMM).
  void to_spectrum(const Exec& exec, std::int64_t maps, const channel_layout& chunk, std::int64_t total_rows,
                   std::int64_t first, complex<T>* spectrum, const box& live, transform_counts& counts) {
    const fft_plan& plan = plan_for(exec, maps, fft_direction::real_to_complex, live);
    if (elementwise()) {
      const std::int64_t map_begin = first * (maps / chunk.outer);
      transforms::forward(exec, plan, real_.data(), spectrum + map_begin * sizes_.spectrum_distance, work_area_.data());
      ++counts.forward;
      return;
    }
    transforms::forward(exec, plan, real_.data(), natural_.data(), work_area_.data());
    ++counts.forward;
    launch_transpose(exec, maps * sizes_.frequencies,
                     to_frequency_major<T>{chunk, total_rows, first, sizes_.frequencies, sizes_.spectrum_distance,
                                           natural_.data(), spectrum,
                                           to_frequency_major<T>::make_divisors(chunk, sizes_.frequencies)});
  }

  // product_ (`maps` result maps laid out as `layout`) -> [natural_] -> C2R (overwrites its input) -> real_.
  void from_products(const Exec& exec, std::int64_t maps, const channel_layout& layout, const box& live,
                     transform_counts& counts) {
    const fft_plan& plan = plan_for(exec, maps, fft_direction::complex_to_real, live);
    if (elementwise()) {
      transforms::inverse(exec, plan, product_.data(), real_.data(), work_area_.data());
    } else {
      launch_transpose(exec, maps * sizes_.frequencies,
                       from_frequency_major<T>{layout, sizes_.frequencies, sizes_.spectrum_distance, product_.data(),
                                               natural_.data(),
                                               from_frequency_major<T>::make_divisors(layout, sizes_.frequencies)});
      transforms::inverse(exec, plan, natural_.data(), real_.data(), work_area_.data());
    }
    ++counts.inverse;
  }

  // The plan for `maps` maps in one direction with live box `live`: from the process-wide cache on first use,
  // its work area grown to fit (the FFT library's; none for FFTW).
  const fft_plan& plan_for(const Exec& exec, std::int64_t maps, fft_direction direction, const box& live) {
    const fft_desc desc = with_live_box<N>(
        make_fft_desc<N, T>(frame_, maps, direction, sizes_.real_distance, sizes_.spectrum_distance), live);
    for (const auto& held : plans_)
      if (held.first == desc) return *held.second;
    complex<T>* spectrum_scratch = elementwise() ? product_.data() : natural_.data();
    std::shared_ptr<fft_plan> made = transforms::template make_plan<T>(exec, desc, real_.data(), spectrum_scratch);
    const std::size_t needed = transforms::template work_area_bytes<T>(*made);
    if (needed > work_area_.bytes()) {
      // Allocate, then swap: a failed allocation leaves the old work area, so the layer stays usable.
      buffer<unsigned char> grown = ops::template allocate<unsigned char>(exec, needed);
      work_area_ = std::move(grown);
    }
    plans_.emplace_back(desc, std::move(made));
    return *plans_.back().second;
  }

  // `elements` elements of work: one GPU thread per element (coalesced), or on the host `units` loop iterations
  // of host_unit(f, i), in parallel where the elements are worth it (backend/host/parallel.hpp).
  template <class F, class HostUnit>
  static void launch_units(const Exec& exec, std::int64_t elements, std::int64_t units, const F& f,
                           const HostUnit& host_unit) {
    if (elements <= 0) return;
    if constexpr (ops::on_device) {
      ops::for_each_index(exec, elements, f);
    } else {
      (void)exec;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (worth_parallel(double(elements)))
#endif
      for (std::int64_t i = 0; i < units; ++i) host_unit(f, i);
    }
  }

  // elements / row_length rows, on the host through F::row (see detail/kernels/spectral.hpp).
  template <class F>
  static void launch(const Exec& exec, std::int64_t elements, std::int64_t row_length, const F& f) {
    launch_units(exec, elements, elements / row_length, f, [](const F& g, std::int64_t r) { g.row(r); });
  }

  // elements / map_volume maps, on the host through F::map (a map's source or target found once, not per row).
  template <class F>
  static void launch_maps(const Exec& exec, std::int64_t elements, std::int64_t map_volume, const F& f) {
    launch_units(exec, elements, elements / map_volume, f, [](const F& g, std::int64_t m) { g.map(m); });
  }

  // The transposes, on the host one loop iteration per cache tile.
  template <class F>
  static void launch_transpose(const Exec& exec, std::int64_t elements, const F& f) {
    launch_units(exec, elements, f.tiles(), f, [](const F& g, std::int64_t t) { g.tile(t); });
  }

  std::int64_t per_map() const noexcept { return elementwise() ? sizes_.spectrum_distance : sizes_.frequencies; }

  // `held`, grown (allocate, then swap) to all rows or one chunk's rows of `maps_per_row` maps.
  spectrum_rows<T> held_rows(buffer<complex<T>>& held, bool all, std::int64_t maps_per_row) {
    const std::int64_t rows = all ? sizes_.rows : choice_.chunk_rows;
    const std::size_t needed = count(checked_multiply(rows, maps_per_row, "fft maps"), per_map());
    if (held.size() < needed) {
      buffer<complex<T>> grown = ops::template allocate<complex<T>>(exec_, needed);
      held = std::move(grown);
    }
    return {held.data(), rows, 0};
  }

  static std::size_t count(std::int64_t maps, std::int64_t volume) {
    return static_cast<std::size_t>(checked_multiply(maps, volume, "fft workspace"));
  }

  Exec exec_;  // the executor (stream, memory resource) this plan allocates for
  execution_queue queue_;
  problem<N> problem_;
  tiling_request<N> request_;
  bool reaches_input_ = true;
  tiling_choice<N> choice_{};
  tiling_sizes<N> sizes_{};
  spectral_frame<N> frame_{};
  buffer<T> real_;                      // staged maps, and the inverse transforms' output
  buffer<complex<T>> natural_;          // GEMM path: R2C output / C2R input, natural layout
  buffer<complex<T>> product_;          // products of one chunk (natural layout, or frequency-major for GEMM)
  buffer<complex<T>> input_spectrum_;   // X̂ when not saved: one chunk's rows (forward) or all (backward)
  buffer<complex<T>> kernel_spectrum_;  // Ŵ when not saved
  buffer<complex<T>> output_spectrum_;  // dŶ: one chunk's rows (dx only) or all (dw)
  buffer<unsigned char> work_area_;     // the FFT library's work area (cuFFT; none for FFTW)
  buffer<T> packing_;                   // the host products' per-thread packing scratch
  std::vector<std::pair<fft_desc, std::shared_ptr<fft_plan>>> plans_;  // by the descriptor asked for
  bool kept_kernel_valid_ = false;
};

}  // namespace fftconv::detail
