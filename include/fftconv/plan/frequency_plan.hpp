#pragma once
// The frequency-domain plan of one problem shape on one executor: transform extents, the six FFT plans
// (R2C and C2R for the three map counts B*C, O*C/g, B*O), the workspace, and the cached spectra X̂, Ŵ, dŶ
// with the tags that say which data they were computed from.
//
// Spectrum layouts.
//   natural          [maps][F]   what R2C writes and C2R reads (F = L0 * ... * (L_{N-1}/2 + 1)); cuFFT and FFTW
//                                stay in this layout: asking cuFFT for frequency-major output made its
//                                transforms ~3x slower on an H100 (design.md §5).
//   frequency-major  [F][G][A1][A2][K]  (see channel_layout): per frequency f and group g a row-major matrix;
//                                X̂: B x C/g, Ŵ: O/g x C/g, dŶ: B x O/g. The cached spectra live here, and the
//                                products are one strided-batched complex GEMM over the F*G matrices:
//     forward          Ŷ[b,o]  = sum_c X̂[b,c] conj(Ŵ[o,c])      Ŷ  = X̂ · Ŵ^H
//     backward_data    dX̂[b,c] = sum_o dŶ[b,o] Ŵ[o,c]           dX̂ = dŶ · Ŵ
//     backward_filter  dŴ[o,c] = sum_b conj(dŶ[b,o]) X̂[b,c]     dŴ = dŶ^H · X̂   (the batch sum is the GEMM's k)
// A pass is: stage (zero-pad) -> R2C -> to frequency-major, products, -> natural -> C2R -> crop (+ bias).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "../backend/backend.hpp"
#include "../backend/gemm.hpp"
#include "../detail/kernels/spectral.hpp"
#include "../geometry.hpp"
#include "fft_backend.hpp"
#include "fft_desc.hpp"
#include "transform_size.hpp"

namespace fftconv::detail {

// Transform executions, counted per plan execution (one R2C or C2R over a whole batch of maps).
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
  virtual void forget_kernel_spectrum() = 0;
  virtual void forget_data_spectra() = 0;  // X̂ and dŶ
};

template <int N>
bool same_problem(const problem<N>& a, const problem<N>& b) {
  if (a.batch != b.batch || a.in_channels != b.in_channels || a.out_channels != b.out_channels ||
      a.groups != b.groups)
    return false;
  for (int d = 0; d < N; ++d)
    if (a.input[d] != b.input[d] || a.output[d] != b.output[d] || a.kernel[d] != b.kernel[d] ||
        a.padding[d] != b.padding[d] || a.stride[d] != b.stride[d] || a.dilation[d] != b.dilation[d])
      return false;
  return true;
}

template <int N, class T, class Exec>
class frequency_plan final : public frequency_plan_base {
  using transforms = fft_backend<Exec>;
  using fft_plan = typename transforms::template plan<T>;
  using ops = backend<Exec>;
  template <class U>
  using buffer = typename ops::template buffer<U>;

 public:
  // Allocates everything first (an out_of_memory leaves nothing behind), then fetches the plans.
  frequency_plan(const Exec& exec, const problem<N>& p)
      : exec_(exec), queue_(queue_of(exec)), problem_(p), reaches_input_(windows_reach_input(p)) {
    const std::array<std::int64_t, N> extents = choose_transform_extents<N>(p);
    std::int64_t raw[N];
    for (int d = 0; d < N; ++d) raw[d] = extents[d];
    frame_ = make_spectral_frame<N>(raw);
    const std::int64_t input_maps = checked_multiply(p.batch, p.in_channels, "fft maps");
    const std::int64_t kernel_maps = checked_multiply(p.out_channels, p.in_channels_per_group(), "fft maps");
    const std::int64_t output_maps = checked_multiply(p.batch, p.out_channels, "fft maps");
    const std::int64_t most_maps = std::max({input_maps, kernel_maps, output_maps});
    const auto real_count = count(most_maps, frame_.real_volume);
    const auto complex_count = count(most_maps, frame_.complex_volume);
    real_ = ops::template allocate<T>(exec, real_count);
    natural_ = ops::template allocate<complex<T>>(exec, complex_count);
    product_ = ops::template allocate<complex<T>>(exec, complex_count);
    input_spectrum_ = ops::template allocate<complex<T>>(exec, count(input_maps, frame_.complex_volume));
    kernel_spectrum_ = ops::template allocate<complex<T>>(exec, count(kernel_maps, frame_.complex_volume));
    output_spectrum_ = ops::template allocate<complex<T>>(exec, count(output_maps, frame_.complex_volume));

    const auto plan = [&](std::int64_t maps, fft_direction direction) {
      return transforms::template make_plan<T>(exec, make_fft_desc<N, T>(frame_, maps, direction), real_.data(),
                                        natural_.data());
    };
    forward_input_ = plan(input_maps, fft_direction::real_to_complex);
    forward_kernel_ = plan(kernel_maps, fft_direction::real_to_complex);
    forward_output_ = plan(output_maps, fft_direction::real_to_complex);
    inverse_input_ = plan(input_maps, fft_direction::complex_to_real);
    inverse_kernel_ = plan(kernel_maps, fft_direction::complex_to_real);
    inverse_output_ = plan(output_maps, fft_direction::complex_to_real);
    std::size_t work_bytes = 0;
    for (const fft_plan* each : {forward_input_.get(), forward_kernel_.get(), forward_output_.get(),
                                 inverse_input_.get(), inverse_kernel_.get(), inverse_output_.get()})
      work_bytes = std::max(work_bytes, transforms::template work_area_bytes<T>(*each));
    work_area_ = ops::template allocate<unsigned char>(exec, work_bytes);
  }

