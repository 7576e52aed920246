#include "context.h"

#include <errno.h>  // program_invocation_short_name (glibc)

#include <iostream>

#include "tracemark/base/file_util.h"

namespace tracemark::cli {

StatusOr<KeyStore*> Context::Store() {
  if (!store_) {
    TM_RETURN_IF_ERROR(MakeDirs(state_dir_, /*private_dir=*/true));
    TM_ASSIGN_OR_RETURN(store_, KeyStore::Open(state_dir_ + "/keystore.db"));
  }
  return store_.get();
}

StatusOr<DaemonStore*> Context::Daemon() {
  if (!daemon_) {
    TM_RETURN_IF_ERROR(MakeDirs(state_dir_, /*private_dir=*/true));
    TM_ASSIGN_OR_RETURN(daemon_, DaemonStore::Open(state_dir_ + "/keystore.db"));
  }
  return daemon_.get();
}

StatusOr<const PluginHost*> Context::Plugins() {
  if (!plugins_) {
    auto host = std::make_unique<PluginHost>();
    TM_RETURN_IF_ERROR(host->LoadDirectory(plugins_dir_));
    for (const auto& refused : host->refused()) {
      std::cerr << "tracemark: warning: " << refused.reason << "\n";
    }
    plugins_ = std::move(host);
  }
  return static_cast<const PluginHost*>(plugins_.get());
}

int Fail(const Status& status) {
  std::cerr << program_invocation_short_name << ": error: " << status.message() << "\n";
  return kExitError;
}

int Usage(const std::string& message) {
  std::cerr << program_invocation_short_name << ": " << message << " (see "
            << program_invocation_short_name << " --help)\n";
  return kExitUsage;
}

}  // namespace tracemark::cli
