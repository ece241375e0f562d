#pragma once
// Host FFTs: fft_desc executed by FFTW3's plan-many (fftwf_* for float, fftw_* for double), or by pruned
// one-dimensional passes where its live box skips rows.
//
// Planning: FFTW's planner (plan creation and destruction) is not thread-safe, so every planner call holds
// one process-wide mutex; fftw_execute_dft_* with new arrays is thread-safe and runs without it. Plans are
// made on the caller's scratch arrays (never on user data) and then executed on other arrays with the same
// alignment: fftconv's host buffers are 64-byte aligned, and execution checks the alignment class.
// FFTW_ESTIMATE by default (planning in microseconds, arrays untouched); define FFTCONV_FFTW_PLANNER_FLAGS to
// FFTW_MEASURE to trade planning time (once per shape, cached) for faster transforms.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "../../error.hpp"
#include "../../executor.hpp"
#include "../common/fft_backend.hpp"
#include "../common/fft_desc.hpp"
#include "../common/plan_cache.hpp"
#include "../common/gemm.hpp"  // complex<T>
#include "parallel.hpp"

#include "../../config.hpp"  // FFTCONV_HAS_FFTW, dependent_false
#if FFTCONV_HAS_FFTW
#include <fftw3.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace fftconv::detail {

#if FFTCONV_HAS_FFTW

#if !defined(FFTCONV_FFTW_PLANNER_FLAGS)
#define FFTCONV_FFTW_PLANNER_FLAGS FFTW_ESTIMATE
#endif

// A plan from make(flags); for a 3D frame under the estimating planner, first without FFTW's buffered solvers.
// FFTW_ESTIMATE ranks plans by operation count, and for sizes without a straight-line codelet (30, 40, ...) it
// picks solvers that copy through a buffer allocated on every execution. Ruling them out speeds up 3D frames
// of such sizes; in 1D and 2D it gained nothing and slowed some frames, so 1D and 2D keep the plain flags
// (the bench's headline rows are the evidence). FFTW_NO_BUFFERING is one of fftw3.h's
// beyond-guru planner flags; where no plan without a buffer exists the planner returns null and the plain
// flags plan it. A measuring planner (FFTCONV_FFTW_PLANNER_FLAGS = FFTW_MEASURE) times its candidates itself.
template <class Make>
auto plan_without_buffers_first(std::int64_t rank, Make&& make) {
  constexpr unsigned flags = FFTCONV_FFTW_PLANNER_FLAGS;
  if constexpr ((flags & FFTW_ESTIMATE) != 0) {
    if (rank == 3)
      if (auto plan = make(flags | FFTW_NO_BUFFERING)) return plan;
  }
  return make(flags);
}

inline std::mutex& fftw_planner_mutex() {
  static std::mutex mutex;
  return mutex;
}

// The fftw_* / fftwf_* API by precision.
template <class T>
struct fftw_api;

