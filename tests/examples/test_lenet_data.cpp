// The LeNet example's data loaders on generated files: whole Fashion-MNIST (gzip and plain IDX) and CIFAR-10
// files load to the right pixels and labels; broken ones (bad magic, truncation, trailing bytes, corrupt
// gzip, mismatched counts, bad labels, missing files) fail with a message naming the file and the fault.
// Also the normalisation, --limit and the command line.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "lenet/data.hpp"
#include "lenet/options.hpp"
#include "lenet_files.hpp"
#include "support/expect_error.hpp"

using namespace lenet_test;
using testing_support::check_throws_naming;

TEST_CASE("fashion-mnist: gzip IDX files load padded to 32x32, scaled to [0, 1], with their labels") {
  temporary_directory dir;
  write_fashion_mnist(dir.path(), 5, 3);
  const lenet::dataset_split data = lenet::load_fashion_mnist(dir.path());
  CHECK(data.name == "fashion-mnist");
  REQUIRE(data.train.count == 5);
  REQUIRE(data.test.count == 3);
  for (const lenet::dataset* d : {&data.train, &data.test}) {
    CHECK(d->channels == 1);
    CHECK(d->height == 32);
    CHECK(d->width == 32);
    CHECK(d->images.size() == std::size_t(d->count * 32 * 32));
    for (std::int64_t n = 0; n < d->count; ++n) {
      CHECK(d->labels[n] == label_of(n));
      const float* image = d->images.data() + n * 32 * 32;
      for (int r = 0; r < 32; ++r)
        for (int c = 0; c < 32; ++c) {
          const bool inside = r >= 2 && r < 30 && c >= 2 && c < 30;  // 28x28 centred: 2 pixels of zeros around
          const float expected = inside ? pixel(n, r - 2, c - 2) / 255.0f : 0.0f;
          if (image[r * 32 + c] != expected) {
            FAIL_CHECK("image ", n, " pixel (", r, ", ", c, ") is ", image[r * 32 + c], ", expected ", expected);
            return;
          }
        }
    }
  }
}

TEST_CASE("fashion-mnist: uncompressed IDX files load too, and smaller images are centred") {
  temporary_directory dir;
  write_plain(dir.path() / "train-images-idx3-ubyte", idx_images(4, 20, 24));
  write_plain(dir.path() / "train-labels-idx1-ubyte", idx_labels(4));
  write_plain(dir.path() / "t10k-images-idx3-ubyte", idx_images(2, 20, 24));
  write_plain(dir.path() / "t10k-labels-idx1-ubyte", idx_labels(2));
  const lenet::dataset_split data = lenet::load_fashion_mnist(dir.path());
  REQUIRE(data.train.count == 4);
  // (32 - 20) / 2 = 6 rows above, (32 - 24) / 2 = 4 columns to the left
  CHECK(data.train.images[3 * 1024 + 6 * 32 + 4] == pixel(3, 0, 0) / 255.0f);
  CHECK(data.train.images[3 * 1024 + 25 * 32 + 27] == pixel(3, 19, 23) / 255.0f);
  CHECK(data.train.images[3 * 1024 + 5 * 32 + 4] == 0.0f);
  CHECK(data.test.labels[1] == label_of(1));
}

TEST_CASE("fashion-mnist: broken files fail naming the file and the fault") {
  temporary_directory dir;
  const auto images = dir.path() / "train-images-idx3-ubyte.gz";
  const auto labels = dir.path() / "train-labels-idx1-ubyte.gz";
  const auto load = [&] { (void)lenet::load_fashion_mnist(dir.path()); };
  write_fashion_mnist(dir.path(), 6, 2);

  SUBCASE("wrong magic number (a label file where images belong)") {
    write_gzip(images, idx_labels(6));
    check_throws_naming<lenet::data_error>(load, {"train-images-idx3-ubyte.gz", "magic", "0x00000801", "0x00000803"});
  }
  SUBCASE("image data shorter than the header promises") {
    bytes b = idx_images(6, 28, 28);
    b.resize(b.size() - 100);
    write_gzip(images, b);
    check_throws_naming<lenet::data_error>(load, {"train-images-idx3-ubyte.gz", "truncated", "6 images of 28x28"});
  }
  SUBCASE("a file shorter than its header") {
    write_gzip(images, bytes{0, 0, 8, 3, 0, 0});
    check_throws_naming<lenet::data_error>(load, {"train-images-idx3-ubyte.gz", "truncated", "16-byte IDX header"});
  }
  SUBCASE("bytes after the last image") {
    bytes b = idx_images(6, 28, 28);
    b.push_back(7);
    write_gzip(images, b);
    check_throws_naming<lenet::data_error>(load, {"train-images-idx3-ubyte.gz", "1 unexpected bytes"});
  }
  SUBCASE("a gzip stream cut short") {
    const bytes whole = read_plain(images);
    write_plain(images, bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(whole.size() / 2)));
    check_throws_naming<lenet::data_error>(load, {"train-images-idx3-ubyte.gz", "truncated gzip"});
  }
  SUBCASE("a corrupt gzip stream") {
    bytes whole = read_plain(images);
    for (std::size_t i = 20; i < 60; ++i) whole[i] ^= 0x5a;
    write_plain(images, whole);
    check_throws_naming<lenet::data_error>(load, {"train-images-idx3-ubyte.gz"});
  }
  SUBCASE("fewer labels than images") {
    write_gzip(labels, idx_labels(5));
    check_throws_naming<lenet::data_error>(load, {"train-labels-idx1-ubyte.gz", "5 labels", "6 images"});
  }
  SUBCASE("a label that is no class") {
    bytes b = idx_labels(6);
    b[8 + 4] = 10;
    write_gzip(labels, b);
    check_throws_naming<lenet::data_error>(load, {"train-labels-idx1-ubyte.gz", "label 4 is 10"});
  }
  SUBCASE("images larger than LeNet's 32x32") {
    write_gzip(images, idx_images(6, 33, 28));
    check_throws_naming<lenet::data_error>(load, {"train-images-idx3-ubyte.gz", "33x28"});
  }
  SUBCASE("a missing test file") {
    std::filesystem::remove(dir.path() / "t10k-labels-idx1-ubyte.gz");
    check_throws_naming<lenet::data_error>(load, {"t10k-labels-idx1-ubyte.gz", "no such file"});
  }
}

