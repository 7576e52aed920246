// tracemark-sandbox: runs one suspect model file under confinement and
// answers a trace's questions about it (tracemark/sandbox/messages.h). The
// parent (SandboxedExaminer) starts it with the requests on stdin, the
// replies on stdout and the suspect open read-only on fd 3.
//
// Order matters: limits first; then everything that needs files (the
// plugins, the suspect's bytes, LibTorch's lazy start-up); then the
// confinement (docs/security.md); only then is the suspect parsed and run.
// Any failure is one error frame and exit code 1; a crash or a kill is read
// by the parent from the exit status.
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <new>
#include <string>

#include "tracemark/base/guarded_call.h"
#include "tracemark/base/numbers.h"
#include "tracemark/base/text.h"
#include "tracemark/engine/examiner.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/sandbox/confine.h"
#include "tracemark/sandbox/messages.h"
#include "tracemark/sandbox/wire.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/suspect.h"

namespace tracemark::sandbox {
namespace {

constexpr int kRequests = 0, kReplies = 1, kSuspect = 3;
constexpr size_t kMaxRequest = size_t{2} << 30;

struct Flags {
  std::string plugins;
  ChildLimits limits;
  int64_t max_model_bytes = int64_t{4} << 30;
};

StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const std::string& name) -> const char* {
      return arg.rfind(name + "=", 0) == 0 ? argv[i] + name.size() + 1 : nullptr;
    };
    bool ok = true;
    if (const char* v = value("--plugins")) {
      flags.plugins = v;
    } else if (const char* v = value("--memory-bytes")) {
      ok = ParseInt(v, &flags.limits.memory_bytes) && flags.limits.memory_bytes > 0;
    } else if (const char* v = value("--cpu-seconds")) {
      ok = ParseInt(v, &flags.limits.cpu_seconds) && flags.limits.cpu_seconds > 0;
    } else if (const char* v = value("--max-model-bytes")) {
      ok = ParseInt(v, &flags.max_model_bytes) && flags.max_model_bytes > 0;
    } else {
      ok = false;
    }
    if (!ok) return Status::InvalidArgument("tracemark-sandbox: bad argument " + arg);
  }
  return flags;
}

// The whole suspect file, read from fd 3 (at most `limit` bytes).
StatusOr<std::string> ReadSuspect(int64_t limit) {
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(kSuspect, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError("cannot read the suspect: " + std::string(strerror(errno)));
    if (n == 0) break;
    if (static_cast<int64_t>(bytes.size()) + n > limit) {
      return Status::InvalidArgument("the suspect is larger than " + std::to_string(limit) +
                                     " bytes");
    }
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(kSuspect);
  return bytes;
}

// LibTorch starts its thread pools, BLAS and CPU detection lazily, reading
// /proc and /sys; do it now, on a model of our own, while files are open.
void WarmUp() {
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::rand({2, 1, 8, 8});
  torch::Tensor w = torch::rand({4, 1, 3, 3});
  torch::Tensor y = torch::conv2d(x, w).flatten(1);
  (void)torch::mm(y, y.t()).sum().item<float>();
  (void)torch::softmax(y, 1).argmax(1);
}

// InvalidArgument when the suspect's code reached for a file (the sandbox
// refused it): such a model is hostile, whatever else it answered.
Status CheckNoViolation() {
  std::string path;
  if (!FileViolation(&path)) return Status::Ok();
  if (path.size() > 200) path = path.substr(0, 200) + "...";
  return Status::InvalidArgument(
      "the suspect's code tried to open or change a file" +
      (path.empty() ? std::string() : " (" + Printable(ValidUtf8(path)) + ")") +
      "; the sandbox refused it");
}

// Reads the request of `type`.
StatusOr<std::string> Request(uint32_t type) {
  TM_ASSIGN_OR_RETURN(Frame frame, ReadFrame(kRequests, kMaxRequest, 0));
  if (frame.type != type) return Status::InvalidArgument("unexpected request");
  return frame.payload;
}

Status Serve(const Flags& flags) {
  PluginHost plugins;
  TM_RETURN_IF_ERROR(plugins.LoadDirectory(flags.plugins));
  TM_ASSIGN_OR_RETURN(std::string bytes, ReadSuspect(flags.max_model_bytes));
  WarmUp();
  std::string note;
  TM_RETURN_IF_ERROR(Confine(&note));
  TM_ASSIGN_OR_RETURN(torch::jit::Module model, LoadModelFromBytes(bytes, "the suspect"));
  bytes.clear();
  bytes.shrink_to_fit();
  ModelSuspect suspect(&model);
  LocalExaminer examiner(&suspect, &model, &plugins);

  TM_ASSIGN_OR_RETURN(std::string facts_request, Request(kFactsRequest));
  TM_ASSIGN_OR_RETURN(FactsRequest shapes, DecodeFactsRequest(facts_request));
  TM_ASSIGN_OR_RETURN(SuspectFacts facts, examiner.Facts(shapes.input_shapes));
  TM_RETURN_IF_ERROR(CheckNoViolation());
  TM_RETURN_IF_ERROR(WriteFrame(kReplies, kFacts, EncodeFacts(facts)));

  TM_ASSIGN_OR_RETURN(std::string probe_request, Request(kProbes));
  TM_ASSIGN_OR_RETURN(std::vector<ReleaseProbe> probes, DecodeProbes(probe_request));
  TM_ASSIGN_OR_RETURN(Evidence evidence, examiner.Examine(probes));
  TM_RETURN_IF_ERROR(CheckNoViolation());
  return WriteFrame(kReplies, kEvidence, EncodeEvidence(evidence));
}

// A failure as the parent reports it: running out of the address space
// shows as an allocation failure somewhere in LibTorch.
Status Explained(const Status& st, const Flags& flags) {
  if (MentionsOutOfMemory(st.message())) {
    return Status::Internal("memory limit of " + std::to_string(flags.limits.memory_bytes >> 20) +
                            " MiB");
  }
  return st;
}

}  // namespace
}  // namespace tracemark::sandbox

int main(int argc, char** argv) {
  using namespace tracemark::sandbox;
  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    (void)WriteFrame(kReplies, kError, EncodeError(flags.status()));
    return 1;
  }
  tracemark::Status st = SetLimits(flags->limits);
  if (st.ok()) st = tracemark::GuardedCall("sandbox", [&] { return Serve(*flags); });
  if (st.ok()) return 0;
  (void)WriteFrame(kReplies, kError, EncodeError(Explained(st, *flags)));
  return 1;
}