template <>
struct fftw_api<float> {
  using plan = fftwf_plan;
  using complex_type = fftwf_complex;
  static constexpr const char* r2c_name = "fftwf_plan_many_dft_r2c";
  static constexpr const char* c2r_name = "fftwf_plan_many_dft_c2r";
  static plan r2c(int rank, const int* n, int batch, float* in, const int* inembed, int istride, int idist,
                  complex_type* out, const int* onembed, int ostride, int odist, unsigned flags) {
    return fftwf_plan_many_dft_r2c(rank, n, batch, in, inembed, istride, idist, out, onembed, ostride, odist, flags);
  }
  static plan c2r(int rank, const int* n, int batch, complex_type* in, const int* inembed, int istride, int idist,
                  float* out, const int* onembed, int ostride, int odist, unsigned flags) {
    return fftwf_plan_many_dft_c2r(rank, n, batch, in, inembed, istride, idist, out, onembed, ostride, odist, flags);
  }
  static void execute_r2c(plan p, float* in, complex_type* out) { fftwf_execute_dft_r2c(p, in, out); }
  static void execute_c2r(plan p, complex_type* in, float* out) { fftwf_execute_dft_c2r(p, in, out); }
  // One-dimensional passes of a pruned transform (fftw_iodim is one struct for every precision).
  static plan guru_r2c(const fftw_iodim& dim, int loops, const fftw_iodim* loop_dims, float* in, complex_type* out,
                       unsigned flags) {
    return fftwf_plan_guru_dft_r2c(1, &dim, loops, loop_dims, in, out, flags);
  }
  static plan guru_c2r(const fftw_iodim& dim, int loops, const fftw_iodim* loop_dims, complex_type* in, float* out,
                       unsigned flags) {
    return fftwf_plan_guru_dft_c2r(1, &dim, loops, loop_dims, in, out, flags);
  }
  static plan guru_complex(const fftw_iodim& dim, int loops, const fftw_iodim* loop_dims, complex_type* data, int sign,
                           unsigned flags) {
    return fftwf_plan_guru_dft(1, &dim, loops, loop_dims, data, data, sign, flags);
  }
  static void execute_complex(plan p, complex_type* data) { fftwf_execute_dft(p, data, data); }
  static int alignment_of(float* p) { return fftwf_alignment_of(p); }
  static void destroy(plan p) { fftwf_destroy_plan(p); }
};

template <>
struct fftw_api<double> {
  using plan = fftw_plan;
  using complex_type = fftw_complex;
  static constexpr const char* r2c_name = "fftw_plan_many_dft_r2c";
  static constexpr const char* c2r_name = "fftw_plan_many_dft_c2r";
  static plan r2c(int rank, const int* n, int batch, double* in, const int* inembed, int istride, int idist,
                  complex_type* out, const int* onembed, int ostride, int odist, unsigned flags) {
    return fftw_plan_many_dft_r2c(rank, n, batch, in, inembed, istride, idist, out, onembed, ostride, odist, flags);
  }
  static plan c2r(int rank, const int* n, int batch, complex_type* in, const int* inembed, int istride, int idist,
                  double* out, const int* onembed, int ostride, int odist, unsigned flags) {
    return fftw_plan_many_dft_c2r(rank, n, batch, in, inembed, istride, idist, out, onembed, ostride, odist, flags);
  }
  static void execute_r2c(plan p, double* in, complex_type* out) { fftw_execute_dft_r2c(p, in, out); }
  static void execute_c2r(plan p, complex_type* in, double* out) { fftw_execute_dft_c2r(p, in, out); }
  // One-dimensional passes of a pruned transform (fftw_iodim is one struct for every precision).
  static plan guru_r2c(const fftw_iodim& dim, int loops, const fftw_iodim* loop_dims, double* in, complex_type* out,
                       unsigned flags) {
    return fftw_plan_guru_dft_r2c(1, &dim, loops, loop_dims, in, out, flags);
  }
  static plan guru_c2r(const fftw_iodim& dim, int loops, const fftw_iodim* loop_dims, complex_type* in, double* out,
                       unsigned flags) {
    return fftw_plan_guru_dft_c2r(1, &dim, loops, loop_dims, in, out, flags);
  }
  static plan guru_complex(const fftw_iodim& dim, int loops, const fftw_iodim* loop_dims, complex_type* data, int sign,
                           unsigned flags) {
    return fftw_plan_guru_dft(1, &dim, loops, loop_dims, data, data, sign, flags);
  }
  static void execute_complex(plan p, complex_type* data) { fftw_execute_dft(p, data, data); }
  static int alignment_of(double* p) { return fftw_alignment_of(p); }
  static void destroy(plan p) { fftw_destroy_plan(p); }
};

