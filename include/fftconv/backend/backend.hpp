#pragma once
// What a policy may ask of an executor, the same for both:
//
//   backend<Exec>::buffer<T>                          RAII memory in the executor's space
//   backend<Exec>::allocate<T>(exec, count)           from exec.resource when set (stream-ordered on the GPU)
//   backend<Exec>::for_each_index(exec, n, f)         f(i) for every i < n: OpenMP loop / grid-stride kernel
//   backend<Exec>::segmented_sum(exec, s, len, f, out) out[j] = sum_i f(j, i) in a fixed order (deterministic)
//   backend<Exec>::fill / copy(exec, ...)
//   backend<Exec>::gemm(exec, gemm_desc, alpha, A, B, beta, C)   CBLAS / cuBLAS
//   backend<Exec>::check_pointer(exec, p, name)       the pointer lives where the executor can use it
//   backend<Exec>::synchronize(exec)                  refused while exec's stream is being captured
//   backend<Exec>::is_capturing(exec)                 exec's stream is being captured into a CUDA graph (host: never)
//   backend<Exec>::refuse_under_capture(exec, action) throws invalid_argument naming action while it is
//
// Every byte a call allocates goes through allocate (and so through the caller's memory_resource, memory.hpp);
// under CUDA graph capture a call may allocate in stream order, launch and run cuFFT / cuBLAS, but not plan,
// create handles or synchronise: the backend refuses those itself (device/capture.hpp), and a policy calls
// refuse_under_capture before anything else of that kind it does.
//
// The host backend is always available; the device backend needs this translation unit compiled by nvcc.
//
// Folders: common/ what both backends share (the backend<Exec> primary, GEMM and FFT descriptors, the plan cache,
// allocation); host/ OpenMP loops, FFTW, CBLAS; device/ launches, cuFFT, cuBLAS and the CUDA runtime's streams
// and capture rules. A backend knows no convolution: what a policy runs on it lives with the policy
// (tools/check-layering holds this).

#include "common/primary.hpp"
#include "device/queue.hpp"
#include "host/host.hpp"
#if defined(__CUDACC__)
#include "device/device.cuh"
#endif
