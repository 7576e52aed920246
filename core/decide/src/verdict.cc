#include "tracemark/decide/verdict.h"

namespace tracemark {

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAttributed:
      return "attributed";
    case Verdict::kCollusion:
      return "collusion";
    case Verdict::kNotOurs:
      return "not-ours";
    case Verdict::kInconclusive:
      return "inconclusive";
  }
  return "not-ours";
}

bool ParseVerdict(const std::string& name, Verdict* verdict) {
  for (Verdict v : kAllVerdicts) {
    if (name == VerdictName(v)) {
      *verdict = v;
      return true;
    }
  }
  return false;
}

}  // namespace tracemark