inline int to_fftw_int(std::int64_t value, const char* field) {
  if (value < 0 || value > std::numeric_limits<int>::max())
    fail("fft: ", field, " = ", value, " does not fit FFTW's int (use the device executor for this size)");
  return static_cast<int>(value);
}

// One-dimensional passes of a transform whose live box (fft_desc::live) skips rows, planned for one map and run
// map by map, so a map's passes stay in cache. A forward transform of a box of extents l in a frame n
// transforms the last dim on the l_0 x .. x l_{R-2} rows that hold data, zero-fills the rest of the spectrum,
// then each earlier dim d (last to first) only where the dims before it are live; an inverse runs the same
// passes in reverse order, dim d only where the dims before it are read: a small box in a large frame skips
// most of the work of the whole-frame plan.
template <class T>
class fftw_pruned_passes {
  using api = fftw_api<T>;
  using plan = typename api::plan;

 public:
  // Whether desc has the natural layout these passes assume and maps that keep the planning arrays' alignment.
  static bool applies(const fft_desc& desc) {
    if (desc.rank < 2 || !prunes_rows(desc) || desc.istride != 1 || desc.ostride != 1) return false;
    const bool forward = desc.direction == fft_direction::real_to_complex;
    const std::int64_t real = forward ? desc.idist : desc.odist, spectrum = forward ? desc.odist : desc.idist;
    for (int d = 0; d < desc.rank; ++d) {
      const std::int64_t complex_extent = d == desc.rank - 1 ? desc.n[d] / 2 + 1 : desc.n[d];
      if ((forward ? desc.inembed[d] : desc.onembed[d]) != desc.n[d] ||
          (forward ? desc.onembed[d] : desc.inembed[d]) != complex_extent)
        return false;
    }
    return (real * std::int64_t(sizeof(T))) % 64 == 0 && (spectrum * std::int64_t(2 * sizeof(T))) % 64 == 0;
  }

