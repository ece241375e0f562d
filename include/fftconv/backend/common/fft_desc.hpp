#pragma once
// A batched real FFT as a value: the fields of cufftMakePlanMany64 and fftw_plan_many_dft_{r2c,c2r}, so one
// descriptor is what CI runs on FFTW and what the GPU runs on cuFFT.
//
// Both libraries take explicit embeds here: with null embeds cuFFT ignores istride/idist and FFTW assumes
// n; spelling them out keeps the two executions identical. Out-of-place only; a complex-to-real transform
// overwrites its input in both libraries, so it is only ever run on scratch.
//
// `live` is the box at each map's origin that matters: for R2C the input is zero outside it, for C2R only the
// outputs inside it are read. The staged maps of the FFT policy are such boxes (a kernel's taps, a tile of dy,
// a window of x) in a larger frame. An executor may ignore it and transform whole frames (cuFFT does); FFTW
// skips the rows it proves zero or unread (backend/host/fftw.hpp). Outputs outside a C2R's live box are then
// undefined.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../../geometry.hpp"

namespace fftconv::detail {

enum class fft_direction : std::int32_t { real_to_complex = 0, complex_to_real = 1 };

struct fft_desc {
  std::int32_t rank;
  fft_direction direction;
  std::int32_t precision_bytes;  // 4: R2C/C2R (fftwf), 8: D2Z/Z2D (fftw)
  std::int32_t reserved;         // explicit, so no padding bytes hide between fields
  std::int64_t n[3];             // logical (real) extents, row-major
  std::int64_t batch;
  std::int64_t inembed[3], istride, idist;
  std::int64_t onembed[3], ostride, odist;
  std::int64_t live[3];  // <= n: the box that matters (see above); n where the whole frame does
};
static_assert(std::is_trivial_v<fft_desc> && std::is_standard_layout_v<fft_desc>);

// Every field, arrays included (a plan cache key must never match on a partial compare).
inline bool operator==(const fft_desc& a, const fft_desc& b) {
  if (a.rank != b.rank || a.direction != b.direction || a.precision_bytes != b.precision_bytes ||
      a.reserved != b.reserved || a.batch != b.batch || a.istride != b.istride || a.idist != b.idist ||
      a.ostride != b.ostride || a.odist != b.odist)
    return false;
  for (int d = 0; d < 3; ++d)
    if (a.n[d] != b.n[d] || a.inembed[d] != b.inembed[d] || a.onembed[d] != b.onembed[d] || a.live[d] != b.live[d])
      return false;
  return true;
}

// The transform frame of one problem: real extents L, complex (half-spectrum) extents with the last dim
// L/2+1, and their volumes. Every spectral functor captures it by value.
template <int N>
struct spectral_frame {
  std::int64_t real[N];
  std::int64_t complex[N];
  std::int64_t real_volume;
  std::int64_t complex_volume;
};

template <int N>
spectral_frame<N> make_spectral_frame(const std::int64_t (&extents)[N]) {
  spectral_frame<N> frame{};
  frame.real_volume = 1;
  frame.complex_volume = 1;
  for (int d = 0; d < N; ++d) {
    frame.real[d] = extents[d];
    frame.complex[d] = d == N - 1 ? extents[d] / 2 + 1 : extents[d];
    frame.real_volume = checked_multiply(frame.real_volume, frame.real[d], "fft transform frame");
    frame.complex_volume = checked_multiply(frame.complex_volume, frame.complex[d], "fft transform frame");
  }
  return frame;
}

// `batch` maps, natural layout on both sides: real [batch][L...] with maps `real_distance` apart, complex
// [batch][L.../2+1] with maps `complex_distance` apart (0: the volume, i.e. contiguous). The fft policy spaces
// maps so that each starts 64-byte aligned: FFTW's new-array execution needs the planning arrays' alignment.
template <int N, class T>
fft_desc make_fft_desc(const spectral_frame<N>& frame, std::int64_t batch, fft_direction direction,
                       std::int64_t real_distance = 0, std::int64_t complex_distance = 0) {
  fft_desc desc;
  std::memset(&desc, 0, sizeof desc);  // unused array slots and `reserved` are zero, so keys compare equal
  desc.rank = N;
  desc.direction = direction;
  desc.precision_bytes = static_cast<std::int32_t>(sizeof(T));
  desc.batch = batch;
  const bool forward = direction == fft_direction::real_to_complex;
  for (int d = 0; d < N; ++d) {
    desc.n[d] = frame.real[d];
    desc.live[d] = frame.real[d];
    desc.inembed[d] = forward ? frame.real[d] : frame.complex[d];
    desc.onembed[d] = forward ? frame.complex[d] : frame.real[d];
  }
  const std::int64_t real = real_distance > 0 ? real_distance : frame.real_volume;
  const std::int64_t spectrum = complex_distance > 0 ? complex_distance : frame.complex_volume;
  desc.istride = 1;
  desc.ostride = 1;
  desc.idist = forward ? real : spectrum;
  desc.odist = forward ? spectrum : real;
  return desc;
}

// desc with the live box `live` (clamped to the frame; see fft_desc).
template <int N>
fft_desc with_live_box(fft_desc desc, const std::array<std::int64_t, N>& live) {
  for (int d = 0; d < N; ++d) desc.live[d] = std::clamp<std::int64_t>(live[d], 1, desc.n[d]);
  return desc;
}

// desc as a whole-frame transform: the key of an executor that ignores `live`, so such descriptors share a plan.
inline fft_desc whole_frame(fft_desc desc) {
  for (int d = 0; d < desc.rank; ++d) desc.live[d] = desc.n[d];
  return desc;
}

// Whether a live box saves FFTW any work: rows skipped along some dim but the last (whose own extent a real
// transform cannot prune).
inline bool prunes_rows(const fft_desc& desc) {
  for (int d = 0; d + 1 < desc.rank; ++d)
    if (desc.live[d] < desc.n[d]) return true;
  return false;
}

}  // namespace fftconv::detail