TEST_CASE("cifar10: binary batches load channel-major with their labels, from DIR or DIR/cifar-10-batches-bin") {
  temporary_directory dir;
  const auto root = dir.path() / "cifar-10-batches-bin";
  std::filesystem::create_directories(root);
  write_cifar10(root);
  for (const auto& from : {root, dir.path()}) {
    const lenet::dataset_split data = lenet::load_cifar10(from);
    CHECK(data.name == "cifar10");
    REQUIRE(data.train.count == 9);  // 2 + 1 + 3 + 1 + 2, in file order
    REQUIRE(data.test.count == 2);
    CHECK(data.train.channels == 3);
    CHECK(data.train.height == 32);
    for (std::int64_t n = 0; n < 9; ++n) {
      CHECK(data.train.labels[n] == label_of(n));
      const float* image = data.train.images.data() + n * 3 * 1024;
      CHECK(image[0] == pixel(n, 0, 0) / 255.0f);                 // red (0, 0)
      CHECK(image[1024 + 5 * 32 + 7] == pixel(n, 37, 7) / 255.0f);  // green (5, 7)
      CHECK(image[3071] == pixel(n, 95, 31) / 255.0f);            // blue (31, 31)
    }
    CHECK(data.test.labels[1] == label_of(101));
  }
}

TEST_CASE("cifar10: broken files fail naming the file and the fault") {
  temporary_directory dir;
  write_cifar10(dir.path());
  const auto load = [&] { (void)lenet::load_cifar10(dir.path()); };
  SUBCASE("a record cut short") {
    bytes b = cifar_records(0, 3);
    b.resize(b.size() - 1);
    write_plain(dir.path() / "data_batch_3.bin", b);
    check_throws_naming<lenet::data_error>(load, {"data_batch_3.bin", "truncated", "2 records and 3072 bytes"});
  }
  SUBCASE("a label that is no class") {
    bytes b = cifar_records(100, 2);
    b[3073] = 200;
    write_plain(dir.path() / "test_batch.bin", b);
    check_throws_naming<lenet::data_error>(load, {"test_batch.bin", "label 1 is 200"});
  }
  SUBCASE("an empty file") {
    write_plain(dir.path() / "data_batch_2.bin", {});
    check_throws_naming<lenet::data_error>(load, {"data_batch_2.bin", "empty"});
  }
  SUBCASE("a missing batch") {
    std::filesystem::remove(dir.path() / "data_batch_4.bin");
    check_throws_naming<lenet::data_error>(load, {"data_batch_4.bin", "no such file"});
  }
}

TEST_CASE("normalise: per-channel mean 0 and deviation 1 on the training set, the test set gets the same map") {
  temporary_directory dir;
  write_cifar10(dir.path());
  lenet::dataset_split data = lenet::load_cifar10(dir.path());
  const lenet::dataset raw_test = data.test;
  const lenet::dataset raw_train = data.train;
  lenet::normalise(data);
  for (int channel = 0; channel < 3; ++channel) {
    double sum = 0, squares = 0;
    for (std::int64_t n = 0; n < data.train.count; ++n)
      for (int i = 0; i < 1024; ++i) {
        const double v = data.train.images[(n * 3 + channel) * 1024 + i];
        sum += v;
        squares += v * v;
      }
    const double count = 1024.0 * double(data.train.count);
    CHECK(sum / count == doctest::Approx(0).epsilon(1e-5));
    CHECK(squares / count == doctest::Approx(1).epsilon(1e-4));
    // The map is affine and the same for both parts: test = a * raw_test + b with train's a and b.
    const std::int64_t p = channel * 1024 + 17, q = channel * 1024 + 300;
    const double a = (data.train.images[q] - data.train.images[p]) / (raw_train.images[q] - raw_train.images[p]);
    const double b = data.train.images[p] - a * raw_train.images[p];
    CHECK(data.test.images[p] == doctest::Approx(a * raw_test.images[p] + b).epsilon(1e-4));
  }
}

