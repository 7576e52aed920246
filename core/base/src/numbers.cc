#include "tracemark/base/numbers.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace tracemark {
namespace {

// strtoll/strtod skip leading white space; the contract refuses it.
bool StartsLikeANumber(const std::string& text) {
  return !text.empty() && !std::isspace(static_cast<unsigned char>(text[0]));
}

}  // namespace

bool ParseInt(const std::string& text, int64_t* value) {
  if (!StartsLikeANumber(text)) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *value = static_cast<int64_t>(v);
  return true;
}

bool ParseDouble(const std::string& text, double* value) {
  if (!StartsLikeANumber(text)) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v)) return false;
  *value = v;
  return true;
}

}  // namespace tracemark
