#pragma once
// Training data for LeNet, in host memory as float [count, channels, 32, 32] plus int32 labels 0..9.
//
//   Fashion-MNIST: the gzip IDX files of Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist);
//                  28x28 images are padded to 32x32 (zeros around, centred) and scaled to [0, 1].
//   CIFAR-10:      the binary version (data_batch_1..5.bin, test_batch.bin; records of a label byte and
//                  3 x 32 x 32 bytes, channel-major).
//
// Files are read through zlib's gzread, which reads gzip and plain files alike. Every size, magic number and
// label is checked; a failure throws data_error naming the file and what is wrong with it.

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace lenet {

class data_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct dataset {
  std::int64_t count = 0;
  std::int64_t channels = 0;
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::vector<float> images;         // [count, channels, height, width]
  std::vector<std::int32_t> labels;  // [count], each in 0..9

  std::int64_t sample_size() const { return channels * height * width; }
};

struct dataset_split {
  std::string name;
  dataset train;
  dataset test;
};

inline constexpr const char* fashion_mnist_default_dir = "/usr/share/datasets/fashion-mnist";

namespace io {

inline constexpr std::int64_t padded_extent = 32;
inline constexpr std::int64_t classes = 10;

[[noreturn]] inline void fail(const std::filesystem::path& file, const std::string& what) {
  throw data_error(file.string() + ": " + what);
}

// The whole (decompressed) contents of a gzip or plain file.
inline std::vector<unsigned char> read_file(const std::filesystem::path& file) {
  struct gz_closer {
    void operator()(gzFile f) const noexcept { (void)gzclose(f); }
  };
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) fail(file, "no such file");
  const std::unique_ptr<gzFile_s, gz_closer> in(gzopen(file.c_str(), "rb"));
  if (!in) fail(file, "cannot open for reading");
  std::vector<unsigned char> contents;
  constexpr unsigned chunk = 1u << 20;
  for (;;) {
    const std::size_t size = contents.size();
    contents.resize(size + chunk);
    const int got = gzread(in.get(), contents.data() + size, chunk);
    int status = Z_OK;
    const char* message = gzerror(in.get(), &status);
    if (got < 0 || (status != Z_OK && status != Z_STREAM_END)) {
      // Z_BUF_ERROR after the last byte: the gzip stream stops before its end.
      if (status == Z_BUF_ERROR) fail(file, "truncated gzip stream (" + std::string(message) + ")");
      fail(file, "cannot decompress: " + std::string(message));
    }
    contents.resize(size + static_cast<std::size_t>(got));
    if (got == 0) break;
  }
  return contents;
}

inline std::uint32_t big_endian_u32(const std::vector<unsigned char>& bytes, std::size_t offset) {
  return (std::uint32_t(bytes[offset]) << 24) | (std::uint32_t(bytes[offset + 1]) << 16) |
         (std::uint32_t(bytes[offset + 2]) << 8) | std::uint32_t(bytes[offset + 3]);
}

// The file's size against what its header promises.
inline void check_size(const std::filesystem::path& file, std::size_t actual, std::uint64_t expected,
                       const std::string& promise) {
  if (actual < expected)
    fail(file, "truncated: the header promises " + promise + " (" + std::to_string(expected) + " bytes), the file holds " +
                   std::to_string(actual) + " bytes");
  if (actual > expected)
    fail(file, std::to_string(actual - expected) + " unexpected bytes after " + promise + " (" +
                   std::to_string(expected) + " bytes)");
}

inline void check_label(const std::filesystem::path& file, std::int64_t index, unsigned value) {
  if (value >= classes)
    fail(file, "label " + std::to_string(index) + " is " + std::to_string(value) + ", not a class in 0..9");
}

// IDX: a big-endian magic (0x0000 0x08 = unsigned byte, then the rank), the extents, then the bytes.
inline std::vector<unsigned char> read_idx(const std::filesystem::path& file, std::uint32_t rank,
                                           std::vector<std::int64_t>& extents) {
  std::vector<unsigned char> bytes = read_file(file);
  const std::size_t header = 4 + 4 * std::size_t(rank);
  const auto too_short = [&] {
    fail(file, "truncated: " + std::to_string(bytes.size()) + " bytes, shorter than the " + std::to_string(header) +
                   "-byte IDX header");
  };
  if (bytes.size() < 4) too_short();
  // The magic first: a file of the wrong kind (labels for images) is reported as such, whatever its size.
  const std::uint32_t magic = big_endian_u32(bytes, 0);
  const std::uint32_t expected_magic = 0x0800u | rank;
  if (magic != expected_magic) {
    char text[64];
    std::snprintf(text, sizeof text, "bad magic number 0x%08x (expected 0x%08x, ", magic, expected_magic);
    fail(file, text + std::string(rank == 3 ? "IDX unsigned-byte images)" : "IDX unsigned-byte labels)"));
  }
  if (bytes.size() < header) too_short();
  extents.clear();
  std::uint64_t elements = 1;
  for (std::uint32_t r = 0; r < rank; ++r) {
    extents.push_back(big_endian_u32(bytes, 4 + 4 * r));
    // Saturate: a corrupt header may promise more than 2^64 bytes, which is as truncated as 2^63.
    if (__builtin_mul_overflow(elements, static_cast<std::uint64_t>(extents.back()), &elements))
      elements = std::uint64_t(-1) - header;
  }
  std::string promise = std::to_string(extents[0]) + (rank == 3 ? " images of " + std::to_string(extents[1]) + "x" +
                                                                      std::to_string(extents[2])
                                                                : std::string(" labels"));
  check_size(file, bytes.size(), header + elements, promise);
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(header));
  return bytes;
}

