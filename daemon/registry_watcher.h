// RegistryWatcher: finds the registered versions that have no release yet
// and hands them to the JobRunner for planning. A manifest whose planning
// failed is not tried again while it stays as it was: it is remembered by
// path and modification time, so fixing it in place (or replacing it)
// releases it on the next scan. Each registry problem is logged once.
//
// Scan runs on the daemon's io thread; rejections arrive from workers.
// Thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/job_runner.h"

namespace tracemark {
class KeyStore;
}  // namespace tracemark

namespace tracemark::daemon {

class Metrics;

class RegistryWatcher {
 public:
  // `store` is this watcher's own connection (owned).
  RegistryWatcher(const DaemonConfig& config, JobRunner& runner, Metrics& metrics,
                  std::unique_ptr<KeyStore> store);
  ~RegistryWatcher();

  // One pass over the registry. Returns the model and version directories,
  // for the caller to watch.
  std::vector<std::string> Scan();

 private:
  // Whether the manifest at `path` was rejected as it is now.
  bool RejectedAsIs(const std::string& path, std::filesystem::file_time_type mtime);

  const DaemonConfig& config_;
  JobRunner& runner_;
  Metrics& metrics_;
  std::unique_ptr<KeyStore> store_;
  std::mutex mu_;                                                    // guards the two sets below
  std::map<std::string, std::filesystem::file_time_type> rejected_;  // manifest path -> mtime
  std::set<std::string> reported_problems_;
};

}  // namespace tracemark::daemon
