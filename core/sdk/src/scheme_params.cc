#include "tracemark/sdk/scheme_params.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "tracemark/base/numbers.h"

namespace tracemark {
namespace {

StatusOr<std::string> Get(const SchemeParams& params, const std::string& name) {
  auto it = params.find(name);
  if (it == params.end()) return Status::InvalidArgument("missing parameter '" + name + "'");
  return it->second;
}

template <typename T>
Status CheckRange(const std::string& name, const std::string& text, T value, T min, T max) {
  if (value < min || value > max) {
    return Status::InvalidArgument("parameter " + name + "=" + text + " is outside [" +
                                   std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return Status::Ok();
}

}  // namespace

Status FillDefaults(const std::vector<ParamSpec>& specs, const SchemeParams& given,
                    SchemeParams* effective) {
  effective->clear();
  for (const auto& spec : specs) (*effective)[spec.name] = spec.default_value;
  for (const auto& [name, value] : given) {
    if (!effective->count(name)) {
      std::string valid;
      for (const auto& spec : specs) valid += (valid.empty() ? "" : ", ") + spec.name;
      return Status::InvalidArgument("unknown parameter '" + name + "' (valid: " + valid + ")");
    }
    (*effective)[name] = value;
  }
  return Status::Ok();
}

StatusOr<double> GetDouble(const SchemeParams& params, const std::string& name, double min,
                           double max) {
  TM_ASSIGN_OR_RETURN(std::string text, Get(params, name));
  double value = 0;
  if (!ParseDouble(text, &value)) {
    return Status::InvalidArgument("parameter " + name + "=" + text + " is not a number");
  }
  TM_RETURN_IF_ERROR(CheckRange(name, text, value, min, max));
  return value;
}

StatusOr<int64_t> GetInt(const SchemeParams& params, const std::string& name, int64_t min,
                         int64_t max) {
  TM_ASSIGN_OR_RETURN(std::string text, Get(params, name));
  int64_t value = 0;
  if (!ParseInt(text, &value)) {
    return Status::InvalidArgument("parameter " + name + "=" + text + " is not an integer");
  }
  TM_RETURN_IF_ERROR(CheckRange<int64_t>(name, text, value, min, max));
  return static_cast<int64_t>(value);
}

Status ParseSetting(const std::string& text, SchemeParams* params) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Status::InvalidArgument("bad setting '" + text + "' (expected key=value)");
  }
  (*params)[text.substr(0, eq)] = text.substr(eq + 1);
  return Status::Ok();
}

}  // namespace tracemark
