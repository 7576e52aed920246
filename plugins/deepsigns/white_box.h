// DeepSigns white-box mode: activation fingerprints read from a hidden
// layer (the algorithm is described in deepsigns.cc).
#pragma once

#include <torch/script.h>

#include <cstdint>
#include <vector>

#include "common.h"
#include "tracemark/sdk/key_blob.h"
#include "tracemark/sdk/scheme.h"
#include "tracemark/sdk/typed_scheme.h"

namespace tracemark::deepsigns {

// Fills `blob` with the white-box key: the tapped layer, target classes,
// projection and key inputs.
Status WhiteKeygen(const torch::jit::Module& base, const Settings& s, int bits, uint64_t seed,
                   const Dataset& train, KeyBlob* blob);
Status WhiteEmbed(torch::jit::Module& model, const KeyBlob& blob, const Settings& s,
                  const std::vector<uint8_t>& bits, const EmbedContext& ctx, EmbedReport* report);
// Soft bits from the suspect's activations (needs the model file).
Status WhiteExtract(Suspect& suspect, const KeyBlob& blob, std::vector<float>* soft_bits);

}  // namespace tracemark::deepsigns
