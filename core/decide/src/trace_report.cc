#include "tracemark/decide/trace_report.h"

#include <cstdio>
#include <sstream>

#include "tracemark/base/text.h"

namespace tracemark {
namespace {

std::string FormatP(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", p);
  return buf;
}

}  // namespace

nlohmann::json ToJson(const TraceReport& r) {
  nlohmann::json candidates = nlohmann::json::array();
  for (const auto& c : r.candidates) {
    candidates.push_back(
        {{"licensee", c.licensee},
         {"release", {{"id", c.release_id}, {"model", c.model}, {"version", c.version}}},
         {"scheme", c.scheme},
         {"code", c.code_family},
         {"matches", c.matches},
         {"bits", c.bits},
         {"p_value", c.p_value},
         {"evidence", c.evidence},
         {"null_probability", c.null_probability},
         {"accused", c.accused}});
  }
  return {{"suspect", ValidUtf8(r.suspect)},
          {"sha256", r.suspect_sha256},
          {"architecture", r.architecture},
          {"verdict", VerdictName(r.verdict)},
          {"accused", r.accused},
          {"threshold", r.threshold},
          {"hypotheses", r.hypotheses},
          {"releases_tested", r.releases_tested},
          {"candidates", candidates},
          {"notes", r.notes},
          {"seconds", r.seconds},
          {"load_seconds", r.load_seconds},
          {"queries", r.queries},
          {"requests", r.requests}};
}

std::string ToText(const TraceReport& r) {
  std::ostringstream out;
  out << "suspect   " << Printable(ValidUtf8(r.suspect)) << "\n";
  if (!r.suspect_sha256.empty()) out << "sha256    " << r.suspect_sha256 << "\n";
  out << "verdict   " << VerdictName(r.verdict);
  if (!r.accused.empty()) {
    out << ":";
    for (const auto& name : r.accused) out << " " << name;
  }
  out << "\n"
      << "tested    " << r.releases_tested << " release(s), " << r.hypotheses
      << " hypotheses (Bonferroni), accuse at p <= " << FormatP(r.threshold) << "\n";
  if (r.queries > 0 || r.requests > 0) {
    out << "queries   " << r.queries << " model input(s)";
    if (r.requests > 0) out << " in " << r.requests << " HTTP request(s)";
    out << "\n";
  }
  if (!r.candidates.empty()) {
    char line[256];
    std::snprintf(line, sizeof line, "\n  %-20s %-10s %-14s %9s %10s  %s\n", "licensee", "scheme",
                  "release", "matches", "p-value", "");
    out << line;
    for (const auto& c : r.candidates) {
      std::string release = c.model + " " + c.version;
      std::string matches = std::to_string(c.matches) + "/" + std::to_string(c.bits) +
                            (c.evidence == "keys" ? " keys" : "");
      const char* tag = !c.accused                  ? ""
                        : c.evidence == "coalition" ? "ACCUSED (coalition)"
                                                    : "ACCUSED";
      std::snprintf(line, sizeof line, "  %-20s %-10s %-14s %9s %10s  %s\n", c.licensee.c_str(),
                    c.scheme.c_str(), release.c_str(), matches.c_str(), FormatP(c.p_value).c_str(),
                    tag);
      out << line;
    }
  }
  for (const auto& note : r.notes) out << "note: " << note << "\n";
  return out.str();
}

}  // namespace tracemark
