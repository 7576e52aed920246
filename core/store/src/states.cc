#include "tracemark/store/states.h"

#include <iterator>

namespace tracemark {
namespace {

// One name table per enum, indexed by the enumerator's value.
constexpr const char* kReleaseStatus[] = {"embedding", "done", "failed"};
constexpr const char* kCopyStatus[] = {"pending", "done", "failed"};
constexpr const char* kInvestigationStatus[] = {"queued", "running", "done", "failed"};
constexpr const char* kInvestigationSource[] = {"inbox", "upload", "endpoint"};

template <typename Enum, size_t N>
bool ParseIn(const char* const (&names)[N], const std::string& name, Enum* value) {
  for (size_t i = 0; i < N; ++i) {
    if (name == names[i]) {
      *value = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

const char* Name(ReleaseStatus s) { return kReleaseStatus[static_cast<int>(s)]; }
const char* Name(CopyStatus s) { return kCopyStatus[static_cast<int>(s)]; }
const char* Name(InvestigationStatus s) { return kInvestigationStatus[static_cast<int>(s)]; }
const char* Name(InvestigationSource s) { return kInvestigationSource[static_cast<int>(s)]; }

bool Parse(const std::string& n, ReleaseStatus* s) { return ParseIn(kReleaseStatus, n, s); }
bool Parse(const std::string& n, CopyStatus* s) { return ParseIn(kCopyStatus, n, s); }
bool Parse(const std::string& n, InvestigationStatus* s) {
  return ParseIn(kInvestigationStatus, n, s);
}
bool Parse(const std::string& n, InvestigationSource* s) {
  return ParseIn(kInvestigationSource, n, s);
}

}  // namespace tracemark
