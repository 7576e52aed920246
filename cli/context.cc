#include "context.h"

#include <iostream>

#include "tracemark/file_util.h"

namespace tracemark::cli {

StatusOr<KeyStore*> Context::Store() {
  if (!store_) {
    TM_RETURN_IF_ERROR(MakeDirs(state_dir_, /*private_dir=*/true));
    TM_ASSIGN_OR_RETURN(store_, KeyStore::Open(state_dir_ + "/keystore.db"));
  }
  return store_.get();
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
  std::cerr << "tracemark: error: " << status.message() << "\n";
  return kExitError;
}

int Usage(const std::string& message) {
  std::cerr << "tracemark: " << message << " (see tracemark --help)\n";
  return kExitUsage;
}

}  // namespace tracemark::cli
