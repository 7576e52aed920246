// The JSON description of a scheme (capabilities and parameters), shared by
// `tracemark schemes --json` and the daemon's GET /v1/schemes.
#pragma once

#include <nlohmann/json.hpp>

#include "tracemark/sdk/scheme.h"

namespace tracemark {

nlohmann::json SchemeInfoJson(const SchemeInfo& info);

}  // namespace tracemark
