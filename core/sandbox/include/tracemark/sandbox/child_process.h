// SandboxChild: the parent's handle on one sandboxed process, the
// tracemark-sandbox program, talking frames (wire.h) over two pipes.
//
// Spawn starts `program` with `args`, the request pipe as its stdin, the
// reply pipe as its stdout, stderr on /dev/null, `input_fd` (the suspect,
// opened read-only by the parent) as fd 3 and no other descriptor, in a
// minimal environment. Everything after that is bounded: each Receive
// waits at most until the wall-clock deadline (`wall_seconds` from Spawn),
// and Finish kills the process once the deadline has passed. The destructor
// kills and reaps a child still running, so a SandboxChild never leaks a
// process. Not thread-safe; one per job.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "tracemark/base/status.h"
#include "tracemark/sandbox/wire.h"

namespace tracemark::sandbox {

struct SandboxOptions {
  double wall_seconds = 120;                // the whole job, from spawn to exit
  int64_t memory_bytes = int64_t{2} << 30;  // the child's address space
  size_t max_reply_bytes = 64 << 20;        // one reply frame
};

class SandboxChild {
 public:
  static StatusOr<std::unique_ptr<SandboxChild>> Spawn(const std::string& program,
                                                       const std::vector<std::string>& args,
                                                       int input_fd, const SandboxOptions& options);
  ~SandboxChild();
  SandboxChild(const SandboxChild&) = delete;
  SandboxChild& operator=(const SandboxChild&) = delete;

  Status Send(uint32_t type, const std::string& payload);
  // The next reply. When the child fails instead (dies, runs out of time,
  // sends garbage), the Status says how, as Finish would.
  StatusOr<Frame> Receive();
  // Waits for the child to exit (killing it at the deadline) and returns
  // Ok for exit code 0, else Internal with the reason: "time limit of 10 s",
  // "killed by signal 11 (Segmentation fault)", "memory limit of 2048 MiB",
  // "killed by the sandbox: a forbidden system call", "exit code 3".
  Status Finish();
  // Kills the child at once (idempotent); Finish then reaps it.
  void Kill();

 private:
  SandboxChild(pid_t pid, int to_child, int from_child, const SandboxOptions& options);
  // The reason the child ended, from its wait status.
  std::string Reason(int wait_status) const;

  pid_t pid_;
  int to_child_;
  int from_child_;
  SandboxOptions options_;
  int64_t deadline_ms_;
  bool timed_out_ = false;
  bool reaped_ = false;
  Status outcome_;
};

// Kills every sandboxed process of this process that is still running (for
// a daemon that stops: their jobs resume at the next start). Thread-safe.
void KillAllSandboxes();

}  // namespace tracemark::sandbox
