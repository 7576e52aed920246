// Removal attacks an adversary may run on a leaked copy; used by the tests,
// the CLI's `attack` command and the benchmarks. Each modifies or returns a
// model and never touches the key store.
#pragma once

#include <torch/script.h>

#include <vector>

#include "tracemark/dataset.h"
#include "tracemark/status.h"

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

}  // namespace tracemark
