// TraceEngine: attributes a suspect model to licensees.
//
// Every release whose base architecture signature equals the suspect's is
// tested: its scheme extracts soft bits with the release key, and the core
// compares them with the copies' codes (tracemark/stats.h). Random codes:
// each licensee is tested individually. BIBD codes: the colluder decoder
// names the coalition and its majority code is the evidence. Every p-value
// is Bonferroni-corrected over all hypotheses of all tested releases; a
// licensee is accused at p <= 1e-6. Reading the key store only.
#pragma once

#include <string>

#include "tracemark/key_store.h"
#include "tracemark/plugin_host.h"
#include "tracemark/status.h"
#include "tracemark/trace_report.h"

namespace tracemark {

class TraceEngine {
 public:
  // Neither pointer is owned; both must outlive the engine.
  TraceEngine(KeyStore* store, const PluginHost* plugins) : store_(store), plugins_(plugins) {}

  // NotFound / InvalidArgument when the suspect is missing or not a model.
  StatusOr<TraceReport> Trace(const std::string& suspect_path);

 private:
  KeyStore* store_;
  const PluginHost* plugins_;
};

}  // namespace tracemark
