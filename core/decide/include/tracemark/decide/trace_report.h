// TraceReport: the outcome of tracing one suspect model, and its JSON and
// text renderings (the CLI's `trace` output and the daemon's API share them).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tracemark/decide/verdict.h"

namespace tracemark {

// One licensee's copy in a release whose architecture matches the suspect.
struct TraceCandidate {
  std::string licensee;
  int64_t release_id = 0;
  std::string model;
  std::string version;
  std::string scheme;
  std::string code_family;
  int matches = 0;       // extracted bits agreeing with the evidence code (or keys matched)
  int bits = 0;          // bits compared (or trigger keys asked)
  double p_value = 1.0;  // Bonferroni-corrected over every hypothesis tested
  // "individual": matches against this licensee's own code;
  // "coalition": matches against the majority of the decoded colluders' codes;
  // "keys": this copy's own trigger keys answered with its labels, each
  // matching by chance with probability at most `null_probability`.
  std::string evidence = "individual";
  double null_probability = 0.5;
  bool accused = false;
};

struct TraceReport {
  std::string suspect;         // path (any bytes), or "<model> at <url>" for an endpoint
  std::string suspect_sha256;  // empty for an endpoint
  std::string architecture;    // empty for an endpoint
  // kInconclusive when nobody is accused but a release could not be tested
  // because the endpoint failed, timed out, answered malformed data or the
  // query budget ran out.
  Verdict verdict = Verdict::kNotOurs;
  std::vector<std::string> accused;        // licensee names, sorted
  std::vector<TraceCandidate> candidates;  // most significant first
  int releases_tested = 0;
  int64_t hypotheses = 0;  // the Bonferroni factor
  double threshold = 1e-6;
  std::vector<std::string> notes;  // what could not be tested and why
  double seconds = 0;
  double load_seconds = 0;
  int64_t queries = 0;   // model inputs evaluated (endpoint rows, or local forward rows)
  int64_t requests = 0;  // HTTP requests sent to an endpoint
};

// The report as JSON (names made valid UTF-8, see ValidUtf8) and as the
// CLI's text; neither throws.
nlohmann::json ToJson(const TraceReport& report);
std::string ToText(const TraceReport& report);

}  // namespace tracemark
