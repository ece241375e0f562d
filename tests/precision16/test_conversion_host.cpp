// The library's 16-bit conversions (detail::load_as, detail::store_as) bit for bit against the CUDA Toolkit's
// host conversions and against an IEEE 754 rounding written here from the formats' definitions: every bf16 and
// fp16 pattern widened to float and back, and float -> 16-bit rounding at every value, every halfway point and
// its neighbours, in the subnormals, past the largest finite value, and for NaN.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <fftconv/fftconv.hpp>

namespace {

using fftconv::bf16;
using fftconv::fp16;

template <class T>
std::uint16_t bits_of(T value) {
  return std::bit_cast<std::uint16_t>(value);
}
template <class T>
T from_bits(std::uint16_t b) {
  return std::bit_cast<T>(b);
}
inline std::uint32_t bits_of_float(float f) { return std::bit_cast<std::uint32_t>(f); }

// The binary16-like format of T: precision (significant bits, the implicit one included) and largest exponent;
// the smallest normal exponent is 1 - emax, the exponent field is biased by emax.
template <class T>
struct format {
  static constexpr int precision = std::is_same_v<T, bf16> ? 8 : 11;
  static constexpr int emax = std::is_same_v<T, bf16> ? 127 : 15;
  static constexpr int emin = 1 - emax;
  static constexpr int mantissa_bits = precision - 1;
  static constexpr std::uint16_t infinity = std::uint16_t((2 * emax + 1) << mantissa_bits);
  static constexpr std::uint16_t sign = 0x8000;
};

// A pattern's value, decoded from its fields.
template <class T>
double decoded(std::uint16_t b) {
  using F = format<T>;
  const int exponent_field = (b & 0x7fff) >> F::mantissa_bits;
  const int mantissa = b & ((1 << F::mantissa_bits) - 1);
  double magnitude;
  if (exponent_field == 2 * F::emax + 1)
    magnitude = mantissa ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (exponent_field == 0)
    magnitude = std::ldexp(mantissa, F::emin - F::mantissa_bits);
  else
    magnitude = std::ldexp(mantissa + (1 << F::mantissa_bits), exponent_field - F::emax - F::mantissa_bits);
  return (b & F::sign) ? -magnitude : magnitude;
}

// f rounded to T, to nearest, ties to even; past the largest finite value (ties included, since its last bit is
// odd) to Inf. NaN: some NaN pattern (nullopt-free: the caller checks NaN apart).
template <class T>
std::uint16_t rounded_bits(float f) {
  using F = format<T>;
  const std::uint16_t sign = std::signbit(f) ? F::sign : 0;
  const double a = std::abs(static_cast<double>(f));
  if (std::isinf(a)) return sign | F::infinity;
  int e = F::emin;
  if (a >= std::ldexp(1.0, F::emin)) e = std::ilogb(a);
  const double quantum = std::ldexp(1.0, e - F::mantissa_bits);
  const double steps = std::nearbyint(a / quantum);  // exact quotient; the default rounding mode: ties to even
  const double value = steps * quantum;
  const double largest = std::ldexp(2.0 - std::ldexp(1.0, -F::mantissa_bits), F::emax);
  if (value > largest) return sign | F::infinity;
  if (value < std::ldexp(1.0, F::emin))  // subnormal or zero: the mantissa counts quanta of the smallest exponent
    return sign | static_cast<std::uint16_t>(value / std::ldexp(1.0, F::emin - F::mantissa_bits));
  const int ve = std::ilogb(value);
  const auto mantissa =
      static_cast<std::uint16_t>(value / std::ldexp(1.0, ve - F::mantissa_bits)) - (1 << F::mantissa_bits);
  return sign | static_cast<std::uint16_t>((ve + F::emax) << F::mantissa_bits) | static_cast<std::uint16_t>(mantissa);
}

template <class T>
float cuda_to_float(T value) {
  if constexpr (std::is_same_v<T, bf16>)
    return __bfloat162float(value);
  else
    return __half2float(value);
}
template <class T>
T cuda_from_float(float f) {
  if constexpr (std::is_same_v<T, bf16>)
    return __float2bfloat16_rn(f);
  else
    return __float2half_rn(f);
}

template <class T>
std::string name() {
  return std::is_same_v<T, bf16> ? "bf16" : "fp16";
}

std::string hex(std::uint32_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

// store_as<T>(f) against the rounding above and CUDA's __float2*_rn; counts disagreements, reports the first.
template <class T>
struct rounding_check {
  std::size_t checked = 0, wrong = 0;
  std::string first;
  void operator()(float f) {
    ++checked;
    const std::uint16_t got = bits_of(fftconv::detail::store_as<T>(f));
    const std::uint16_t cuda = bits_of(cuda_from_float<T>(f));
    bool ok;
    std::uint16_t expected = cuda;
    if (std::isnan(f)) {
      ok = std::isnan(decoded<T>(got)) && std::isnan(decoded<T>(cuda));
    } else {
      expected = rounded_bits<T>(f);
      ok = got == expected && cuda == expected;
    }
    if (!ok && wrong++ == 0)
      first = name<T>() + " of float " + hex(bits_of_float(f)) + " (" + std::to_string(f) + "): store_as " +
              hex(got) + ", CUDA " + hex(cuda) + ", expected " + hex(expected);
  }
  void report() const {
    INFO(checked, " floats checked");
    CHECK_MESSAGE(wrong == 0, wrong, " wrong; first: ", first);
  }
};

template <class T>
void check_widening_every_pattern() {
  INFO(name<T>());
  std::size_t wrong = 0, nan_patterns = 0;
  for (std::uint32_t b = 0; b <= 0xffff; ++b) {
    const T value = from_bits<T>(static_cast<std::uint16_t>(b));
    const float f = fftconv::detail::load_as<float>(value);
    const double d = fftconv::detail::load_as<double>(value);
    const double expected = decoded<T>(static_cast<std::uint16_t>(b));
    const float cuda = cuda_to_float(value);
    bool ok;
    if (std::isnan(expected)) {
      ++nan_patterns;
      // NaN stays NaN, widened and narrowed again.
      ok = std::isnan(f) && std::isnan(d) && std::isnan(cuda) &&
           std::isnan(decoded<T>(bits_of(fftconv::detail::store_as<T>(f))));
    } else {
      // Exact, with the sign of zero, and back to the same pattern.
      ok = bits_of_float(f) == bits_of_float(cuda) && static_cast<double>(f) == expected && d == expected &&
           std::signbit(f) == std::signbit(expected) && std::signbit(d) == std::signbit(expected) &&
           bits_of(fftconv::detail::store_as<T>(f)) == b;
    }
    if (!ok && wrong++ == 0)
      FAIL_CHECK(name<T>(), " pattern ", hex(b), ": load_as<float> ", f, ", load_as<double> ", d, ", CUDA ", cuda,
                 ", decoded ", expected);
  }
  CHECK(wrong == 0);
  CHECK(nan_patterns == 2 * ((1u << format<T>::mantissa_bits) - 1));
}

// Every finite value, the halfway points between neighbours (both signs), and the floats next to each: where
// round to nearest even is decided.
template <class T>
void check_rounding_near_every_value() {
  rounding_check<T> check;
  for (std::uint32_t b = 0; b < 0x8000; ++b) {
    const double v = decoded<T>(static_cast<std::uint16_t>(b));
    if (!std::isfinite(v)) continue;
    const double next = b + 1 < format<T>::infinity
                            ? decoded<T>(static_cast<std::uint16_t>(b + 1))
                            : v + std::ldexp(1.0, format<T>::emax - format<T>::mantissa_bits);  // Inf's stand-in
    const auto halfway = static_cast<float>((v + next) / 2);  // exact: a 16-bit format's halfway point fits a float
    REQUIRE(static_cast<double>(halfway) == (v + next) / 2);
    for (const float f : {static_cast<float>(v), halfway, std::nextafter(halfway, 0.0f),
                          std::nextafter(halfway, std::numeric_limits<float>::infinity())}) {
      check(f);
      check(-f);
    }
  }
  check.report();
}

template <class T>
void check_rounding_of_random_floats() {
  rounding_check<T> check;
  std::mt19937 rng(16);
  for (int i = 0; i < (1 << 20); ++i) {
    check(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
  }
  // Float's own subnormals, smallest normal, largest finite, infinities and NaNs (quiet, signalling, negative).
  for (const std::uint32_t b : {0x00000001u, 0x00000002u, 0x007fffffu, 0x00800000u, 0x7f7fffffu, 0x7f800000u,
                                0x7fc00000u, 0x7f800001u, 0xffc00001u, 0x80000001u, 0xff7fffffu, 0xff800000u}) {
    check(std::bit_cast<float>(b));
  }
  check.report();
}

}  // namespace

TEST_CASE_TEMPLATE("every 16-bit pattern widens exactly (load_as, as CUDA) and narrows back to itself", T, bf16, fp16) {
  check_widening_every_pattern<T>();
}

TEST_CASE_TEMPLATE("float to 16-bit rounds to nearest even at every value, halfway point and its neighbours", T, bf16,
                   fp16) {
  check_rounding_near_every_value<T>();
}

TEST_CASE_TEMPLATE("float to 16-bit rounding of 2^20 random floats, float subnormals, Inf and NaN", T, bf16, fp16) {
  check_rounding_of_random_floats<T>();
}

TEST_CASE("float to 16-bit: named cases at ties, subnormals and fp16's overflow") {
  using fftconv::detail::store_as;
  // fp16: 65504 is the largest finite; the halfway point to the next binade, 65520, ties to even (up: Inf).
  CHECK(bits_of(store_as<fp16>(65504.0f)) == 0x7bff);
  CHECK(bits_of(store_as<fp16>(std::nextafter(65520.0f, 0.0f))) == 0x7bff);  // 65519.996
  CHECK(bits_of(store_as<fp16>(65520.0f)) == 0x7c00);
  CHECK(bits_of(store_as<fp16>(-65520.0f)) == 0xfc00);
  CHECK(bits_of(store_as<fp16>(1.0e9f)) == 0x7c00);
  // Ties to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 (odd): down; 1 + 3 * 2^-11: up to 1 + 2^-9.
  CHECK(bits_of(store_as<fp16>(1.0f + 0x1p-11f)) == 0x3c00);
  CHECK(bits_of(store_as<fp16>(1.0f + 3 * 0x1p-11f)) == 0x3c02);
  CHECK(bits_of(store_as<fp16>(std::nextafter(1.0f + 0x1p-11f, 2.0f))) == 0x3c01);
  // fp16 subnormals: 2^-24 is the smallest; half of it ties to zero, a little more rounds up; 1.5 * 2^-24 to even.
  CHECK(bits_of(store_as<fp16>(0x1p-24f)) == 0x0001);
  CHECK(bits_of(store_as<fp16>(0x1p-25f)) == 0x0000);
  CHECK(bits_of(store_as<fp16>(std::nextafter(0x1p-25f, 1.0f))) == 0x0001);
  CHECK(bits_of(store_as<fp16>(0x1.8p-24f)) == 0x0002);
  CHECK(bits_of(store_as<fp16>(-0x1p-26f)) == 0x8000);  // -0, not +0
  CHECK(bits_of(store_as<fp16>(0x1p-14f)) == 0x0400);  // smallest normal
  // bf16: 1 + 2^-8 ties down to 1, 1 + 3 * 2^-8 up to 1 + 2^-6; float's largest rounds up to Inf; bf16's largest
  // finite (0x7f7f) stays.
  CHECK(bits_of(store_as<bf16>(1.0f + 0x1p-8f)) == 0x3f80);
  CHECK(bits_of(store_as<bf16>(1.0f + 3 * 0x1p-8f)) == 0x3f82);
  CHECK(bits_of(store_as<bf16>(std::numeric_limits<float>::max())) == 0x7f80);
  CHECK(bits_of(store_as<bf16>(0x1.fep127f)) == 0x7f7f);
  CHECK(bits_of(store_as<bf16>(1.0e9f)) == bits_of(cuda_from_float<bf16>(1.0e9f)));
  // bf16 keeps float's exponent range: float's subnormals round within bf16's.
  CHECK(bits_of(store_as<bf16>(0x1p-133f)) == 0x0001);
  CHECK(bits_of(store_as<bf16>(0x1p-149f)) == 0x0000);
  // NaN stays NaN; Inf stays Inf.
  CHECK(std::isnan(__half2float(store_as<fp16>(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isnan(__bfloat162float(store_as<bf16>(-std::numeric_limits<float>::quiet_NaN()))));
  CHECK(bits_of(store_as<fp16>(-std::numeric_limits<float>::infinity())) == 0xfc00);
  CHECK(bits_of(store_as<bf16>(std::numeric_limits<float>::infinity())) == 0x7f80);
}

// A double just above a 16-bit halfway point rounds up; through float it would land on the tie and round to even
// (down): store_as must round a double once, as CUDA's __double2bfloat16 / __double2half do.
TEST_CASE("double to 16-bit rounds once, not through float") {
  using fftconv::detail::store_as;
  const double above_bf16_tie = 1.0 + 0x1p-8 + 0x1p-40, above_fp16_tie = 1.0 + 0x1p-11 + 0x1p-40;
  CHECK(bits_of(store_as<bf16>(above_bf16_tie)) == 0x3f81);
  CHECK(bits_of(store_as<fp16>(above_fp16_tie)) == 0x3c01);
  CHECK(bits_of(store_as<bf16>(above_bf16_tie)) == bits_of(__double2bfloat16(above_bf16_tie)));
  CHECK(bits_of(store_as<fp16>(above_fp16_tie)) == bits_of(__double2half(above_fp16_tie)));
  CHECK(bits_of(store_as<fp16>(-above_fp16_tie)) == 0xbc01);
}
