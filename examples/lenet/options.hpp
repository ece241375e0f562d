#pragma once
// train_lenet's command line.

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "policies.hpp"

namespace lenet {

struct options {
  std::string policy = "fft";
  std::string dataset = "fashion-mnist";  // or "cifar10"
  std::string data_dir;                   // empty: the dataset's default directory
  std::int64_t epochs = 1;
  std::int64_t batch = 128;
  double learning_rate = 0.01;
  double momentum = 0.9;
  std::int64_t limit = 0;  // use only the first `limit` training images; 0: all
  std::string device = "auto";  // host | gpu | auto (the GPU when there is one)
  std::uint64_t seed = 1;
  bool help = false;
};

class usage_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

inline std::string usage(std::string_view program) {
  return "usage: " + std::string(program) +
         " [options]\n"
         "  --policy " + policy_names() + "   convolution algorithm (default fft; vendor: oneDNN on\n"
         "                      the host, cuDNN on the GPU, where fftconv was built with them; auto: the fastest\n"
         "                      per layer, timed on its first call)\n"
         "  --dataset fashion-mnist|cifar10   (default fashion-mnist)\n"
         "  --data DIR          dataset directory (default for fashion-mnist: /usr/share/datasets/fashion-mnist;\n"
         "                      for cifar10: the directory holding data_batch_1..5.bin and test_batch.bin)\n"
         "  --epochs N          (default 1)\n"
         "  --batch N           minibatch size (default 128)\n"
         "  --lr X              SGD learning rate (default 0.01)\n"
         "  --momentum X        SGD momentum (default 0.9)\n"
         "  --limit N           train on the first N training images only (default: all)\n"
         "  --device host|gpu|auto   where to run (default auto: the GPU when one is present)\n"
         "  --seed N            initialisation and shuffling seed (default 1)\n";
}

namespace parsing {

inline std::int64_t parse_integer(std::string_view flag, const std::string& text, std::int64_t minimum) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || value < minimum)
    throw usage_error(std::string(flag) + " takes an integer >= " + std::to_string(minimum) + ", not '" + text + "'");
  return value;
}

inline double parse_real(std::string_view flag, const std::string& text, double minimum) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || !(value >= minimum))
    throw usage_error(std::string(flag) + " takes a number >= " + std::to_string(minimum) + ", not '" + text + "'");
  return value;
}

}  // namespace parsing

// Throws usage_error naming the flag and the value at fault.
inline options parse_options(int argc, const char* const* argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      continue;
    }
    if (i + 1 >= argc) throw usage_error(std::string(flag) + (flag.starts_with("--") ? " needs a value" : ": unknown option"));
    const std::string value = argv[++i];
    if (flag == "--policy") {
      if (!is_compiled_policy(value)) throw usage_error("--policy takes " + policy_names() + ", not '" + value + "'");
      o.policy = value;
    } else if (flag == "--dataset") {
      if (value != "fashion-mnist" && value != "cifar10")
        throw usage_error("--dataset takes fashion-mnist|cifar10, not '" + value + "'");
      o.dataset = value;
    } else if (flag == "--data") {
      o.data_dir = value;
    } else if (flag == "--epochs") {
      o.epochs = parsing::parse_integer(flag, value, 1);
    } else if (flag == "--batch") {
      o.batch = parsing::parse_integer(flag, value, 1);
    } else if (flag == "--lr") {
      o.learning_rate = parsing::parse_real(flag, value, 0.0);
    } else if (flag == "--momentum") {
      o.momentum = parsing::parse_real(flag, value, 0.0);
    } else if (flag == "--limit") {
      o.limit = parsing::parse_integer(flag, value, 1);
    } else if (flag == "--device") {
      if (value != "host" && value != "gpu" && value != "auto")
        throw usage_error("--device takes host|gpu|auto, not '" + value + "'");
      o.device = value;
    } else if (flag == "--seed") {
      o.seed = static_cast<std::uint64_t>(parsing::parse_integer(flag, value, 0));
    } else {
      throw usage_error("unknown option '" + std::string(flag) + "'");
    }
  }
  if (o.dataset == "cifar10" && o.data_dir.empty())
    throw usage_error("--dataset cifar10 needs --data DIR (the directory holding data_batch_1..5.bin, test_batch.bin)");
  return o;
}

}  // namespace lenet