TEST_CASE("keep_first: --limit keeps the first N samples and their labels") {
  temporary_directory dir;
  write_fashion_mnist(dir.path(), 7, 1);
  lenet::dataset train = lenet::load_fashion_mnist(dir.path()).train;
  const float last_kept = train.images[3 * 1024 + 200];
  lenet::keep_first(train, 4);
  CHECK(train.count == 4);
  CHECK(train.labels.size() == 4);
  CHECK(train.images.size() == 4 * 1024);
  CHECK(train.images[3 * 1024 + 200] == last_kept);
  lenet::keep_first(train, 100);  // more than there are: all kept
  CHECK(train.count == 4);
}

TEST_CASE("command line: defaults, every flag, and errors that name the flag") {
  const auto parse = [](std::initializer_list<const char*> args) {
    std::vector<const char*> argv{"train_lenet"};
    argv.insert(argv.end(), args.begin(), args.end());
    return lenet::parse_options(static_cast<int>(argv.size()), argv.data());
  };
  const lenet::options defaults = parse({});
  CHECK(defaults.policy == "fft");
  CHECK(defaults.dataset == "fashion-mnist");
  CHECK(defaults.batch == 128);
  CHECK(defaults.learning_rate == 0.01);
  CHECK(defaults.momentum == 0.9);
  CHECK(defaults.epochs == 1);
  CHECK(defaults.limit == 0);
  CHECK(defaults.device == "auto");

  const lenet::options o = parse({"--policy", "naive", "--dataset", "cifar10", "--data", "/d", "--epochs", "3", "--batch",
                                  "64", "--lr", "0.05", "--momentum", "0.5", "--limit", "1000", "--device", "host",
                                  "--seed", "42"});
  CHECK(o.policy == "naive");
  CHECK(o.dataset == "cifar10");
  CHECK(o.data_dir == "/d");
  CHECK(o.epochs == 3);
  CHECK(o.batch == 64);
  CHECK(o.learning_rate == 0.05);
  CHECK(o.momentum == 0.5);
  CHECK(o.limit == 1000);
  CHECK(o.device == "host");
  CHECK(o.seed == 42);

  using lenet::usage_error;
  check_throws_naming<usage_error>([&] { parse({"--policy", "winograd"}); }, {"--policy", "winograd"});
  check_throws_naming<usage_error>([&] { parse({"--batch", "0"}); }, {"--batch", "'0'"});
  check_throws_naming<usage_error>([&] { parse({"--epochs", "2x"}); }, {"--epochs", "'2x'"});
  check_throws_naming<usage_error>([&] { parse({"--lr", "fast"}); }, {"--lr", "'fast'"});
  check_throws_naming<usage_error>([&] { parse({"--device", "tpu"}); }, {"--device", "tpu"});
  check_throws_naming<usage_error>([&] { parse({"--dataset", "mnist"}); }, {"--dataset", "mnist"});
  check_throws_naming<usage_error>([&] { parse({"--seed"}); }, {"--seed", "needs a value"});
  check_throws_naming<usage_error>([&] { parse({"--colour", "red"}); }, {"--colour"});
  check_throws_naming<usage_error>([&] { parse({"--dataset", "cifar10"}); }, {"cifar10", "--data"});
}

TEST_CASE("--policy vendor: parsed in every build, run where the executor's vendor library is built in, else refused") {
  std::vector<const char*> argv{"train_lenet", "--policy", "vendor"};
  CHECK(lenet::parse_options(static_cast<int>(argv.size()), argv.data()).policy == "vendor");
  CHECK(lenet::runs_on_executor<fftconv::host>("vendor") == (FFTCONV_HAS_ONEDNN != 0));
  CHECK(lenet::runs_on_executor<fftconv::host>("fft"));
  CHECK_FALSE(lenet::runs_on_executor<fftconv::host>("winograd"));
  // Outside nvcc no translation unit has cuDNN, so the device's refusal can be checked in every build; the
  // callback is never instantiated for vendor on an executor it does not run on.
  const auto call = [](std::string_view name) {
    return lenet::with_policy<fftconv::device>(name, []<class Policy>(std::type_identity<Policy>) { return 1; });
  };
  CHECK(call("fft") == 1);
  check_throws_naming<lenet::policy_unavailable>([&] { call("vendor"); }, {"--policy vendor", "cuDNN", "--device gpu"});
  if (!FFTCONV_HAS_ONEDNN)
    check_throws_naming<lenet::policy_unavailable>(
        [] { lenet::with_policy<fftconv::host>("vendor", []<class Policy>(std::type_identity<Policy>) { return 1; }); },
        {"--policy vendor", "oneDNN", "--device host"});
}
