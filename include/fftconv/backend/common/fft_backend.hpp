#pragma once
// fft_backend<Exec>: how the FFT policy runs an fft_desc on an executor. Specialised by
// backend/host/fftw.hpp (FFTW3) and backend/device/cufft.cuh (cuFFT); each provides
//   available                                         false where the library is missing
//   plan<T>                                           a plan type (cached process-wide, shared)
//   make_plan<T>(exec, desc, real_scratch, spectrum_scratch) -> shared_ptr<plan<T>>
//   work_area_bytes<T>(plan)                          bytes the caller provides per execution
//   forward<T>(exec, plan, real, spectrum, work_area) R2C / D2Z
//   inverse<T>(exec, plan, spectrum, real, work_area) C2R / Z2D (overwrites the spectrum)

#include "../../config.hpp"  // dependent_false

namespace fftconv::detail {

template <class Exec>
struct fft_backend {
  static_assert(dependent_false<Exec>,
                "fftconv: no FFT backend for this executor: fftconv::device needs this translation unit compiled as "
                "CUDA (nvcc, a .cu file), where backend/device/cufft.cuh provides cuFFT");
};

}  // namespace fftconv::detail
