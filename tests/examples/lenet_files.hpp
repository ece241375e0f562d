#pragma once
// Writes dataset files for the loader tests: IDX (gzip or plain) and CIFAR-10 records, whole or broken, in a
// temporary directory that is removed afterwards. Written from the formats' descriptions, not from the loader.

#include <doctest/doctest.h>
#include <unistd.h>  // getpid
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace lenet_test {

using bytes = std::vector<unsigned char>;

class temporary_directory {
 public:
  temporary_directory() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("fftconv_lenet_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  temporary_directory(const temporary_directory&) = delete;
  temporary_directory& operator=(const temporary_directory&) = delete;
  ~temporary_directory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void put_u32(bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(value >> shift));
}

// A recognisable pixel: differs across images, rows and columns.
inline unsigned char pixel(std::int64_t image, std::int64_t row, std::int64_t col) {
  return static_cast<unsigned char>((image * 37 + row * 11 + col * 3 + 1) % 256);
}

inline bytes idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, std::uint32_t magic = 0x803) {
  bytes out;
  put_u32(out, magic);
  put_u32(out, count);
  put_u32(out, rows);
  put_u32(out, cols);
  for (std::uint32_t n = 0; n < count; ++n)
    for (std::uint32_t r = 0; r < rows; ++r)
      for (std::uint32_t c = 0; c < cols; ++c) out.push_back(pixel(n, r, c));
  return out;
}

inline unsigned char label_of(std::int64_t image) { return static_cast<unsigned char>((image * 7 + 3) % 10); }

inline bytes idx_labels(std::uint32_t count, std::uint32_t magic = 0x801) {
  bytes out;
  put_u32(out, magic);
  put_u32(out, count);
  for (std::uint32_t n = 0; n < count; ++n) out.push_back(label_of(n));
  return out;
}

inline void write_plain(const std::filesystem::path& file, const bytes& contents) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(contents.data()), static_cast<std::streamsize>(contents.size()));
  REQUIRE(out.good());
}

inline void write_gzip(const std::filesystem::path& file, const bytes& contents) {
  gzFile out = gzopen(file.c_str(), "wb");
  REQUIRE(out != nullptr);
  if (!contents.empty()) REQUIRE(gzwrite(out, contents.data(), static_cast<unsigned>(contents.size())) > 0);
  REQUIRE(gzclose(out) == Z_OK);
}

inline bytes read_plain(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A Fashion-MNIST directory with `train` and `test` images of rows x cols, gzip-compressed.
inline void write_fashion_mnist(const std::filesystem::path& dir, std::uint32_t train, std::uint32_t test,
                                std::uint32_t rows = 28, std::uint32_t cols = 28) {
  write_gzip(dir / "train-images-idx3-ubyte.gz", idx_images(train, rows, cols));
  write_gzip(dir / "train-labels-idx1-ubyte.gz", idx_labels(train));
  write_gzip(dir / "t10k-images-idx3-ubyte.gz", idx_images(test, rows, cols));
  write_gzip(dir / "t10k-labels-idx1-ubyte.gz", idx_labels(test));
}

// CIFAR-10 binary records: <label><1024 red><1024 green><1024 blue>; `first` numbers the images globally.
inline bytes cifar_records(std::int64_t first, std::int64_t count) {
  bytes out;
  for (std::int64_t n = first; n < first + count; ++n) {
    out.push_back(label_of(n));
    for (int channel = 0; channel < 3; ++channel)
      for (int r = 0; r < 32; ++r)
        for (int c = 0; c < 32; ++c) out.push_back(pixel(n, r + 32 * channel, c));
  }
  return out;
}

// data_batch_1..5.bin holding 2, 1, 3, 1, 2 records and test_batch.bin holding 2.
inline void write_cifar10(const std::filesystem::path& dir) {
  const int sizes[5] = {2, 1, 3, 1, 2};
  std::int64_t first = 0;
  for (int part = 0; part < 5; ++part) {
    write_plain(dir / ("data_batch_" + std::to_string(part + 1) + ".bin"), cifar_records(first, sizes[part]));
    first += sizes[part];
  }
  write_plain(dir / "test_batch.bin", cifar_records(100, 2));
}

}  // namespace lenet_test