inline std::filesystem::path existing(const std::filesystem::path& dir, const std::string& name) {
  std::error_code ec;
  for (const std::string& candidate : {name + ".gz", name})
    if (std::filesystem::exists(dir / candidate, ec)) return dir / candidate;
  fail(dir / (name + ".gz"), "no such file (nor " + name + " uncompressed)");
}

// One Fashion-MNIST part (train or t10k): images padded to 32x32 and scaled to [0, 1].
inline dataset load_idx_part(const std::filesystem::path& dir, const std::string& prefix) {
  const std::filesystem::path image_file = existing(dir, prefix + "-images-idx3-ubyte");
  const std::filesystem::path label_file = existing(dir, prefix + "-labels-idx1-ubyte");
  std::vector<std::int64_t> image_extents, label_extents;
  const std::vector<unsigned char> pixels = read_idx(image_file, 3, image_extents);
  const std::vector<unsigned char> label_bytes = read_idx(label_file, 1, label_extents);
  const std::int64_t count = image_extents[0], rows = image_extents[1], cols = image_extents[2];
  if (rows < 1 || cols < 1 || rows > padded_extent || cols > padded_extent)
    fail(image_file, "images are " + std::to_string(rows) + "x" + std::to_string(cols) +
                         "; LeNet takes images of at most 32x32 (padded to 32x32)");
  if (count < 1) fail(image_file, "holds no images");
  if (label_extents[0] != count)
    fail(label_file, "holds " + std::to_string(label_extents[0]) + " labels, but " + image_file.filename().string() +
                         " holds " + std::to_string(count) + " images");

  dataset d;
  d.count = count;
  d.channels = 1;
  d.height = d.width = padded_extent;
  d.images.assign(static_cast<std::size_t>(count * d.sample_size()), 0.0f);
  d.labels.resize(static_cast<std::size_t>(count));
  const std::int64_t top = (padded_extent - rows) / 2, left = (padded_extent - cols) / 2;
  for (std::int64_t n = 0; n < count; ++n) {
    check_label(label_file, n, label_bytes[n]);
    d.labels[n] = label_bytes[n];
    float* image = d.images.data() + n * d.sample_size();
    const unsigned char* source = pixels.data() + n * rows * cols;
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        image[(top + r) * padded_extent + left + c] = static_cast<float>(source[r * cols + c]) / 255.0f;
  }
  return d;
}

