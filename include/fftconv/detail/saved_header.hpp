#pragma once
// The header at the start of a saved state (call.hpp): who wrote it, for which shape. It holds no pointers,
// so a state may be moved, copied or checkpointed; backward compares it field by field with its own and names
// both sides of the first difference.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>

#include "../call.hpp"
#include "../element.hpp"
#include "../error.hpp"
#include "../geometry.hpp"
#include "../policy.hpp"

namespace fftconv::detail {

// The payload (spectra) starts here: a multiple of every alignment an FFT library asks of its arrays.
inline constexpr std::size_t saved_header_bytes = 512;
// The saved state's data must be aligned this much (FFTW's SIMD classes on the host, cuFFT's on the GPU).
inline constexpr std::size_t saved_alignment_host = 64;
inline constexpr std::size_t saved_alignment_device = 256;

struct saved_header {
  std::uint64_t magic;  // "fftconv1" as bytes
  std::uint32_t version;
  std::uint32_t rank;
  std::uint16_t element;         // element_code of x's type
  std::uint16_t weight_element;  // and of w's
  std::uint32_t executor;  // 0 host, 1 device
  std::uint32_t algorithm;
  std::uint32_t kept;  // keep
  std::int64_t batch, in_channels, out_channels, groups;
  std::int64_t input[3], kernel[3], padding[3], padding_high[3], stride[3], dilation[3];
  std::int64_t layout[8];  // the policy's own layout of the payload (the FFT policy's tiling)
  std::uint64_t payload_bytes;
};
static_assert(sizeof(saved_header) <= saved_header_bytes);

inline constexpr std::uint64_t saved_magic = 0x31766e6f63746666ull;  // "fftconv1", little-endian
inline constexpr std::uint32_t saved_version = 2;

template <int N>
saved_header make_saved_header(const problem<N>& p, std::uint16_t element, std::uint16_t weight_element,
                               bool on_device, algorithm a, keep kept) {
  saved_header h{};
  h.magic = saved_magic;
  h.version = saved_version;
  h.rank = N;
  h.element = element;
  h.weight_element = weight_element;
  h.executor = on_device ? 1 : 0;
  h.algorithm = static_cast<std::uint32_t>(a);
  h.kept = static_cast<std::uint32_t>(kept);
  h.batch = p.batch, h.in_channels = p.in_channels, h.out_channels = p.out_channels, h.groups = p.groups;
  for (int d = 0; d < N; ++d) {
    h.input[d] = p.input[d], h.kernel[d] = p.kernel[d], h.padding[d] = p.padding[d];
    h.padding_high[d] = p.padding_high[d], h.stride[d] = p.stride[d], h.dilation[d] = p.dilation[d];
  }
  return h;
}

inline std::string describe(const saved_header& h) {
  std::ostringstream out;
  if (h.magic != saved_magic || h.version != saved_version) {
    out << "no fftconv saved state (header magic/version " << std::hex << h.magic << '/' << std::dec << h.version << ")";
    return out.str();
  }
  out << to_string(static_cast<algorithm>(h.algorithm)) << ' ' << h.rank << "D " << element_name(h.element);
  if (h.weight_element != h.element) out << " with " << element_name(h.weight_element) << " weights";
  out << " on "
      << (h.executor == 1 ? "device" : "host") << ", keep " << (h.kept == 1 ? "spectra" : "none") << ", x [" << h.batch
      << ", " << h.in_channels;
  for (std::uint32_t d = 0; d < h.rank && d < 3; ++d) out << ", " << h.input[d];
  out << "], out_channels " << h.out_channels << ", groups " << h.groups << ", kernel";
  for (std::uint32_t d = 0; d < h.rank && d < 3; ++d) out << ' ' << h.kernel[d];
  out << ", padding";
  for (std::uint32_t d = 0; d < h.rank && d < 3; ++d) out << ' ' << h.padding[d] << '/' << h.padding_high[d];
  out << ", stride";
  for (std::uint32_t d = 0; d < h.rank && d < 3; ++d) out << ' ' << h.stride[d];
  out << ", dilation";
  for (std::uint32_t d = 0; d < h.rank && d < 3; ++d) out << ' ' << h.dilation[d];
  out << ", layout";
  for (std::int64_t v : h.layout) out << ' ' << v;
  out << ", " << h.payload_bytes << " payload bytes";
  return out.str();
}

// Refuses `found` unless it equals `expected` in every field but the algorithm when `any_algorithm` (automatic
// reads the algorithm from the state).
inline void check_saved_header(const saved_header& found, const saved_header& expected, bool any_algorithm) {
  saved_header comparable = found;
  if (any_algorithm) comparable.algorithm = expected.algorithm;
  if (std::memcmp(&comparable, &expected, sizeof(saved_header)) != 0)
    fail("backward: the saved state does not belong to this layer and call: it holds ", describe(found),
         "; this call expects ", describe(expected));
}

}  // namespace fftconv::detail
