// fftconv::ops on the host, as a user writing layers sees it: each call's result against plain loops, memory
// from the executor's resource, and every argument check (a bad call throws invalid_argument naming the call,
// the argument and its value, and writes nothing).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include <fftconv/ops.hpp>

#include "backend/counting_resource.hpp"
#include "support/expect_error.hpp"

namespace ops = fftconv::ops;
using fftconv::host;
using testing_support::check_throws_naming;

namespace {

struct aligned_upstream {
  static void* allocate(std::size_t bytes, std::size_t alignment, CUstream_st*) {
    return std::aligned_alloc(alignment, (bytes + alignment - 1) / alignment * alignment);
  }
  static void deallocate(void* pointer, std::size_t, std::size_t, CUstream_st*) noexcept { std::free(pointer); }
};

// Counts how often each index is visited; each index writes only its own slot.
struct count_visits {
  int* visits;
  void operator()(std::int64_t i) const { ++visits[i]; }
};

// term(j, i) = j * 1000 + i, so a sum that mixes up segments or drops terms shows.
struct indexed_term {
  double operator()(std::int64_t j, std::int64_t i) const { return double(j * 1000 + i); }
};

// C = alpha op(A) op(B) + beta C, row-major, written out with indices (real scalars: conjugation is a no-op).
void plain_gemm(const ops::gemm_desc& d, double alpha, const std::vector<double>& a, const std::vector<double>& b,
                double beta, std::vector<double>& c) {
  for (std::int64_t e = 0; e < d.batch; ++e)
    for (std::int64_t i = 0; i < d.m; ++i)
      for (std::int64_t j = 0; j < d.n; ++j) {
        double sum = 0;
        for (std::int64_t l = 0; l < d.k; ++l) {
          const double av = d.op_a == ops::gemm_op::none ? a[e * d.stride_a + i * d.lda + l]
                                                         : a[e * d.stride_a + l * d.lda + i];
          const double bv = d.op_b == ops::gemm_op::none ? b[e * d.stride_b + l * d.ldb + j]
                                                         : b[e * d.stride_b + j * d.ldb + l];
          sum += av * bv;
        }
        double& out = c[e * d.stride_c + i * d.ldc + j];
        out = alpha * sum + beta * out;
      }
}

std::vector<double> random_values(std::size_t count, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> values(count);
  for (double& v : values) v = u(rng);
  return values;
}

}  // namespace

static_assert(!ops::on_device<host> && ops::on_device<fftconv::device>);

TEST_CASE("ops::allocate: count elements, empty for zero, from the executor's resource when it has one") {
  const ops::buffer<host, float> values = ops::allocate<float>(host{}, 10);
  CHECK(values.data() != nullptr);
  CHECK(values.size() == 10);
  CHECK(values.bytes() == 10 * sizeof(float));
  CHECK(!values.empty());
  CHECK(ops::allocate<double>(host{}, 0).empty());
  CHECK(ops::buffer<host, double>().data() == nullptr);

  testing_support::counting_resource<aligned_upstream> resource;
  {
    const auto held = ops::allocate<double>(host{&resource}, 3);
    CHECK(resource.allocations() == 1);
    CHECK(resource.live_bytes() == 3 * sizeof(double));
    ops::buffer<host, double> moved = ops::allocate<double>(host{&resource}, 5);
    moved = ops::allocate<double>(host{&resource}, 7);  // the 5 go back on assignment
    CHECK(resource.live_bytes() == 10 * sizeof(double));
  }
  CHECK(resource.live_bytes() == 0);
  CHECK(resource.problems().empty());

  check_throws_naming<fftconv::invalid_argument>([] { (void)ops::allocate<float>(host{}, -1); },
                                                 {"ops::allocate", "count = -1", "negative"});
}

TEST_CASE("ops::for_each_index: every index once, on one thread or many") {
  for (const std::int64_t work : {std::int64_t{1}, std::int64_t{1} << 20}) {
    INFO("work_per_index ", work);
    std::vector<int> visits(1000, 0);
    ops::for_each_index(host{}, 1000, count_visits{visits.data()}, work);
    CHECK(visits == std::vector<int>(1000, 1));
  }
  ops::for_each_index(host{}, 0, [](std::int64_t) { FAIL("called for an empty range"); });

  check_throws_naming<fftconv::invalid_argument>([] { ops::for_each_index(host{}, -2, [](std::int64_t) {}); },
                                                 {"ops::for_each_index", "count = -2"});
  check_throws_naming<fftconv::invalid_argument>([] { ops::for_each_index(host{}, 4, [](std::int64_t) {}, 0); },
                                                 {"ops::for_each_index", "work_per_index = 0"});
}

