// InboxWatcher: takes the suspects renamed into inbox_dir. Each regular
// file (inbox_files.h) is moved to processing/ under a name of its own,
// recorded as a queued investigation and handed to the JobRunner; the
// runner moves it to done/ or failed/ when the investigation ends. Any other
// entry — a symbolic link (never followed), a FIFO, a directory, a socket,
// a device — is moved to failed/ unopened, with a log line.
//
// Runs on the daemon's io thread only (not thread-safe).
#pragma once

#include <memory>
#include <set>
#include <string>

#include "daemon/config.h"
#include "daemon/job_runner.h"

namespace tracemark {
class DaemonStore;
}  // namespace tracemark

namespace tracemark::daemon {

class Metrics;

class InboxWatcher {
 public:
  // `store` is this watcher's own connection (owned).
  InboxWatcher(const DaemonConfig& config, JobRunner& runner, Metrics& metrics,
               std::unique_ptr<DaemonStore> store);
  ~InboxWatcher();

  // One pass over the inbox; sets the inbox backlog gauge.
  void Scan();
  // Records the suspects a crash left in processing/ without a record
  // (`known_paths` are the paths investigations already hold). At start.
  void RecoverUnrecorded(const std::set<std::string>& known_paths);

 private:
  void Record(const std::string& original_name, const std::string& kept_path);

  const DaemonConfig& config_;
  JobRunner& runner_;
  Metrics& metrics_;
  std::unique_ptr<DaemonStore> store_;
};

}  // namespace tracemark::daemon
