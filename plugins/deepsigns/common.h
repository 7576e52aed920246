// What the two DeepSigns modes share: constants, the settings of both modes
// (docs/plugins.md lists them) and small helpers. Private to the plugin.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "tracemark/sdk/scheme_params.h"
#include "tracemark/sdk/training.h"

namespace tracemark::deepsigns {

constexpr const char* kWhite = "white";
constexpr const char* kBlack = "black";
// Temperature of the watermark loss and of the soft bits, in cosine units.
constexpr double kTemperature = 0.05;
// Black-box candidates drawn per kept key (some may not embed with margin).
constexpr double kCandidatesPerKey = 1.25;
// A target class carries at most M / kUnitsPerBit bits: hidden units that
// stay at zero for a class (ReLU) leave its centre fewer free directions.
constexpr int64_t kUnitsPerBit = 4;
// Feature maps are read as channel means over kGrid x kGrid regions.
constexpr int64_t kGrid = 2;
// Side of the noise blocks black-box keys are made of, in pixels.
constexpr int64_t kNoiseBlock = 8;
constexpr int64_t kEvalBatch = 500;

struct Settings {
  std::string mode;
  std::string layer;
  std::string targets;
  int64_t key_inputs = 0;
  double gamma1 = 0, gamma2 = 0, margin = 0;
  int64_t keys = 0;
  double key_weight = 0, key_margin = 0;
  int64_t key_batch = 0;
  EmbeddingLoopOptions loop;
};

// A comma-separated list of distinct class indices (parameter targets).
StatusOr<std::vector<int64_t>> ParseClassList(const std::string& text);

inline torch::Generator MakeGenerator(uint64_t seed) {
  return at::detail::createCPUGenerator(seed);
}

inline void ThrowIfError(const Status& status) {
  if (!status.ok()) throw std::runtime_error(status.message());
}

// Runs `body` with `model` in eval mode — BatchNorm on its running
// statistics, no dropout — as extraction and queries see the model, which
// also keeps key inputs out of those statistics. Gradients still flow.
template <typename Body>
auto InEvalMode(torch::jit::Module& model, Body&& body) {
  model.eval();
  auto result = body();
  model.train();
  return result;
}

}  // namespace tracemark::deepsigns