TEST_CASE("ops::segmented_sum: out[j] is the sum of term(j, i) over i, the same bits on every run") {
  const std::int64_t segments = 7, length = 301;
  std::vector<double> out(segments, -1);
  ops::segmented_sum(host{}, segments, length, indexed_term{}, out.data());
  for (std::int64_t j = 0; j < segments; ++j) CHECK(out[j] == double(j * 1000 * length + length * (length - 1) / 2));

  // float terms that do not sum exactly: the order is fixed, so a second run gives the same bits.
  const auto noisy = [](std::int64_t j, std::int64_t i) { return 1.0f / float(1 + i + j); };
  std::vector<float> first(segments), second(segments);
  ops::segmented_sum(host{}, segments, length, noisy, first.data());
  ops::segmented_sum(host{}, segments, length, noisy, second.data());
  CHECK(first == second);

  std::vector<double> untouched(2, -1);
  ops::segmented_sum(host{}, 2, 0, indexed_term{}, untouched.data());  // empty sums are zero
  CHECK(untouched == std::vector<double>{0, 0});
  ops::segmented_sum(host{}, 0, length, indexed_term{}, static_cast<double*>(nullptr));

  check_throws_naming<fftconv::invalid_argument>(
      [&] { ops::segmented_sum(host{}, -1, length, indexed_term{}, out.data()); },
      {"ops::segmented_sum", "segments = -1"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { ops::segmented_sum(host{}, segments, -3, indexed_term{}, out.data()); },
      {"ops::segmented_sum", "length = -3"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { ops::segmented_sum(host{}, segments, length, indexed_term{}, static_cast<double*>(nullptr)); },
      {"ops::segmented_sum", "out is null", "segments = 7"});
}

TEST_CASE("ops::fill and ops::copy: exactly count elements; null, negative and overlapping ranges refused") {
  std::vector<float> data(6, -1.0f);
  ops::fill(host{}, data.data() + 1, 4, 2.5f);
  CHECK(data == std::vector<float>{-1, 2.5f, 2.5f, 2.5f, 2.5f, -1});
  ops::fill(host{}, data.data(), 6, 0);  // the value converts to the element type
  CHECK(data == std::vector<float>(6, 0.0f));

  const std::vector<float> source{1, 2, 3, 4, 5};
  std::vector<float> destination(6, -1.0f);
  ops::copy(host{}, destination.data(), source.data(), 5);
  CHECK(destination == std::vector<float>{1, 2, 3, 4, 5, -1});
  ops::copy(host{}, static_cast<float*>(nullptr), static_cast<const float*>(nullptr), 0);
  ops::copy(host{}, destination.data(), destination.data() + 3, 3);  // adjacent, not overlapping
  CHECK(destination == std::vector<float>{4, 5, -1, 4, 5, -1});

  check_throws_naming<fftconv::invalid_argument>([&] { ops::fill(host{}, data.data(), -1, 0.0f); },
                                                 {"ops::fill", "count = -1"});
  check_throws_naming<fftconv::invalid_argument>([] { ops::fill(host{}, static_cast<float*>(nullptr), 3, 0.0f); },
                                                 {"ops::fill", "data is null", "count = 3"});
  check_throws_naming<fftconv::invalid_argument>([&] { ops::copy(host{}, destination.data(), source.data(), -4); },
                                                 {"ops::copy", "count = -4"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { ops::copy(host{}, destination.data(), static_cast<const float*>(nullptr), 2); },
      {"ops::copy", "source is null"});
  check_throws_naming<fftconv::invalid_argument>(
      [&] { ops::copy(host{}, static_cast<float*>(nullptr), source.data(), 2); }, {"ops::copy", "destination is null"});
  const std::vector<float> before = destination;
  check_throws_naming<fftconv::invalid_argument>(
      [&] { ops::copy(host{}, destination.data() + 1, destination.data(), 3); }, {"ops::copy", "overlap", "count = 3"});
  CHECK(destination == before);
}

TEST_CASE("ops::gemm: row-major C = alpha op(A) op(B) + beta C over a strided batch, padded leading dimensions") {
  std::mt19937_64 rng(5);
  for (const ops::gemm_op op_a : {ops::gemm_op::none, ops::gemm_op::transpose})
    for (const ops::gemm_op op_b : {ops::gemm_op::none, ops::gemm_op::transpose}) {
      ops::gemm_desc d{.op_a = op_a, .op_b = op_b, .m = 4, .n = 3, .k = 5};
      d.lda = (op_a == ops::gemm_op::none ? d.k : d.m) + 1;
      d.ldb = (op_b == ops::gemm_op::none ? d.n : d.k) + 2;
      d.ldc = d.n + 1;
      d.stride_a = 6 * d.lda, d.stride_b = 6 * d.ldb, d.stride_c = d.m * d.ldc, d.batch = 2;
      INFO("op_a ", int(op_a), ", op_b ", int(op_b));
      const auto a = random_values(std::size_t(d.batch * d.stride_a), rng);
      const auto b = random_values(std::size_t(d.batch * d.stride_b), rng);
      auto c = random_values(std::size_t(d.batch * d.stride_c), rng), expected = c;
      plain_gemm(d, 0.5, a, b, -2.0, expected);
      ops::gemm(host{}, d, 0.5, a.data(), b.data(), -2.0, c.data());
      for (std::size_t i = 0; i < c.size(); ++i) CHECK(c[i] == doctest::Approx(expected[i]).epsilon(1e-12));
    }

  // float, as a layer uses it: y[B x out] = x[B x in] * W^T, W [out x in].
  const std::vector<float> x{1, 2, 3, 4, 5, 6}, w{1, 0, 1, 0, 1, 0};  // x [2 x 3], W [2 x 3]
  std::vector<float> y(4, 100.0f);
  ops::gemm(host{}, {.op_b = ops::gemm_op::transpose, .m = 2, .n = 2, .k = 3, .lda = 3, .ldb = 3, .ldc = 2}, 1.0f,
            x.data(), w.data(), 0.0f, y.data());
  CHECK(y == std::vector<float>{4, 2, 10, 5});
}

TEST_CASE("ops::gemm: inconsistent dimensions, leading dimensions, strides and null operands are refused") {
  const std::vector<double> a(64, 1.0), b(64, 1.0);
  std::vector<double> c(64, 7.0);
  const ops::gemm_desc good{.m = 2, .n = 3, .k = 4, .lda = 4, .ldb = 3, .ldc = 3};
  const auto refuses = [&](ops::gemm_desc d, std::initializer_list<const char*> fragments) {
    check_throws_naming<fftconv::invalid_argument>([&] { ops::gemm(host{}, d, 1.0, a.data(), b.data(), 0.0, c.data()); },
                                                   fragments);
  };
  ops::gemm_desc d = good;
  d.m = -1;
  refuses(d, {"ops::gemm", "m = -1"});
  d = good, d.k = -2;
  refuses(d, {"ops::gemm", "k = -2"});
  d = good, d.batch = -1;
  refuses(d, {"ops::gemm", "batch = -1"});
  d = good, d.lda = 3;  // A is m x k = 2 x 4
  refuses(d, {"ops::gemm", "lda = 3", "lda >= 4"});
  d = good, d.op_a = ops::gemm_op::transpose, d.lda = 1;  // A stored k x m = 4 x 2
  refuses(d, {"ops::gemm", "lda = 1", "lda >= 2"});
  d = good, d.ldb = 2;  // B is k x n = 4 x 3
  refuses(d, {"ops::gemm", "ldb = 2", "ldb >= 3"});
  d = good, d.op_b = ops::gemm_op::transpose, d.ldb = 3;  // B stored n x k = 3 x 4
  refuses(d, {"ops::gemm", "ldb = 3", "ldb >= 4"});
  d = good, d.ldc = 2;
  refuses(d, {"ops::gemm", "ldc = 2", "ldc >= 3"});
  d = good, d.ldc = 0, d.n = 0;  // even an empty row needs a leading dimension of 1
  refuses(d, {"ops::gemm", "ldc = 0", "ldc >= 1"});
  d = good, d.batch = 2, d.stride_c = 5;  // each C spans (2 - 1) * 3 + 3 = 6
  refuses(d, {"ops::gemm", "stride_c = 5", "overlap", "stride_c >= 6"});
  CHECK(c == std::vector<double>(64, 7.0));  // nothing was written

  for (const char* name : {"a", "b", "c"}) {
    INFO("null ", name);
    const std::string operand = name;
    check_throws_naming<fftconv::invalid_argument>(
        [&] {
          ops::gemm(host{}, good, 1.0, operand == "a" ? nullptr : a.data(), operand == "b" ? nullptr : b.data(), 0.0,
                    operand == "c" ? nullptr : c.data());
        },
        {"ops::gemm", (operand + " is null").c_str()});
  }
  // Nothing to write: no operand is read, null is fine.
  ops::gemm(host{}, {.m = 0, .n = 3, .k = 4, .lda = 4, .ldb = 3, .ldc = 3}, 1.0, static_cast<const double*>(nullptr),
            static_cast<const double*>(nullptr), 0.0, static_cast<double*>(nullptr));
  // A batch whose entries share A and B (stride 0) is fine: only the outputs must be apart.
  d = good, d.batch = 2, d.stride_c = 6;
  ops::gemm(host{}, d, 1.0, a.data(), b.data(), 0.0, c.data());
  CHECK(c[0] == 4.0);
  CHECK(c[11] == 4.0);
}

TEST_CASE("ops::synchronize on the host returns at once") { ops::synchronize(host{}); }
