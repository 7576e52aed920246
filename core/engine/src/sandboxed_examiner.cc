#include <unistd.h>

#include "tracemark/engine/examiner.h"

namespace tracemark {

SandboxedExaminer::~SandboxedExaminer() = default;

StatusOr<std::string> SandboxedExaminer::Ask(uint32_t type, const std::string& payload,
                                             uint32_t expected) {
  if (!child_) {
    TM_ASSIGN_OR_RETURN(child_,
                        sandbox::SandboxChild::Spawn(
                            config_.program,
                            {"--plugins=" + config_.plugin_dir,
                             "--max-model-bytes=" + std::to_string(config_.max_model_bytes)},
                            fd_, config_.limits));
  }
  TM_RETURN_IF_ERROR(child_->Send(type, payload));
  TM_ASSIGN_OR_RETURN(sandbox::Frame reply, child_->Receive());
  if (reply.type == sandbox::kError) {
    Status st = sandbox::DecodeError(reply.payload);
    child_->Kill();
    return st;
  }
  if (reply.type != expected) {
    child_->Kill();
    return Status::Internal("the sandboxed process sent an unexpected reply");
  }
  return reply.payload;
}

StatusOr<sandbox::SuspectFacts> SandboxedExaminer::Facts(
    const std::vector<std::string>& input_shapes) {
  TM_ASSIGN_OR_RETURN(
      std::string payload,
      Ask(sandbox::kFactsRequest, sandbox::EncodeFactsRequest({input_shapes}), sandbox::kFacts));
  return sandbox::DecodeFacts(payload);
}

StatusOr<sandbox::Evidence> SandboxedExaminer::Examine(
    const std::vector<sandbox::ReleaseProbe>& probes) {
  TM_ASSIGN_OR_RETURN(std::string payload,
                      Ask(sandbox::kProbes, sandbox::EncodeProbes(probes), sandbox::kEvidence));
  TM_ASSIGN_OR_RETURN(sandbox::Evidence evidence, sandbox::DecodeEvidence(payload));
  if (evidence.probes.size() != probes.size()) {
    return Status::Internal("the sandboxed process answered " +
                            std::to_string(evidence.probes.size()) + " of " +
                            std::to_string(probes.size()) + " releases");
  }
  for (size_t i = 0; i < probes.size(); ++i) {
    if (evidence.probes[i].release_id != probes[i].release_id) {
      return Status::Internal("the sandboxed process answered for another release");
    }
  }
  TM_RETURN_IF_ERROR(child_->Finish());  // it exits once it has answered
  return evidence;
}

}  // namespace tracemark
