#include "daemon/inbox_files.h"

#include <atomic>
#include <chrono>

namespace tracemark::daemon {
namespace fs = std::filesystem;

std::string InboxDir(const DaemonConfig& config, const std::string& sub) {
  return (fs::path(config.inbox_dir) / sub).string();
}

std::string UploadsDir(const DaemonConfig& config) { return config.state_dir + "/uploads"; }

std::string KeptName(const std::string& original) {
  static std::atomic<int> counter{0};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now).count()) + "-" +
         std::to_string(counter++) + "-" + fs::path(original).filename().string();
}

InboxEntry ClassifyInboxEntry(const fs::directory_entry& entry) {
  const std::string name = entry.path().filename().string();
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (name.empty() || name[0] == '.' || ends_with(".partial") || ends_with(".tmp") ||
      name == "processing" || name == "done" || name == "failed") {
    return InboxEntry::kIgnore;
  }
  std::error_code ec;
  const fs::file_status st = entry.symlink_status(ec);  // the entry itself, not a link's target
  if (ec) return InboxEntry::kIgnore;                   // gone meanwhile
  return st.type() == fs::file_type::regular ? InboxEntry::kSuspect : InboxEntry::kRefuse;
}

const char* EntryKind(const fs::directory_entry& entry) {
  std::error_code ec;
  switch (entry.symlink_status(ec).type()) {
    case fs::file_type::symlink:
      return "symlink";
    case fs::file_type::fifo:
      return "fifo";
    case fs::file_type::directory:
      return "directory";
    case fs::file_type::socket:
      return "socket";
    case fs::file_type::block:
    case fs::file_type::character:
      return "device";
    default:
      return "file";
  }
}

Status MoveFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) return Status::IoError("cannot move " + from + " to " + to + ": " + ec.message());
  return Status::Ok();
}

StatusOr<std::string> MoveInto(const std::string& path, const std::string& dir) {
  std::string to = (fs::path(dir) / fs::path(path).filename()).string();
  TM_RETURN_IF_ERROR(MoveFile(path, to));
  return to;
}

}  // namespace tracemark::daemon
