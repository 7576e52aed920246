#include <torch/script.h>

#include "tracemark/engine/examiner.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/model_kind.h"
#include "tracemark/sdk/suspect.h"

namespace tracemark {

bool MentionsOutOfMemory(const std::string& message) {
  return message.find("out of memory") != std::string::npos ||
         message.find("bad_alloc") != std::string::npos ||
         message.find("can't allocate memory") != std::string::npos;
}

StatusOr<sandbox::SuspectFacts> LocalExaminer::Facts(const std::vector<std::string>& input_shapes) {
  sandbox::SuspectFacts facts;
  if (model_ == nullptr) return facts;
  facts.architecture = ArchitectureSignature(*model_);
  // A kind per input shape, learned from one zero input (not a query).
  for (const std::string& text : input_shapes) {
    std::string kind;  // empty: the model rejects such inputs
    auto shape = ParseShape(text);
    if (shape.ok()) {
      std::vector<int64_t> batch = {1};
      batch.insert(batch.end(), shape->begin(), shape->end());
      model_->eval();
      auto detected = DetectModelKind(*model_, torch::zeros(batch));
      if (detected.ok()) {
        kind = *detected;
      } else if (MentionsOutOfMemory(detected.status().message())) {
        return Status::Internal("out of memory running the suspect: " +
                                detected.status().message());
      }
    }
    facts.kinds[text] = kind;
  }
  return facts;
}

StatusOr<sandbox::Evidence> LocalExaminer::Examine(
    const std::vector<sandbox::ReleaseProbe>& probes) {
  sandbox::Evidence evidence;
  bool unavailable = false;
  for (const auto& probe : probes) {
    sandbox::ProbeEvidence& out = evidence.probes.emplace_back();
    out.release_id = probe.release_id;
    if (unavailable) {
      out.status = Status::Unavailable("the endpoint already failed");
      continue;
    }
    auto scheme = plugins_->Find(probe.scheme);
    if (!scheme.ok()) {
      out.status = scheme.status();
      continue;
    }
    const bool per_copy = std::any_of(probe.copy_keys.begin(), probe.copy_keys.end(),
                                      [](const std::string& k) { return !k.empty(); });
    if (per_copy) {
      for (const std::string& copy_key : probe.copy_keys) {
        KeyMatches m;
        if (!copy_key.empty()) {
          out.status = (*scheme)->Score(*suspect_, probe.key, copy_key, &m);
          if (!out.status.ok()) break;
        }
        out.counts.push_back({m.matches, m.trials, m.null_probability});
      }
      if (!out.status.ok()) out.counts.clear();
    } else {
      out.status = (*scheme)->Extract(*suspect_, probe.key, &out.soft_bits);
      if (!out.status.ok()) out.soft_bits.clear();
    }
    if (MentionsOutOfMemory(out.status.message())) {
      return Status::Internal("out of memory running the suspect: " + out.status.message());
    }
    unavailable = out.status.code() == Status::Code::kUnavailable;
  }
  evidence.queries = suspect_->queries();
  return evidence;
}

}  // namespace tracemark
