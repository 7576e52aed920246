// Examiner: what a trace needs from a suspect, asked in two steps so that a
// release's secrets reach the suspect's side only when the suspect is tested
// against that release (messages in tracemark/sandbox/messages.h):
//   Facts    the suspect's architecture signature and the kind it shows for
//            each input shape the releases use (a file only);
//   Examine  per release: soft bits (Extract) or per-copy key counts
//            (Score), or why the release could not be tested.
// Two implementations: LocalExaminer runs the schemes in this process (for
// endpoints, whose answers are data, and inside the sandbox child);
// SandboxedExaminer runs a LocalExaminer in the confined tracemark-sandbox
// process (for model files, which are attacker-made programs).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tracemark/base/status.h"
#include "tracemark/sandbox/child_process.h"
#include "tracemark/sandbox/messages.h"
#include "tracemark/sandbox/sandbox_config.h"

namespace torch::jit {
struct Module;
}  // namespace torch::jit

namespace tracemark {

class PluginHost;
class Suspect;

class Examiner {
 public:
  virtual ~Examiner() = default;
  // Architecture "" and no kinds for an endpoint.
  virtual StatusOr<sandbox::SuspectFacts> Facts(const std::vector<std::string>& input_shapes) = 0;
  // One ProbeEvidence per probe, in order; a release that cannot be tested
  // has a non-OK status there. A non-OK return means the examiner itself
  // failed (the sandbox crashed or ran out of time or memory).
  virtual StatusOr<sandbox::Evidence> Examine(const std::vector<sandbox::ReleaseProbe>& probes) = 0;
};

// Whether a failure's message says an allocation failed (the address-space
// limit of a sandbox, or the machine's memory).
bool MentionsOutOfMemory(const std::string& message);

// Runs the schemes here. `model` is the suspect's file (null for an
// endpoint); all pointers are borrowed. After the first Unavailable answer
// (an endpoint that failed) the remaining probes are not sent. Running out
// of memory anywhere fails the whole examination: answers given under
// memory pressure are not evidence.
class LocalExaminer : public Examiner {
 public:
  LocalExaminer(Suspect* suspect, torch::jit::Module* model, const PluginHost* plugins)
      : suspect_(suspect), model_(model), plugins_(plugins) {}
  StatusOr<sandbox::SuspectFacts> Facts(const std::vector<std::string>& input_shapes) override;
  StatusOr<sandbox::Evidence> Examine(const std::vector<sandbox::ReleaseProbe>& probes) override;

 private:
  Suspect* suspect_;
  torch::jit::Module* model_;
  const PluginHost* plugins_;
};

// Runs the suspect file open at `fd` (owned by the caller, read-only) in
// tracemark-sandbox. Spawns the child on the first call.
class SandboxedExaminer : public Examiner {
 public:
  SandboxedExaminer(int fd, sandbox::SandboxConfig config) : fd_(fd), config_(std::move(config)) {}
  ~SandboxedExaminer() override;
  StatusOr<sandbox::SuspectFacts> Facts(const std::vector<std::string>& input_shapes) override;
  StatusOr<sandbox::Evidence> Examine(const std::vector<sandbox::ReleaseProbe>& probes) override;

 private:
  // Sends a request and returns the reply frame of `expected` type (an
  // error frame or a failed child becomes the returned Status).
  StatusOr<std::string> Ask(uint32_t type, const std::string& payload, uint32_t expected);

  int fd_;
  sandbox::SandboxConfig config_;
  std::unique_ptr<sandbox::SandboxChild> child_;
};

}  // namespace tracemark
