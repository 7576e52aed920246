// Parameter handling shared by the schemes and the release engine: defaults,
// unknown names and typed, range-checked reads, each with a one-line error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tracemark/base/status.h"
#include "tracemark/sdk/scheme.h"

namespace tracemark {

// effective = defaults of `specs` overridden by `given`. InvalidArgument for
// a name not in `specs` (the message lists the valid names).
Status FillDefaults(const std::vector<ParamSpec>& specs, const SchemeParams& given,
                    SchemeParams* effective);

// Typed reads of an effective parameter; InvalidArgument for a missing
// name, a malformed number or one outside [min, max].
StatusOr<double> GetDouble(const SchemeParams& params, const std::string& name, double min,
                           double max);
StatusOr<int64_t> GetInt(const SchemeParams& params, const std::string& name, int64_t min,
                         int64_t max);

// Parses "key=value" into `params`. InvalidArgument when '=' or the key is missing.
Status ParseSetting(const std::string& text, SchemeParams* params);

}  // namespace tracemark
