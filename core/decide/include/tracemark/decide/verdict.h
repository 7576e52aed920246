// The verdict of a trace, with the one table of its names (the key store,
// the JSON report, the API, the metrics and the CLI's exit codes use it).
#pragma once

#include <string>

namespace tracemark {

enum class Verdict {
  kAttributed,    // one licensee accused
  kCollusion,     // several licensees accused together
  kNotOurs,       // nobody accused, every matching release tested
  kInconclusive,  // nobody accused, but a release could not be tested (an endpoint failed)
};

inline constexpr Verdict kAllVerdicts[] = {Verdict::kAttributed, Verdict::kCollusion,
                                           Verdict::kNotOurs, Verdict::kInconclusive};

// "attributed", "collusion", "not-ours", "inconclusive".
const char* VerdictName(Verdict verdict);
// The verdict named `name`; false for another name.
bool ParseVerdict(const std::string& name, Verdict* verdict);

}  // namespace tracemark
