// Daemon: tracemarkd's composition root and event loop.
//
// It makes the parts and wires them: the JobRunner (a bounded pool of
// `workers` threads for planning, releases and investigations), the
// RegistryWatcher and InboxWatcher (run on one Boost.Asio io thread, woken
// by inotify and a periodic rescan), and the ApiService behind the REST
// HttpServer (its own threads). Every job's state lives in the database,
// so a daemon killed at any moment resumes on restart: releases still
// embedding run again from where they stopped, investigations still queued
// or running are traced again.
//
// Ownership: the Daemon owns everything it starts; Run() returns after
// SIGTERM/SIGINT once in-flight jobs reached a checkpoint.
#pragma once

#include <memory>

#include "daemon/config.h"
#include "tracemark/base/status.h"

namespace tracemark {
class PluginHost;
}  // namespace tracemark

namespace tracemark::daemon {

class ApiService;
class HttpServer;
class InboxWatcher;
class JobRunner;
class Metrics;
class RegistryWatcher;

class Daemon {
 public:
  explicit Daemon(DaemonConfig config);
  ~Daemon();

  // Creates the directories, opens the database, loads the plugins, starts
  // the REST server and queues the interrupted jobs. Errors are fatal.
  Status Start();
  // Serves until SIGTERM or SIGINT; returns the process exit code.
  int Run();

 private:
  struct Loop;  // the Boost.Asio parts, kept out of this header

  // Requeues the jobs a previous run left unfinished.
  Status ResumeUnfinished();
  void ScanAll();

  DaemonConfig config_;
  std::unique_ptr<PluginHost> plugins_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<JobRunner> runner_;
  std::unique_ptr<RegistryWatcher> registry_;
  std::unique_ptr<InboxWatcher> inbox_;
  std::unique_ptr<ApiService> api_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Loop> loop_;
  bool stopping_ = false;  // io thread only
};

}  // namespace tracemark::daemon
