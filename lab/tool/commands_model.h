// The lab tool's commands (arguments after the command word).
#pragma once

#include <string>
#include <vector>

#include "context.h"

namespace tracemark::cli {

int TrainCommand(Context& ctx, const std::vector<std::string>& argv);
int AttackCommand(Context& ctx, const std::vector<std::string>& argv);

}  // namespace tracemark::cli
