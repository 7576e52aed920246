// Where and how a suspect's sandbox runs: the program, the plugins it loads,
// its limits. Shared by the CLI's trace options and the daemon's config.
#pragma once

#include <cstdint>
#include <string>

#include "tracemark/sandbox/child_process.h"

namespace tracemark::sandbox {

struct SandboxConfig {
  std::string program;     // tracemark-sandbox; see DefaultSandboxProgram()
  std::string plugin_dir;  // the child loads its own copies of the plugins
  SandboxOptions limits;
  int64_t max_model_bytes = int64_t{4} << 30;  // a larger file is refused unread
};

// lib/tracemark/tracemark-sandbox beside the executable's bin/ directory.
std::string DefaultSandboxProgram();

}  // namespace tracemark::sandbox