  fftw_pruned_passes(const fft_desc& desc, T* real, complex<T>* spectrum) : desc_(desc) {
    const int rank = desc.rank, last = rank - 1;
    const bool forward = desc.direction == fft_direction::real_to_complex;
    std::int64_t real_stride[3] = {}, spectrum_stride[3] = {};
    real_stride[last] = spectrum_stride[last] = 1;
    for (int d = last - 1; d >= 0; --d) {
      real_stride[d] = real_stride[d + 1] * desc.n[d + 1];
      spectrum_stride[d] = spectrum_stride[d + 1] * (d + 1 == last ? desc.n[last] / 2 + 1 : desc.n[d + 1]);
    }
    auto dim = [](std::int64_t n, std::int64_t in, std::int64_t out) {
      return fftw_iodim{to_fftw_int(n, "transform extent"), to_fftw_int(in, "stride"), to_fftw_int(out, "stride")};
    };
    auto* data = reinterpret_cast<typename api::complex_type*>(spectrum);
    // The rows along the last dim: the live box of the dims before it.
    fftw_iodim rows[2];
    for (int d = 0; d < last; ++d)
      rows[d] = forward ? dim(desc.live[d], real_stride[d], spectrum_stride[d])
                        : dim(desc.live[d], spectrum_stride[d], real_stride[d]);
    // Dim d along columns: the dims before it over their live extent, the dims after it whole.
    auto columns = [&](int d, fftw_iodim* loops) {
      int count = 0;
      for (int e = 0; e < last; ++e)
        if (e != d) loops[count++] = dim(e < d ? desc.live[e] : desc.n[e], spectrum_stride[e], spectrum_stride[e]);
      loops[count++] = dim(desc.n[last] / 2 + 1, 1, 1);
      return count;
    };
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    try {
      const fftw_iodim along_last = dim(desc.n[last], 1, 1);
      last_dim_ = plan_without_buffers_first(desc.rank, [&](unsigned flags) {
        return forward ? api::guru_r2c(along_last, last, rows, real, data, flags)
                       : api::guru_c2r(along_last, last, rows, data, real, flags);
      });
      check(last_dim_);
      for (int step = 0; step < last; ++step) {
        const int d = forward ? last - 1 - step : step;
        fftw_iodim loops[3];
        const int count = columns(d, loops);
        earlier_dims_[step] = plan_without_buffers_first(desc.rank, [&](unsigned flags) {
          return api::guru_complex(dim(desc.n[d], spectrum_stride[d], spectrum_stride[d]), count, loops, data,
                                   forward ? FFTW_FORWARD : FFTW_BACKWARD, flags);
        });
        check(earlier_dims_[step]);
      }
    } catch (...) {
      release_locked();
      throw;
    }
    // A forward pass along dim d reads the whole column: the spectrum outside the box must be zero there.
    if (forward) zero_outside(spectrum_stride);
    real_distance_ = forward ? desc.idist : desc.odist;
    spectrum_distance_ = forward ? desc.odist : desc.idist;
  }
  fftw_pruned_passes(const fftw_pruned_passes&) = delete;
  fftw_pruned_passes& operator=(const fftw_pruned_passes&) = delete;
  ~fftw_pruned_passes() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    release_locked();
  }

  void execute_map(std::int64_t map, T* real, complex<T>* spectrum) const {
    T* real_map = real + map * real_distance_;
    complex<T>* spectrum_map = spectrum + map * spectrum_distance_;
    auto* data = reinterpret_cast<typename api::complex_type*>(spectrum_map);
    const int last = desc_.rank - 1;
    if (desc_.direction == fft_direction::real_to_complex) {
      api::execute_r2c(last_dim_, real_map, data);
      for (const auto& [offset, count] : zeros_)
        std::fill_n(spectrum_map + offset, count, complex<T>(0));
      for (int step = 0; step < last; ++step) api::execute_complex(earlier_dims_[step], data);
    } else {
      for (int step = 0; step < last; ++step) api::execute_complex(earlier_dims_[step], data);
      api::execute_c2r(last_dim_, data, real_map);
    }
  }

 private:
  static void check(plan p) {
    if (p == nullptr)
      throw library_error("FFTW", "fftw_plan_guru_dft", 0, "null plan (FFTW could not plan a pruned pass)",
                          std::source_location::current());
  }

  // The spectrum's runs outside the live box of the dims before the last (rank 2: rows; rank 3: rows of the
  // live planes, then whole planes).
  void zero_outside(const std::int64_t* stride) {
    const std::int64_t* n = desc_.n;
    const std::int64_t* live = desc_.live;
    auto run = [&](std::int64_t offset, std::int64_t count) {
      if (count > 0) zeros_.emplace_back(offset, count);
    };
    if (desc_.rank == 3)
      for (std::int64_t plane = 0; plane < live[0]; ++plane)
        run(plane * stride[0] + live[1] * stride[1], (n[1] - live[1]) * stride[1]);
    run(live[0] * stride[0], (n[0] - live[0]) * stride[0]);
  }

  void release_locked() noexcept {
    if (last_dim_ != nullptr) api::destroy(last_dim_);
    for (plan& p : earlier_dims_)
      if (p != nullptr) api::destroy(p);
    last_dim_ = nullptr;
    for (plan& p : earlier_dims_) p = nullptr;
  }

  fft_desc desc_;
  plan last_dim_ = nullptr;
  plan earlier_dims_[2] = {nullptr, nullptr};  // in execution order
  std::vector<std::pair<std::int64_t, std::int64_t>> zeros_;  // (offset, count) in a map's spectrum
  std::int64_t real_distance_ = 0, spectrum_distance_ = 0;
};

// One descriptor's FFTW plans; destroyed under the planner mutex. FFTW without its threads library runs a plan
// on the calling thread only, so a batch of maps is split into one part per OpenMP thread, each part a plan of
// its own run concurrently (new-array execution is thread-safe). FFTW's own threads would need libfftw3_omp at
// link time and a process-global setting. A descriptor whose live box
// skips rows runs as pruned passes instead, map by map over the threads.
template <class T>
class fftw_plan_handle {
  using api = fftw_api<T>;

