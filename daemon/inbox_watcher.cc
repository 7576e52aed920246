#include "daemon/inbox_watcher.h"

#include <chrono>
#include <filesystem>

#include "daemon/inbox_files.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "tracemark/store/daemon_store.h"

namespace tracemark::daemon {
namespace fs = std::filesystem;

InboxWatcher::InboxWatcher(const DaemonConfig& config, JobRunner& runner, Metrics& metrics,
                           std::unique_ptr<DaemonStore> store)
    : config_(config), runner_(runner), metrics_(metrics), store_(std::move(store)) {}

InboxWatcher::~InboxWatcher() = default;

void InboxWatcher::Record(const std::string& original_name, const std::string& kept_path) {
  auto id = store_->AddInvestigation(InvestigationSource::kInbox, original_name, kept_path);
  if (!id.ok()) {
    Log(LogLevel::kError, "cannot record investigation", {{"error", id.status().message()}});
    return;
  }
  Log(LogLevel::kInfo, "suspect received",
      {{"investigation", std::to_string(*id)}, {"source", "inbox"}, {"name", original_name}});
  runner_.QueueInvestigation(*id);
}

void InboxWatcher::Scan() {
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  int backlog = 0;
  for (const auto& entry : fs::directory_iterator(config_.inbox_dir, ec)) {
    const InboxEntry what = ClassifyInboxEntry(entry);
    if (what == InboxEntry::kIgnore) continue;
    if (what == InboxEntry::kRefuse) {
      // Not followed, not opened: moved aside as it is, once.
      const std::string name = entry.path().filename().string();
      const std::string kind = EntryKind(entry);
      Status moved =
          MoveFile(entry.path().string(), InboxDir(config_, "failed") + "/" + KeptName(name));
      Log(LogLevel::kWarn, "inbox entry refused",
          {{"name", name},
           {"kind", kind},
           {"error", moved.ok() ? "not a regular file; moved to failed/" : moved.message()}});
      continue;
    }
    ++backlog;
    const std::string name = entry.path().filename().string();
    const std::string kept = InboxDir(config_, "processing") + "/" + KeptName(name);
    Status moved = MoveFile(entry.path().string(), kept);
    if (!moved.ok()) {
      Log(LogLevel::kError, "cannot take suspect", {{"error", moved.message()}});
      continue;
    }
    Record(name, kept);
  }
  metrics_.SetInboxBacklog(backlog);
  metrics_.ScanFinished(
      "inbox", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void InboxWatcher::RecoverUnrecorded(const std::set<std::string>& known_paths) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(InboxDir(config_, "processing"), ec)) {
    if (!known_paths.count(entry.path().string())) {
      Record(entry.path().filename().string(), entry.path().string());
    }
  }
}

}  // namespace tracemark::daemon