  bool matches(const problem<N>& p) const { return same_problem<N>(problem_, p); }

  // The executor the workspace was allocated for: on the GPU its buffers and spectra are ordered on that
  // stream, so a call on another stream must not use them (the policy waits for it and rebuilds).
  const Exec& executor() const noexcept { return exec_; }
  bool same_queue(const Exec& exec) const { return queue_of(exec) == queue_; }

  // false when, in some dim, no tap of any output window lands inside the input (the windows see padding
  // only): y is then exactly the bias and dx, dw exactly zero. The policy writes those directly instead of
  // transforming, because a spectral result would carry rounding noise where the answer is exactly zero.
  bool reaches_input() const noexcept { return reaches_input_; }
  const spectral_frame<N>& frame() const noexcept { return frame_; }

  std::size_t workspace_bytes() const override {
    return real_.bytes() + natural_.bytes() + product_.bytes() + input_spectrum_.bytes() + kernel_spectrum_.bytes() +
           output_spectrum_.bytes() + work_area_.bytes();
  }

  // ---- the cached spectra and their tags (data pointer; the extents are this plan's problem) ----
  bool has_input_spectrum(const T* x) const { return input_source_ == x && x != nullptr; }
  bool has_kernel_spectrum(const T* w) const { return kernel_source_ == w && w != nullptr; }
  bool has_output_spectrum(const T* dy) const { return output_source_ == dy && dy != nullptr; }
  void forget_kernel_spectrum() override { kernel_source_ = nullptr; }
  void forget_output_spectrum() { output_source_ = nullptr; }
  void forget_data_spectra() override {
    input_source_ = nullptr;
    output_source_ = nullptr;
  }

  // X̂ <- FFT(x), frequency-major.
  void transform_input(const Exec& exec, const T* x, transform_counts& counts) {
    input_source_ = nullptr;  // stays unset if anything below throws
    stage_input<N, T> stage{frame_, {}, problem_.input_spatial(), x, real_.data()};
    for (int d = 0; d < N; ++d) stage.extents[d] = problem_.input[d];
    launch(exec, input_maps() * frame_.real_volume, frame_.real[N - 1], stage);
    to_spectrum(exec, *forward_input_, input_layout(), input_spectrum_.data(), counts);
    input_source_ = x;
  }

  // Ŵ <- FFT(dilated w), frequency-major.
  void transform_kernel(const Exec& exec, const T* w, transform_counts& counts) {
    kernel_source_ = nullptr;
    stage_kernel<N, T> stage{frame_, {}, {}, problem_.kernel_spatial(), w, real_.data()};
    for (int d = 0; d < N; ++d) {
      stage.kernel[d] = problem_.kernel[d];
      stage.dilation[d] = problem_.dilation[d];
    }
    launch(exec, kernel_maps() * frame_.real_volume, frame_.real[N - 1], stage);
    to_spectrum(exec, *forward_kernel_, kernel_layout(), kernel_spectrum_.data(), counts);
    kernel_source_ = w;
  }