 public:
  // real/spectrum: scratch arrays of the descriptor's full extent, 64-byte aligned.
  fftw_plan_handle(const fft_desc& desc, T* real, complex<T>* spectrum) : desc_(desc) {
    const bool forward = desc.direction == fft_direction::real_to_complex;
    real_distance_ = forward ? desc.idist : desc.odist;
    spectrum_distance_ = forward ? desc.odist : desc.idist;
    points_ = double(desc.batch);
    for (int d = 0; d < desc.rank; ++d) points_ *= double(desc.n[d]);
    real_alignment_ = api::alignment_of(real);
    spectrum_alignment_ = api::alignment_of(reinterpret_cast<T*>(spectrum));
    if (fftw_pruned_passes<T>::applies(desc)) {
      pruned_ = std::make_unique<fftw_pruned_passes<T>>(desc, real, spectrum);
      return;
    }
    std::int64_t parts = 1;
#if defined(_OPENMP)
    parts = std::min<std::int64_t>(omp_get_max_threads(), desc.batch);
#endif
    part_ = (desc.batch + parts - 1) / parts;
    // Parts start where the whole batch does in FFTW's alignment classes, or the batch stays whole.
    if ((part_ * real_distance_ * std::int64_t(sizeof(T))) % 64 != 0 ||
        (part_ * spectrum_distance_ * std::int64_t(2 * sizeof(T))) % 64 != 0)
      part_ = desc.batch;
    parts_ = (desc.batch + part_ - 1) / part_;
    try {
      plan_ = make(desc, part_, real, spectrum);
      const std::int64_t last = desc.batch - (parts_ - 1) * part_;
      last_plan_ = last == part_ ? nullptr : make(desc, last, real, spectrum);
    } catch (...) {
      release();
      throw;
    }
  }
  fftw_plan_handle(const fftw_plan_handle&) = delete;
  fftw_plan_handle& operator=(const fftw_plan_handle&) = delete;
  ~fftw_plan_handle() { release(); }

  const fft_desc& desc() const noexcept { return desc_; }
  bool pruned() const noexcept { return pruned_ != nullptr; }

  void execute(T* real, complex<T>* spectrum) const {
    // New-array execution needs the planning arrays' alignment class (FFTW manual, "New-array Execute").
    if (api::alignment_of(real) != real_alignment_ ||
        api::alignment_of(reinterpret_cast<T*>(spectrum)) != spectrum_alignment_)
      fail("fft: FFTW arrays are not aligned like the arrays the plan was made on");
    if (pruned_ != nullptr) {
      const fftw_pruned_passes<T>& passes = *pruned_;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (desc_.batch > 1 && worth_parallel(4.0 * points_))
#endif
      for (std::int64_t map = 0; map < desc_.batch; ++map) passes.execute_map(map, real, spectrum);
      return;
    }
    const bool forward = desc_.direction == fft_direction::real_to_complex;
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (parts_ > 1 && worth_parallel(4.0 * points_))  // ~2 ns a point
#endif
    for (std::int64_t part = 0; part < parts_; ++part) {
      const typename api::plan plan = part == parts_ - 1 && last_plan_ != nullptr ? last_plan_ : plan_;
      T* real_part = real + part * part_ * real_distance_;
      auto* spectrum_part = reinterpret_cast<typename api::complex_type*>(spectrum + part * part_ * spectrum_distance_);
      if (forward)
        api::execute_r2c(plan, real_part, spectrum_part);
      else
        api::execute_c2r(plan, spectrum_part, real_part);  // overwrites the spectrum
    }
  }

