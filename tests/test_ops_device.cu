// fftconv::ops on a GPU: the host test's results with device memory on a non-blocking stream, and the device
// executor's own refusal, host memory passed for its operands.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include <fftconv/ops.hpp>

#include "support/device_buffer.cuh"
#include "support/expect_error.hpp"

namespace ops = fftconv::ops;
using testing_support::check_throws_naming;
using testing_support::device_array;

namespace {

struct square_index {
  float* out;
  FFTCONV_HD void operator()(std::int64_t i) const { out[i] = float(i * i); }
};

struct indexed_term {
  FFTCONV_HD double operator()(std::int64_t j, std::int64_t i) const { return double(j * 1000 + i); }
};

}  // namespace

TEST_CASE("device ops: allocate, for_each_index, fill, copy, segmented_sum, gemm and synchronize on a stream") {
  const testing_support::test_stream stream;
  const fftconv::device exec = stream.executor();

  ops::buffer<fftconv::device, float> squares = ops::allocate<float>(exec, 100);
  CHECK(squares.size() == 100);
  ops::for_each_index(exec, 100, square_index{squares.data()});
  ops::buffer<fftconv::device, float> copied = ops::allocate<float>(exec, 100);
  ops::fill(exec, copied.data(), 100, -1.0f);
  ops::copy(exec, copied.data(), squares.data(), 99);
  std::vector<float> host(100);
  testing_support::expect_cuda(cudaMemcpyAsync(host.data(), copied.data(), 100 * sizeof(float),
                                               cudaMemcpyDeviceToHost, stream.get()),
                               "download");
  ops::synchronize(exec);
  for (int i = 0; i < 99; ++i) CHECK(host[i] == float(i * i));
  CHECK(host[99] == -1.0f);

  const std::int64_t segments = 5, length = 4001;
  const device_array<double> sums(stream.get(), std::vector<double>(segments, -1.0));
  ops::segmented_sum(exec, segments, length, indexed_term{}, sums.data());
  const std::vector<double> summed = sums.read();
  for (std::int64_t j = 0; j < segments; ++j)
    CHECK(summed[j] == double(j * 1000 * length + length * (length - 1) / 2));

  // y[B x out] = x[B x in] * W^T, W [out x in], as the host test.
  const device_array<float> x(stream.get(), {1, 2, 3, 4, 5, 6}), w(stream.get(), {1, 0, 1, 0, 1, 0});
  const device_array<float> y(stream.get(), std::vector<float>(4, 100.0f));
  ops::gemm(exec, {.op_b = ops::gemm_op::transpose, .m = 2, .n = 2, .k = 3, .lda = 3, .ldb = 3, .ldc = 2}, 1.0f,
            x.data(), w.data(), 0.0f, y.data());
  CHECK(y.read() == std::vector<float>{4, 2, 10, 5});
}

TEST_CASE("device ops: pageable host memory and bad counts are refused before anything is enqueued") {
  const testing_support::test_stream stream;
  const fftconv::device exec = stream.executor();
  std::vector<float> pageable(8, 0.0f);
  check_throws_naming<fftconv::invalid_argument>([&] { ops::fill(exec, pageable.data(), 8, 1.0f); },
                                                 {"data", "pageable host memory"});
  check_throws_naming<fftconv::invalid_argument>([&] { (void)ops::allocate<float>(exec, -5); },
                                                 {"ops::allocate", "count = -5"});
  check_throws_naming<fftconv::invalid_argument>([&] { ops::for_each_index(exec, -1, square_index{nullptr}); },
                                                 {"ops::for_each_index", "count = -1"});
  CHECK(pageable == std::vector<float>(8, 0.0f));
}
