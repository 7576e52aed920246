#include "tracemark/sandbox/sandbox_config.h"

#include <filesystem>

namespace tracemark::sandbox {

std::string DefaultSandboxProgram() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "tracemark-sandbox";
  return (exe.parent_path().parent_path() / "lib/tracemark/tracemark-sandbox").string();
}

}  // namespace tracemark::sandbox