 private:
  static typename api::plan make(const fft_desc& desc, std::int64_t maps, T* real, complex<T>* spectrum) {
    int n[3] = {}, inembed[3] = {}, onembed[3] = {};
    for (int d = 0; d < desc.rank; ++d) {
      n[d] = to_fftw_int(desc.n[d], "transform extent");
      inembed[d] = to_fftw_int(desc.inembed[d], "inembed");
      onembed[d] = to_fftw_int(desc.onembed[d], "onembed");
    }
    const int batch = to_fftw_int(maps, "batch");
    const int istride = to_fftw_int(desc.istride, "istride"), idist = to_fftw_int(desc.idist, "idist");
    const int ostride = to_fftw_int(desc.ostride, "ostride"), odist = to_fftw_int(desc.odist, "odist");
    auto* spectrum_data = reinterpret_cast<typename api::complex_type*>(spectrum);
    const char* call = nullptr;
    typename api::plan plan = nullptr;
    {
      std::lock_guard<std::mutex> lock(fftw_planner_mutex());
      const bool forward = desc.direction == fft_direction::real_to_complex;
      call = forward ? api::r2c_name : api::c2r_name;
      plan = plan_without_buffers_first(desc.rank, [&](unsigned flags) {
        return forward ? api::r2c(desc.rank, n, batch, real, inembed, istride, idist, spectrum_data, onembed, ostride,
                                  odist, flags)
                       : api::c2r(desc.rank, n, batch, spectrum_data, inembed, istride, idist, real, onembed, ostride,
                                  odist, flags);
      });
    }
    if (plan == nullptr)
      throw library_error("FFTW", call, 0, "null plan (FFTW could not plan this transform)",
                          std::source_location::current());
    return plan;
  }

  void release() noexcept {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    if (plan_ != nullptr) api::destroy(plan_);
    if (last_plan_ != nullptr) api::destroy(last_plan_);
    plan_ = last_plan_ = nullptr;
  }

  fft_desc desc_;
  std::unique_ptr<fftw_pruned_passes<T>> pruned_;  // set for a live box that skips rows; else the plans below
  typename api::plan plan_ = nullptr;       // `part_` maps
  typename api::plan last_plan_ = nullptr;  // the last part's maps, when fewer (else null)
  std::int64_t part_ = 1, parts_ = 1;
  double points_ = 0;  // real points of the whole batch
  std::int64_t real_distance_ = 0, spectrum_distance_ = 0;
  int real_alignment_ = 0;
  int spectrum_alignment_ = 0;
};

template <>
struct fft_backend<host> {
  static constexpr bool available = true;

  template <class T>
  using plan = fftw_plan_handle<T>;

  // The cached plan for desc, planned on the given scratch arrays when it is new.
  template <class T>
  static std::shared_ptr<plan<T>> make_plan(const host&, const fft_desc& desc, T* real_scratch,
                                            complex<T>* spectrum_scratch) {
    const fft_plan_key key = make_fft_plan_key(fft_library::fftw, -1, desc);
    return fft_plan_cache::instance().get_or_create<plan<T>>(
        key, [&] { return std::make_shared<plan<T>>(desc, real_scratch, spectrum_scratch); });
  }

  template <class T>
  static std::size_t work_area_bytes(const plan<T>&) {
    return 0;  // FFTW manages its own scratch
  }

  template <class T>
  static void forward(const host&, const plan<T>& p, T* real, complex<T>* spectrum, void* /*work_area*/) {
    p.execute(real, spectrum);
  }

  template <class T>
  static void inverse(const host&, const plan<T>& p, complex<T>* spectrum, T* real, void* /*work_area*/) {
    p.execute(real, spectrum);
  }
};

#else  // !FFTCONV_HAS_FFTW

// The FFT policy's host path static_asserts on `available`, naming FFTW3 in its message.
template <>
struct fft_backend<host> {
  static constexpr bool available = false;
};

#endif

}  // namespace fftconv::detail