// CIFAR-10 binary files: records of <label byte><1024 red><1024 green><1024 blue>, rows of 32.
inline void append_cifar_file(const std::filesystem::path& file, dataset& d) {
  constexpr std::int64_t pixels = 3 * 32 * 32;
  constexpr std::int64_t record = 1 + pixels;
  const std::vector<unsigned char> bytes = read_file(file);
  const std::int64_t size = static_cast<std::int64_t>(bytes.size());
  if (size == 0) fail(file, "empty file");
  if (size % record != 0)
    fail(file, "truncated: " + std::to_string(size) + " bytes is not a whole number of " + std::to_string(record) +
                   "-byte CIFAR-10 records (" + std::to_string(size / record) + " records and " +
                   std::to_string(size % record) + " bytes)");
  const std::int64_t records = size / record;
  const std::int64_t first = d.count;
  d.count += records;
  d.images.resize(static_cast<std::size_t>(d.count * pixels));
  d.labels.resize(static_cast<std::size_t>(d.count));
  for (std::int64_t n = 0; n < records; ++n) {
    const unsigned char* r = bytes.data() + n * record;
    check_label(file, n, r[0]);
    d.labels[first + n] = r[0];
    float* image = d.images.data() + (first + n) * pixels;
    for (std::int64_t i = 0; i < pixels; ++i) image[i] = static_cast<float>(r[1 + i]) / 255.0f;
  }
}

}  // namespace io

// Per-channel standardisation with the training set's mean and standard deviation, applied to both parts.
inline void normalise(dataset_split& data) {
  const dataset& train = data.train;
  const std::int64_t plane = train.height * train.width;
  for (std::int64_t c = 0; c < train.channels; ++c) {
    double sum = 0, sum_of_squares = 0;
    for (std::int64_t n = 0; n < train.count; ++n) {
      const float* p = train.images.data() + (n * train.channels + c) * plane;
      for (std::int64_t i = 0; i < plane; ++i) {
        sum += p[i];
        sum_of_squares += double(p[i]) * p[i];
      }
    }
    const double values = static_cast<double>(train.count * plane);
    const double mean = sum / values;
    const double variance = std::max(sum_of_squares / values - mean * mean, 0.0);
    const double scale = variance > 0 ? 1.0 / std::sqrt(variance) : 1.0;  // a constant channel is only centred
    for (dataset* d : {&data.train, &data.test})
      for (std::int64_t n = 0; n < d->count; ++n) {
        float* p = d->images.data() + (n * d->channels + c) * plane;
        for (std::int64_t i = 0; i < plane; ++i) p[i] = static_cast<float>((p[i] - mean) * scale);
      }
  }
}

// Keeps the first `count` samples (all when count is 0 or at least the size).
inline void keep_first(dataset& d, std::int64_t count) {
  if (count <= 0 || count >= d.count) return;
  d.count = count;
  d.images.resize(static_cast<std::size_t>(count * d.sample_size()));
  d.labels.resize(static_cast<std::size_t>(count));
}

// train-{images,labels}-idx{3,1}-ubyte[.gz] and t10k-... from `dir`; padded to 32x32, scaled to [0, 1].
inline dataset_split load_fashion_mnist(const std::filesystem::path& dir) {
  dataset_split data{"fashion-mnist", io::load_idx_part(dir, "train"), io::load_idx_part(dir, "t10k")};
  if (data.test.height != data.train.height) io::fail(dir, "train and t10k image sizes differ");
  return data;
}

// data_batch_1..5.bin and test_batch.bin from `dir` (or from its cifar-10-batches-bin/, as the archive
// unpacks); scaled to [0, 1].
inline dataset_split load_cifar10(const std::filesystem::path& dir) {
  std::error_code ec;
  const std::filesystem::path root =
      !std::filesystem::exists(dir / "data_batch_1.bin", ec) && std::filesystem::is_directory(dir / "cifar-10-batches-bin", ec)
          ? dir / "cifar-10-batches-bin"
          : dir;
  dataset_split data{"cifar10", {}, {}};
  for (dataset* d : {&data.train, &data.test}) {
    d->channels = 3;
    d->height = d->width = 32;
  }
  for (int part = 1; part <= 5; ++part)
    io::append_cifar_file(root / ("data_batch_" + std::to_string(part) + ".bin"), data.train);
  io::append_cifar_file(root / "test_batch.bin", data.test);
  return data;
}

}  // namespace lenet
