// Where tracemarkd keeps suspect files, and how it names and moves them.
// Suspects are kept under a name of their own (KeptName), so two suspects
// with the same original name never collide; the original name, any bytes,
// stays in the investigation record.
#pragma once

#include <filesystem>
#include <string>

#include "daemon/config.h"
#include "tracemark/base/status.h"

namespace tracemark::daemon {

// inbox_dir/<sub>: "processing", "done" or "failed".
std::string InboxDir(const DaemonConfig& config, const std::string& sub);
// state_dir/uploads: uploaded suspects, once complete.
std::string UploadsDir(const DaemonConfig& config);

// "<utc-seconds>-<n>-<file name of original>", unique within the process.
std::string KeptName(const std::string& original);

// What the inbox does with one of its entries, judged without following a
// symbolic link or opening anything.
enum class InboxEntry {
  kIgnore,   // hidden, still being written (*.partial, *.tmp), or the inbox's own folders
  kSuspect,  // a regular file: traced
  kRefuse,   // anything else (a symlink, FIFO, directory, socket, device): moved to failed/
};
InboxEntry ClassifyInboxEntry(const std::filesystem::directory_entry& entry);
// "symlink", "fifo", "directory", "socket", "device" or "file".
const char* EntryKind(const std::filesystem::directory_entry& entry);

// Renames `from` to `to`. IoError naming both otherwise.
Status MoveFile(const std::string& from, const std::string& to);
// Renames `path` into `dir`, keeping its file name; returns the new path.
StatusOr<std::string> MoveInto(const std::string& path, const std::string& dir);

}  // namespace tracemark::daemon
