#include "tracemark/sandbox/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

namespace tracemark::sandbox {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// The pids of the children not reaped yet.
std::mutex live_mu;
std::set<pid_t> live;

void Track(pid_t pid) {
  std::lock_guard<std::mutex> lock(live_mu);
  live.insert(pid);
}

std::string SecondsText(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

}  // namespace

StatusOr<std::unique_ptr<SandboxChild>> SandboxChild::Spawn(const std::string& program,
                                                            const std::vector<std::string>& args,
                                                            int input_fd,
                                                            const SandboxOptions& options) {
  if (::access(program.c_str(), X_OK) != 0) {
    return Status::FailedPrecondition("no sandbox program " + program +
                                      " (build the tracemark_sandbox_child target, or install it)");
  }
  int requests[2], replies[2];
  if (::pipe2(requests, O_CLOEXEC) != 0) return Status::IoError(Errno("sandbox pipe"));
  if (::pipe2(replies, O_CLOEXEC) != 0) {
    ::close(requests[0]);
    ::close(requests[1]);
    return Status::IoError(Errno("sandbox pipe"));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, requests[0], 0);
  posix_spawn_file_actions_adddup2(&actions, replies[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  if (input_fd >= 0) posix_spawn_file_actions_adddup2(&actions, input_fd, 3);
  // Nothing else of the parent's: no database, no socket, no upload.
  posix_spawn_file_actions_addclosefrom_np(&actions, input_fd >= 0 ? 4 : 3);
  // The child starts with the default signal dispositions and mask.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> argv_text = {program};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  argv_text.push_back("--memory-bytes=" + std::to_string(options.memory_bytes));
  argv_text.push_back("--cpu-seconds=" + std::to_string(static_cast<int64_t>(
                                             std::ceil(options.wall_seconds * 2 + 5))));
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string threads =
      "OMP_NUM_THREADS=" + std::to_string(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::string> env_text = {"PATH=/usr/bin:/bin", "MALLOC_ARENA_MAX=2", threads};
  std::vector<char*> env;
  for (auto& e : env_text) env.push_back(e.data());
  env.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(requests[0]);
  ::close(replies[1]);
  if (rc != 0) {
    ::close(requests[1]);
    ::close(replies[0]);
    return Status::IoError("cannot start the sandbox: " + std::string(std::strerror(rc)));
  }
  return std::unique_ptr<SandboxChild>(new SandboxChild(pid, requests[1], replies[0], options));
}

SandboxChild::SandboxChild(pid_t pid, int to_child, int from_child, const SandboxOptions& options)
    : pid_(pid),
      to_child_(to_child),
      from_child_(from_child),
      options_(options),
      deadline_ms_(MonotonicMs() + static_cast<int64_t>(options.wall_seconds * 1000)) {
  Track(pid);
}

void KillAllSandboxes() {
  std::lock_guard<std::mutex> lock(live_mu);
  for (pid_t pid : live) ::kill(pid, SIGKILL);
}

SandboxChild::~SandboxChild() {
  Kill();
  (void)Finish();  // reaps; the outcome was reported (or not wanted) before
  if (to_child_ >= 0) ::close(to_child_);
  if (from_child_ >= 0) ::close(from_child_);
}

void SandboxChild::Kill() {
  if (!reaped_) ::kill(pid_, SIGKILL);
}

Status SandboxChild::Send(uint32_t type, const std::string& payload) {
  Status st = WriteFrame(to_child_, type, payload);
  if (!st.ok()) return Finish();  // the child is gone: say why
  return st;
}

StatusOr<Frame> SandboxChild::Receive() {
  auto frame = ReadFrame(from_child_, options_.max_reply_bytes, deadline_ms_);
  if (frame.ok()) return frame;
  if (frame.status().code() == Status::Code::kUnavailable) {
    timed_out_ = true;
    Kill();
  } else if (frame.status().code() == Status::Code::kCorruption) {
    Kill();
    Status finished = Finish();
    return Status::Internal("the sandboxed process sent a malformed reply (" +
                            frame.status().message() + ")");
  }
  Status finished = Finish();
  return finished.ok() ? Status::Internal("the sandboxed process ended without replying")
                       : finished;
}

Status SandboxChild::Finish() {
  if (reaped_) return outcome_;
  int status = 0;
  for (;;) {
    pid_t done;
    int wait_errno = 0;
    {
      // Reaped and forgotten under one lock: KillAllSandboxes never signals
      // a pid the system may already have given to another process.
      std::lock_guard<std::mutex> lock(live_mu);
      done = ::waitpid(pid_, &status, WNOHANG);
      wait_errno = errno;
      if (done == pid_ || (done < 0 && wait_errno != EINTR)) live.erase(pid_);
    }
    if (done == pid_) break;
    if (done < 0 && wait_errno != EINTR) {
      errno = wait_errno;
      reaped_ = true;
      return outcome_ = Status::Internal(Errno("waitpid on the sandbox"));
    }
    if (MonotonicMs() >= deadline_ms_ && !timed_out_) {
      timed_out_ = true;
      Kill();
    }
    ::usleep(2000);
  }
  reaped_ = true;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !timed_out_) {
    return outcome_ = Status::Ok();
  }
  return outcome_ = Status::Internal(Reason(status));
}

std::string SandboxChild::Reason(int status) const {
  if (timed_out_) return "time limit of " + SecondsText(options_.wall_seconds) + " s";
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGSYS) return "killed by the sandbox: a forbidden system call";
    if (sig == SIGXCPU) return "CPU time limit";
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  int code = WEXITSTATUS(status);
  return "exit code " + std::to_string(code);
}

}  // namespace tracemark::sandbox
