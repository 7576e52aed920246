// tracemarkd: watches the model registry, fingerprints every release, traces
// the leaks that arrive in the inbox or through the REST API.
#include <signal.h>

#include <cstdio>
#include <string>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "daemon/log.h"
#include "tracemark/base/guarded_call.h"

namespace {

constexpr const char* kUsage =
    "usage: tracemarkd --config FILE\n"
    "  FILE is a JSON config (docs/config.md); example: configs/tracemarkd.json\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace tracemark::daemon;
  signal(SIGPIPE, SIG_IGN);
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else {
      std::fprintf(stderr, "tracemarkd: unknown argument %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto config = LoadConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "tracemarkd: %s\n", config.status().message().c_str());
    return 1;
  }
  // The last barrier (docs/errors.md): jobs and handlers catch their own.
  try {
    Daemon daemon(*config);
    tracemark::Status st = daemon.Start();
    if (!st.ok()) {
      Log(LogLevel::kError, "cannot start", {{"error", st.message()}});
      return 1;
    }
    return daemon.Run();
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "aborted", {{"error", tracemark::ExceptionLine(e)}});
    return 1;
  }
}
