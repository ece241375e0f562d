#pragma once
// What a policy may ask of an executor, the same for both:
//
//   backend<Exec>::buffer<T>                          RAII memory in the executor's space
//   backend<Exec>::allocate<T>(exec, count)           (stream-ordered on the GPU)
//   backend<Exec>::for_each_index(exec, n, f)         f(i) for every i < n: OpenMP loop / grid-stride kernel
//   backend<Exec>::segmented_sum(exec, s, len, f, out) out[j] = sum_i f(j, i) in a fixed order (deterministic)
//   backend<Exec>::fill / copy(exec, ...)
//   backend<Exec>::gemm(exec, gemm_desc, alpha, A, B, beta, C)   CBLAS / cuBLAS
//   backend<Exec>::check_pointer(exec, p, name)       the pointer lives where the executor can use it
//   backend<Exec>::synchronize(exec)
//
// The host backend is always available; the device backend needs this translation unit compiled by nvcc.

#include "primary.hpp"
#include "queue.hpp"
#include "host/host.hpp"
#if defined(__CUDACC__)
#include "device/device.cuh"
#endif
