// A real tracemarkd process for end-to-end tests: temporary directories, a
// free port, a config written as JSON, and helpers for its REST API, the
// registry's publishing contract and waiting on its jobs.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_files.h"

namespace tracemark::testing {

std::string DaemonPath();  // BUILD/bin/tracemarkd

// Polls `done` every 200 ms until it holds or `limit` passes.
bool WaitFor(const std::function<bool()>& done, std::chrono::seconds limit);

// Writes `contents` under a hidden name, then renames it into place: the
// publishing contract of the registry and the inbox.
void Publish(const std::string& path, const std::string& contents);

// One tracemarkd process over the directory tree of `dir`.
class DaemonProcess {
 public:
  // `config` entries are added to (and override) the test defaults: one
  // worker, a 2 s rescan, a 4 MiB upload limit, any free port.
  explicit DaemonProcess(const TempDir& dir, const nlohmann::json& config = {});
  ~DaemonProcess() { Kill(9); }

  // Starts the daemon and waits for its "listening" line.
  void Start();
  // Sends `signal`; returns the exit status (or 128 + signal).
  int Kill(int signal);

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  httplib::Client Client() const;
  std::string log() const;  // the current run's log

 private:
  const TempDir& dir_;
  std::string log_;
  pid_t pid_ = 0;
  int port_ = 0;
  int starts_ = 0;
};

// A token of `role` made by the CLI on the daemon's state.
std::string Token(const TempDir& dir, const std::string& role);
httplib::Headers Bearer(const std::string& token);
// GET `path` as JSON; null on any error.
nlohmann::json GetJson(const DaemonProcess& d, const std::string& path, const std::string& token);

// Registers <model>/<version> (the Python MLP) with the given licensees.
void RegisterVersion(const TempDir& dir, const std::string& model, const std::string& version,
                     const std::vector<std::string>& licensees,
                     const std::string& scheme = "deepmarks");
// The first release, once done with `copies` copies (fails the test after 240 s).
nlohmann::json WaitForRelease(const DaemonProcess& d, const std::string& token, size_t copies);
// Investigation `id` once done or failed (fails the test after `limit`).
nlohmann::json WaitForInvestigation(const DaemonProcess& d, const std::string& token, int64_t id,
                                    std::chrono::seconds limit = std::chrono::seconds(120));

}  // namespace tracemark::testing
