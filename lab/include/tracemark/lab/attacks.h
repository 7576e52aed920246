// Removal attacks an adversary may run on a leaked copy; used by the tests,
// the CLI's `attack` command and the benchmarks. Each modifies or returns a
// model and never touches the key store.
#pragma once

#include <torch/script.h>

#include <functional>
#include <vector>

#include "tracemark/base/status.h"
#include "tracemark/lab/demo_training.h"
#include "tracemark/sdk/dataset.h"
#include "tracemark/sdk/scheme.h"

namespace tracemark {

// Fine-tunes every layer for `epochs` epochs with Adam at `learning_rate`
// on the attacker's own data.
Status FineTuneAttack(torch::jit::Module& model, const Dataset& attacker_data, int epochs,
                      double learning_rate, uint64_t seed);

// Zeroes the `fraction` (0..1) of smallest-magnitude entries in every weight
// of rank >= 2, layer by layer. InvalidArgument for a fraction outside [0, 1].
Status PruneByMagnitude(torch::jit::Module& model, double fraction);

// Simulates int8 weight quantization: every weight of rank >= 2 is rounded
// to the nearest of 255 symmetric levels (scale = max |w| / 127, per
// tensor) and stored back as float, as post-training quantization would
// leave it.
Status QuantizeInt8(torch::jit::Module& model);

// The parameter-wise average of copies of one architecture (averaging
// collusion). InvalidArgument for fewer than 2 models or differing shapes.
StatusOr<torch::jit::Module> AverageModels(const std::vector<torch::jit::Module>& models);

// Re-trains only the classifier head — the last weight of rank >= 2 and the
// bias that follows it — for `epochs` on the attacker's data; every other
// parameter keeps its value.
Status RetrainLastLayer(torch::jit::Module& model, const Dataset& attacker_data, int epochs,
                        double learning_rate, uint64_t seed);

struct WeightShiftOptions {
  double shift = 1.5;  // subtract shift x the mean over output filters
  double noise = 0.1;  // then add N(0, (noise x the weight's std)^2)
  int epochs = 1;      // then fine-tune every layer on the attacker's data
  double learning_rate = 1e-3;
  uint64_t seed = 0;
};

// Weight shifting (Lukas et al., SoK 2022): for every weight of rank >= 2,
// w <- w - shift * mean_over_dim0(w) + noise, which moves exactly the
// filter-averaged carrier weight-domain marks read, then fine-tuning to
// recover accuracy. InvalidArgument for a negative shift, noise or epochs.
Status ShiftWeights(torch::jit::Module& model, const Dataset& attacker_data,
                    const WeightShiftOptions& options);

// Knowledge distillation: trains `student` (freshly initialised by the
// caller, any architecture with the same inputs and classes) for `epochs`
// on the attacker's images labelled only by `teacher`'s outputs, minimising
// KL(softmax(teacher / T) || softmax(student / T)) * T^2.
Status DistillInto(torch::jit::Module& teacher, torch::jit::Module& student,
                   const Dataset& attacker_data, int epochs, double temperature,
                   double learning_rate, uint64_t seed);

struct OverwriteOptions {
  SchemeParams params;  // the attacker's scheme parameters (defaults when empty)
  int bits = 64;        // bits of the attacker's own random mark
  // Accuracy the attacker accepts to lose, in [0, 1], on their validation
  // data (the embedding loop stops only within it).
  double max_accuracy_drop = 0.01;
  uint64_t seed = 0;  // the attacker's key, bits and batch order
};

// Overwriting: the attacker runs `scheme` on the leaked copy as an owner
// would — a fresh key from their own seed and data, random bits of their
// own — hoping the new mark displaces the licensee's. `validation` is the
// attacker's held-out data for the accuracy budget. The model is changed in
// place even when the attacker's embedding fails to converge (the returned
// status says so: FailedPrecondition from the scheme's loop).
Status OverwriteMark(torch::jit::Module& model, const Scheme& scheme, const Dataset& attacker_data,
                     const Dataset& validation, const OverwriteOptions& options);

struct SurrogateOptions {
  int max_epochs = 8;
  int64_t batch_size = 64;
  double learning_rate = 2e-3;  // Adam
  uint64_t seed = 0;            // batch order
};

// Model extraction of an image-to-image model: queries `victim` once on
// the attacker's `inputs` and fits `surrogate` (any architecture with the
// same input and output layout, initialised by the caller) to the answers
// with MSE, epoch after epoch, until `good_enough(surrogate)` holds after
// an epoch or max_epochs have run. Returns the epochs run; InvalidArgument
// when either model rejects the inputs.
StatusOr<int> ExtractSurrogate(torch::jit::Module& victim, torch::jit::Module& surrogate,
                               const torch::Tensor& inputs, const SurrogateOptions& options,
                               const std::function<bool(torch::jit::Module&)>& good_enough);

}  // namespace tracemark
