// DeepSigns black-box mode: per-copy trigger keys, traced by queries (the
// algorithm is described in deepsigns.cc).
#pragma once

#include <torch/script.h>

#include "common.h"
#include "tracemark/sdk/key_blob.h"
#include "tracemark/sdk/scheme.h"

namespace tracemark::deepsigns {

// Fills `blob` with what every copy's trigger keys are drawn against.
Status BlackKeygen(const torch::jit::Module& base, const Dataset& train, KeyBlob* blob);
// Trains this copy's trigger keys in; the kept keys become report->copy_key.
Status BlackEmbed(torch::jit::Module& model, const KeyBlob& blob, const Settings& s,
                  const EmbedContext& ctx, EmbedReport* report);
// Counts the copy's keys the suspect answers with their labels.
Status BlackScore(Suspect& suspect, const KeyBlob& blob, const std::string& copy_key_bytes,
                  KeyMatches* matches);

}  // namespace tracemark::deepsigns