  // dŶ <- FFT(dy zero-upsampled by the stride, shifted by -p), frequency-major.
  void transform_output_gradient(const Exec& exec, const T* dy, transform_counts& counts) {
    output_source_ = nullptr;
    stage_upsampled<N, T> stage{frame_, {}, {}, {}, problem_.output_spatial(), dy, real_.data()};
    for (int d = 0; d < N; ++d) {
      stage.output[d] = problem_.output[d];
      stage.stride[d] = problem_.stride[d];
      stage.padding[d] = problem_.padding[d];
    }
    launch(exec, output_maps() * frame_.real_volume, frame_.real[N - 1], stage);
    to_spectrum(exec, *forward_output_, output_layout(), output_spectrum_.data(), counts);
    output_source_ = dy;
  }

  // y = IFFT(X̂ · Ŵ^H) at q*s - p, + bias.
  void forward_output(const Exec& exec, const T* bias, T* y, transform_counts& counts) {
    const std::int64_t b = problem_.batch, cg = problem_.in_channels_per_group(), og = problem_.out_channels_per_group();
    gemm_desc desc;
    desc.op_b = gemm_op::conjugate_transpose;
    desc.m = b, desc.n = og, desc.k = cg;
    desc.lda = cg, desc.ldb = cg, desc.ldc = og;
    desc.stride_a = b * cg, desc.stride_b = og * cg, desc.stride_c = b * og;
    desc.batch = frame_.complex_volume * problem_.groups;
    ops::gemm(exec, desc, complex<T>(1), input_spectrum_.data(), kernel_spectrum_.data(), complex<T>(0),
              product_.data());
    from_spectrum(exec, *inverse_output_, output_layout(), counts);
    crop_frame<N, T> crop = make_crop(problem_.output, bias, problem_.out_channels, y);
    for (int d = 0; d < N; ++d) {
      crop.step[d] = problem_.stride[d];
      crop.offset[d] = -problem_.padding[d];
    }
    launch(exec, output_maps() * problem_.output_spatial(), problem_.output[N - 1], crop);
  }

  // dx = IFFT(dŶ · Ŵ) on [0, n).
  void backward_data_output(const Exec& exec, T* dx, transform_counts& counts) {
    const std::int64_t b = problem_.batch, cg = problem_.in_channels_per_group(), og = problem_.out_channels_per_group();
    gemm_desc desc;
    desc.m = b, desc.n = cg, desc.k = og;
    desc.lda = og, desc.ldb = cg, desc.ldc = cg;
    desc.stride_a = b * og, desc.stride_b = og * cg, desc.stride_c = b * cg;
    desc.batch = frame_.complex_volume * problem_.groups;
    ops::gemm(exec, desc, complex<T>(1), output_spectrum_.data(), kernel_spectrum_.data(), complex<T>(0),
              product_.data());
    from_spectrum(exec, *inverse_input_, input_layout(), counts);
    crop_frame<N, T> crop = make_crop(problem_.input, nullptr, 1, dx);
    launch(exec, input_maps() * problem_.input_spatial(), problem_.input[N - 1], crop);
  }

  // dw = IFFT(sum_b dŶ^H · X̂) at the dilated taps j*d.
  void backward_filter_output(const Exec& exec, T* dw, transform_counts& counts) {
    const std::int64_t b = problem_.batch, cg = problem_.in_channels_per_group(), og = problem_.out_channels_per_group();
    gemm_desc desc;
    desc.op_a = gemm_op::conjugate_transpose;
    desc.m = og, desc.n = cg, desc.k = b;
    desc.lda = og, desc.ldb = cg, desc.ldc = cg;
    desc.stride_a = b * og, desc.stride_b = b * cg, desc.stride_c = og * cg;
    desc.batch = frame_.complex_volume * problem_.groups;
    ops::gemm(exec, desc, complex<T>(1), output_spectrum_.data(), input_spectrum_.data(), complex<T>(0),
              product_.data());
    from_spectrum(exec, *inverse_kernel_, kernel_layout(), counts);
    crop_frame<N, T> crop = make_crop(problem_.kernel, nullptr, 1, dw);
    for (int d = 0; d < N; ++d) crop.step[d] = problem_.dilation[d];
    launch(exec, kernel_maps() * problem_.kernel_spatial(), problem_.kernel[N - 1], crop);
  }

