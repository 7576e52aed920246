// File helpers shared by the engines: hashing and atomic publication.
#pragma once

#include <string>

#include "tracemark/base/status.h"

namespace tracemark {

// Hex SHA-256 of a file's contents. IoError if it cannot be read.
StatusOr<std::string> Sha256File(const std::string& path);

// Hex SHA-256 of what remains to read from `fd` (read to its end); `name`
// is for messages. IoError if it cannot be read.
StatusOr<std::string> Sha256Fd(int fd, const std::string& name);

// Hex SHA-256 of a byte string.
std::string Sha256Hex(const std::string& bytes);

// Publishes `tmp_path` as `final_path`: fsyncs the file, renames it over
// `final_path` (atomic on one filesystem) and fsyncs the directory, so a
// reader sees either no file or the complete one, even after a crash.
Status PublishFile(const std::string& tmp_path, const std::string& final_path);

// Writes `contents` to `path` atomically (temp file beside it + PublishFile),
// with permission bits `mode` (-1: as the umask makes them).
Status WriteFileAtomically(const std::string& path, const std::string& contents, int mode = -1);

// Creates `dir` and its parents (mode 0755 unless `private_dir`: 0700).
Status MakeDirs(const std::string& dir, bool private_dir = false);

// Reads a whole file. NotFound if missing, IoError otherwise.
StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace tracemark
