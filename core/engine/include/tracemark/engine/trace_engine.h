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
#pragma once

#include <string>

#include "tracemark/base/status.h"
#include "tracemark/decide/trace_report.h"
#include "tracemark/endpoint/inference_client.h"
#include "tracemark/engine/plugin_host.h"
#include "tracemark/store/key_store.h"

namespace tracemark {

class Suspect;
}  // namespace tracemark
namespace torch::jit {
struct Module;
}  // namespace torch::jit
namespace tracemark {

class TraceEngine {
 public:
  // Neither pointer is owned; both must outlive the engine.
  TraceEngine(KeyStore* store, const PluginHost* plugins) : store_(store), plugins_(plugins) {}

  // NotFound / InvalidArgument when the suspect is missing or not a model.
  StatusOr<TraceReport> Trace(const std::string& suspect_path);

  // InvalidArgument for bad options. An unreachable or misbehaving endpoint
  // is not an error: the report says "inconclusive" and why.
  StatusOr<TraceReport> TraceEndpoint(const EndpointOptions& endpoint);

 private:
  // Tests `suspect` against the releases `architecture` selects (empty:
  // every release whose scheme works from queries) and decides. `model`
  // (the suspect's file, null for endpoints) tells the suspect's kind.
  Status TraceSuspect(Suspect& suspect, const std::string& architecture, TraceReport* report,
                      torch::jit::Module* model = nullptr);

  KeyStore* store_;
  const PluginHost* plugins_;
};

}  // namespace tracemark