 private:
  // Per dim: is there a tap j < k and an output q < out with 0 <= q*s - p + j*d < n?  O(k) per dim.
  static bool windows_reach_input(const problem<N>& p) {
    for (int d = 0; d < N; ++d) {
      bool reached = false;
      for (std::int64_t j = 0; j < p.kernel[d] && !reached; ++j) {
        const std::int64_t shift = j * p.dilation[d] - p.padding[d];  // input position of output 0's tap j
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

  // elements / row_length rows of work: one GPU thread per element (coalesced), or on the host one loop
  // iteration per row through F::row (see detail/kernels/spectral.hpp).
  template <class F>
  static void launch(const Exec& exec, std::int64_t elements, std::int64_t row_length, const F& f) {
    if constexpr (ops::on_device) {
      ops::for_each_index(exec, elements, f);
    } else {
      (void)exec;
      const std::int64_t rows = elements / row_length;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (elements > 16384)
#endif
      for (std::int64_t r = 0; r < rows; ++r) f.row(r);
    }
  }

  // The transposes: one GPU thread per element, or on the host one loop iteration per cache tile.
  template <class F>
  static void launch_transpose(const Exec& exec, std::int64_t elements, const F& f) {
    if constexpr (ops::on_device) {
      ops::for_each_index(exec, elements, f);
    } else {
      (void)exec;
      const std::int64_t tiles = f.tiles();
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (elements > 16384)
#endif
      for (std::int64_t t = 0; t < tiles; ++t) f.tile(t);
    }
  }

  static std::size_t count(std::int64_t maps, std::int64_t volume) {
    return static_cast<std::size_t>(checked_multiply(maps, volume, "fft workspace"));
  }

  std::int64_t input_maps() const { return problem_.batch * problem_.in_channels; }
  std::int64_t kernel_maps() const { return problem_.out_channels * problem_.in_channels_per_group(); }
  std::int64_t output_maps() const { return problem_.batch * problem_.out_channels; }
  channel_layout input_layout() const {
    return {problem_.batch, problem_.groups, 1, problem_.in_channels_per_group()};
  }
  channel_layout output_layout() const {
    return {problem_.batch, problem_.groups, 1, problem_.out_channels_per_group()};
  }
  channel_layout kernel_layout() const {
    return {1, problem_.groups, problem_.out_channels_per_group(), problem_.in_channels_per_group()};
  }

  // real_ (staged) -> R2C -> natural_ -> frequency-major spectrum.
  void to_spectrum(const Exec& exec, const fft_plan& plan, const channel_layout& layout, complex<T>* spectrum,
                   transform_counts& counts) {
    transforms::forward(exec, plan, real_.data(), natural_.data(), work_area_.data());
    ++counts.forward;
    launch_transpose(exec, layout.maps() * frame_.complex_volume,
                     to_frequency_major<T>{layout, frame_.complex_volume, natural_.data(), spectrum});
  }

  // product_ (frequency-major) -> natural_ -> C2R (overwrites natural_) -> real_.
  void from_spectrum(const Exec& exec, const fft_plan& plan, const channel_layout& layout, transform_counts& counts) {
    launch_transpose(exec, layout.maps() * frame_.complex_volume,
                     from_frequency_major<T>{layout, frame_.complex_volume, product_.data(), natural_.data()});
    transforms::inverse(exec, plan, natural_.data(), real_.data(), work_area_.data());
    ++counts.inverse;
  }

  crop_frame<N, T> make_crop(const std::int64_t (&extents)[N], const T* bias, std::int64_t channels, T* out) const {
    crop_frame<N, T> crop{};
    crop.frame = frame_;
    for (int d = 0; d < N; ++d) {
      crop.extents[d] = extents[d];
      crop.step[d] = 1;
      crop.offset[d] = 0;
    }
    crop.scale = T(1) / static_cast<T>(frame_.real_volume);  // the inverse transforms are unnormalised
    crop.bias = bias;
    crop.channels = channels;
    crop.frame_data = real_.data();
    crop.destination = out;
    return crop;
  }

  Exec exec_;
  execution_queue queue_;
  problem<N> problem_;
  bool reaches_input_ = true;
  spectral_frame<N> frame_{};
  buffer<T> real_;                      // staged maps [maps][L...], and the inverse transforms' output
  buffer<complex<T>> natural_;          // R2C output / C2R input, natural layout
  buffer<complex<T>> product_;          // GEMM output, frequency-major
  buffer<complex<T>> input_spectrum_;   // X̂
  buffer<complex<T>> kernel_spectrum_;  // Ŵ
  buffer<complex<T>> output_spectrum_;  // dŶ
  buffer<unsigned char> work_area_;     // the FFT library's work area (cuFFT; none for FFTW)
  std::shared_ptr<fft_plan> forward_input_, forward_kernel_, forward_output_;
  std::shared_ptr<fft_plan> inverse_input_, inverse_kernel_, inverse_output_;
  const T* input_source_ = nullptr;
  const T* kernel_source_ = nullptr;
  const T* output_source_ = nullptr;
};

}  // namespace fftconv::detail
