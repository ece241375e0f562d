#pragma once
// The policies every API test runs over. FFTCONV_API_TEST_AUTOMATIC=0 leaves fftconv::automatic out (and its
// header unincluded), for a tree where policy/automatic.hpp is being rewritten.

#ifndef FFTCONV_API_TEST_AUTOMATIC
#define FFTCONV_API_TEST_AUTOMATIC 1
#endif

#if FFTCONV_API_TEST_AUTOMATIC
#include <fftconv/fftconv.hpp>
#define FFTCONV_API_POLICIES fftconv::naive, fftconv::im2col, fftconv::fft, fftconv::automatic
#else
#include <fftconv/conv.hpp>
#include <fftconv/functional.hpp>
#include <fftconv/policy/fft.hpp>
#include <fftconv/policy/im2col.hpp>
#include <fftconv/policy/naive.hpp>
#define FFTCONV_API_POLICIES fftconv::naive, fftconv::im2col, fftconv::fft
#endif
