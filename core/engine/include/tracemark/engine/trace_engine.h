// TraceEngine: attributes a suspect model to licensees.
//
// A suspect is a TorchScript file or a deployed endpoint speaking the Open
// Inference Protocol v2 (tracemark/inference_client.h). A file is tested
// against every release whose base architecture signature equals its own
// and, for schemes that read outputs only (Info().access "queries", e.g.
// barrier), against every release of its kind (tracemark/model_kind.h, run
// on one zero input of the release's input shape), whatever its
// architecture; never against a release of another kind. An endpoint is
// tested against every release whose scheme can extract from queries (the
// scheme refuses answers of the wrong shape).
// Per release, the scheme either extracts soft bits that the core compares
// with the copies' codes (tracemark/stats.h: random codes test each licensee
// individually, BIBD codes name the decoded coalition), or — for copies with
// per-copy keys (black-box trigger sets) — counts each copy's key matches.
// Every p-value is Bonferroni-corrected over all hypotheses of all tested
// releases; a licensee is accused at p <= 1e-6. Reading the key store only.
//
// An endpoint that fails, times out, answers malformed data or exhausts the
// query budget never hangs the trace and never accuses anyone by itself:
// the releases it could not serve are listed in the notes and, when nobody
// is accused, the verdict is "inconclusive".
//
// A model file is a program its maker wrote: everything that loads or runs
// it happens in the sandboxed tracemark-sandbox process (examiner.h,
// docs/security.md), which sees the file's descriptor and, after telling the
// suspect's architecture, the keys of the releases it is tested against; the
// key store, the codes and the verdict stay here. A suspect that crashes the
// sandbox, exceeds its time or memory, or reaches for a file fails the
// trace with that reason.
#pragma once

#include <string>

#include "tracemark/base/status.h"
#include "tracemark/decide/trace_report.h"
#include "tracemark/endpoint/inference_client.h"
#include "tracemark/engine/examiner.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/store/key_store.h"

namespace tracemark {

class TraceEngine {
 public:
  // Neither pointer is owned; both must outlive the engine. In `isolation`,
  // an empty program or plugin_dir means DefaultSandboxProgram() and the
  // directory `plugins` was loaded from.
  TraceEngine(KeyStore* store, const PluginHost* plugins, sandbox::SandboxConfig isolation = {});

  // NotFound / InvalidArgument when the suspect is missing, not a regular
  // file, too large or not a model; Internal with the reason when the
  // sandbox ended it (time, memory, a crash, a forbidden call).
  // `display_name` (default: the path) names the suspect in the report and
  // in messages, so that a server's paths need not show.
  StatusOr<TraceReport> Trace(const std::string& suspect_path,
                              const std::string& display_name = "");

  // As Trace, with the model loaded and run in this process: only for models
  // the caller made itself (the lab's evaluation and benchmarks, which trace
  // thousands of their own copies and time the schemes, not the sandbox).
  // Nothing received from outside may go through it.
  StatusOr<TraceReport> TraceOwnModel(const std::string& model_path);

  // InvalidArgument for bad options. An unreachable or misbehaving endpoint
  // is not an error: the report says "inconclusive" and why.
  StatusOr<TraceReport> TraceEndpoint(const EndpointOptions& endpoint);

 private:
  // Asks `examiner` about the releases the suspect may come from (for an
  // endpoint: every release whose scheme works from queries) and decides.
  Status TraceWith(Examiner& examiner, bool endpoint, TraceReport* report);

  KeyStore* store_;
  const PluginHost* plugins_;
  sandbox::SandboxConfig isolation_;
};

}  // namespace tracemark
