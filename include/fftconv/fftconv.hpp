#pragma once
// fftconv: N-dimensional convolution (N = 1, 2, 3), forward and backward, with the algorithm as a type.
//
//   fftconv::conv<2, float, fftconv::fft> layer({.in_channels = 3, .out_channels = 16, .kernel = {5, 5}});
//   layer.forward(fftconv::host{}, x, w, bias, y);          // or fftconv::device{stream} from a .cu file

// Vocabulary: shapes, views, executors, errors.
#include "config.hpp"    // FFTCONV_HD, version
#include "error.hpp"     // invalid_argument, library_error, out_of_memory
#include "executor.hpp"  // host, device
#include "geometry.hpp"  // geometry<N>, output_extent, same_padding
#include "view.hpp"      // view<T, R>
#include "element.hpp"   // bfloat16, half: 16-bit storage computed in float

// The layer object and the policies.
#include "conv.hpp"          // conv<N, T, Policy, W>
#include "policy.hpp"        // naive, im2col, fft, vendor, automatic, the policy concept
#include "policy/naive.hpp"  // direct windowed convolution
#include "policy/im2col.hpp"  // gather to columns + GEMM
#include "policy/fft.hpp"  // Fourier domain, transforms reused across a training step
#include "policy/vendor.hpp"  // oneDNN on the host, cuDNN on the device
#include "policy/automatic.hpp"  // the fastest candidate per shape, measured or modelled; choice cache

// The layers around a convolution, on either executor: buffers, element loops, sums, GEMM (stable API).
#include "ops.hpp"  // ops::buffer, allocate, for_each_index, segmented_sum, fill, copy, gemm, synchronize

// One-off calls through a per-thread cache of conv objects.
#include "functional.hpp"  // forward<P>(exec, geometry, ...), backward_data<P>, backward_filter<P>
