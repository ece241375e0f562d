#pragma once
// Host FFTs: fft_desc executed by FFTW3's plan-many (fftwf_* for float, fftw_* for double).
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

#include "../../error.hpp"
#include "../../executor.hpp"
#include "../../plan/fft_backend.hpp"
#include "../../plan/fft_desc.hpp"
#include "../../plan/plan_cache.hpp"
#include "../../policy.hpp"  // dependent_false
#include "../gemm.hpp"       // complex<T>
#include "parallel.hpp"

#include "../../config.hpp"  // FFTCONV_HAS_FFTW
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
  static int alignment_of(double* p) { return fftw_alignment_of(p); }
  static void destroy(plan p) { fftw_destroy_plan(p); }
};

inline int to_fftw_int(std::int64_t value, const char* field) {
  if (value < 0 || value > std::numeric_limits<int>::max())
    fail("fft: ", field, " = ", value, " does not fit FFTW's int (use the device executor for this size)");
  return static_cast<int>(value);
}

// One descriptor's FFTW plans; destroyed under the planner mutex. FFTW without its threads library runs a plan
// on the calling thread only, so a batch of maps is split into one part per OpenMP thread, each part a plan of
// its own run concurrently (new-array execution is thread-safe); measured on the host this beat FFTW's own
// threads, which would need libfftw3_omp at link time and a process-global setting.
template <class T>
class fftw_plan_handle {
  using api = fftw_api<T>;

 public:
  // real/spectrum: scratch arrays of the descriptor's full extent, 64-byte aligned.
  fftw_plan_handle(const fft_desc& desc, T* real, complex<T>* spectrum) : desc_(desc) {
    const bool forward = desc.direction == fft_direction::real_to_complex;
    real_distance_ = forward ? desc.idist : desc.odist;
    spectrum_distance_ = forward ? desc.odist : desc.idist;
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
    points_ = double(desc.batch);
    for (int d = 0; d < desc.rank; ++d) points_ *= double(desc.n[d]);
    real_alignment_ = api::alignment_of(real);
    spectrum_alignment_ = api::alignment_of(reinterpret_cast<T*>(spectrum));
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

  void execute(T* real, complex<T>* spectrum) const {
    // New-array execution needs the planning arrays' alignment class (FFTW manual, "New-array Execute").
    if (api::alignment_of(real) != real_alignment_ ||
        api::alignment_of(reinterpret_cast<T*>(spectrum)) != spectrum_alignment_)
      fail("fft: FFTW arrays are not aligned like the arrays the plan was made on");
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
      if (desc.direction == fft_direction::real_to_complex) {
        call = api::r2c_name;
        plan = api::r2c(desc.rank, n, batch, real, inembed, istride, idist, spectrum_data, onembed, ostride, odist,
                        FFTCONV_FFTW_PLANNER_FLAGS);
      } else {
        call = api::c2r_name;
        plan = api::c2r(desc.rank, n, batch, spectrum_data, inembed, istride, idist, real, onembed, ostride, odist,
                        FFTCONV_FFTW_PLANNER_FLAGS);
      }
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
