#include "tracemark/sandbox/confine.h"

#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace tracemark::sandbox {
namespace {

Status Errno(const std::string& what) {
  return Status::IoError("sandbox: " + what + ": " + std::strerror(errno));
}

Status Limit(int resource, rlim_t value, const char* name) {
  rlimit limit{value, value};
  if (setrlimit(resource, &limit) != 0) return Errno(std::string("setrlimit ") + name);
  return Status::Ok();
}

// Landlock: handle every filesystem right this kernel knows, grant none.
Status DenyAllFiles(std::string* note) {
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1) {
    *note = "Landlock is not available on this kernel; seccomp alone keeps files closed";
    return Status::Ok();
  }
  landlock_ruleset_attr attr{};
  attr.handled_access_fs =
      LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
      LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
      LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
      LANDLOCK_ACCESS_FS_MAKE_SYM;
#ifdef LANDLOCK_ACCESS_FS_REFER
  if (abi >= 2) attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
  if (abi >= 3) attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
  int ruleset = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
  if (ruleset < 0) return Errno("landlock_create_ruleset");
  long rc = syscall(SYS_landlock_restrict_self, ruleset, 0);
  close(ruleset);
  if (rc != 0) return Errno("landlock_restrict_self");
  return Status::Ok();
}

// System calls a model never needs; any of them kills the process.
constexpr int kForbidden[] = {
    // network
    SCMP_SYS(socket),
    SCMP_SYS(socketpair),
    SCMP_SYS(connect),
    SCMP_SYS(bind),
    SCMP_SYS(listen),
    SCMP_SYS(accept),
    SCMP_SYS(accept4),
    SCMP_SYS(sendmsg),
    SCMP_SYS(sendmmsg),
    SCMP_SYS(recvmsg),
    SCMP_SYS(recvmmsg),
    // new programs and processes (threads use clone with CLONE_THREAD)
    SCMP_SYS(execve),
    SCMP_SYS(execveat),
    SCMP_SYS(fork),
    SCMP_SYS(vfork),
    // other processes
    SCMP_SYS(ptrace),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev),
    SCMP_SYS(tkill),
    SCMP_SYS(pidfd_open),
    SCMP_SYS(pidfd_send_signal),
    SCMP_SYS(pidfd_getfd),
    // the system
    SCMP_SYS(mount),
    SCMP_SYS(umount2),
    SCMP_SYS(pivot_root),
    SCMP_SYS(swapon),
    SCMP_SYS(swapoff),
    SCMP_SYS(reboot),
    SCMP_SYS(kexec_load),
    SCMP_SYS(init_module),
    SCMP_SYS(finit_module),
    SCMP_SYS(delete_module),
    SCMP_SYS(setns),
    SCMP_SYS(unshare),
    SCMP_SYS(bpf),
    SCMP_SYS(perf_event_open),
    SCMP_SYS(keyctl),
    SCMP_SYS(add_key),
    SCMP_SYS(request_key),
    SCMP_SYS(userfaultfd),
    SCMP_SYS(io_uring_setup),
    SCMP_SYS(io_uring_enter),
    SCMP_SYS(io_uring_register),
    SCMP_SYS(setuid),
    SCMP_SYS(setgid),
    SCMP_SYS(setreuid),
    SCMP_SYS(setregid),
    SCMP_SYS(setresuid),
    SCMP_SYS(setresgid),
};

// System calls on files: refused with EACCES (ENOENT under /proc and /sys,
// which LibTorch's threads may read) and recorded as a violation, so that
// the trace can fail with what the suspect tried (see FileViolation).
constexpr int kFileCalls[] = {
    SCMP_SYS(open),
    SCMP_SYS(openat),
    SCMP_SYS(openat2),
    SCMP_SYS(creat),
    SCMP_SYS(open_by_handle_at),
    SCMP_SYS(name_to_handle_at),
    SCMP_SYS(mkdir),
    SCMP_SYS(mkdirat),
    SCMP_SYS(mknod),
    SCMP_SYS(mknodat),
    SCMP_SYS(unlink),
    SCMP_SYS(unlinkat),
    SCMP_SYS(rmdir),
    SCMP_SYS(rename),
    SCMP_SYS(renameat),
    SCMP_SYS(renameat2),
    SCMP_SYS(link),
    SCMP_SYS(linkat),
    SCMP_SYS(symlink),
    SCMP_SYS(symlinkat),
    SCMP_SYS(chmod),
    SCMP_SYS(fchmod),
    SCMP_SYS(fchmodat),
    SCMP_SYS(chown),
    SCMP_SYS(fchown),
    SCMP_SYS(lchown),
    SCMP_SYS(fchownat),
    SCMP_SYS(truncate),
    SCMP_SYS(ftruncate),
    SCMP_SYS(chdir),
    SCMP_SYS(fchdir),
    SCMP_SYS(chroot),
    SCMP_SYS(inotify_init),
    SCMP_SYS(inotify_init1),
    SCMP_SYS(fanotify_init),
};

std::atomic<int> violations{0};
char violation_text[256];  // written once, by the first violating thread

// Copies at most `size` - 1 bytes of the NUL-terminated string at `address`.
void CopyPath(const char* address, char* out, size_t size) {
  size_t i = 0;
  if (address != nullptr) {
    for (; i + 1 < size && address[i] != '\0'; ++i) out[i] = address[i];
  }
  out[i] = '\0';
}

// The SIGSYS handler of kFileCalls (async-signal-safe: no allocation).
void OnFileCall(int, siginfo_t* info, void* context) {
#if defined(__x86_64__)
  auto* uc = static_cast<ucontext_t*>(context);
  greg_t* regs = uc->uc_mcontext.gregs;
  const int call = info->si_syscall;
  const char* path = nullptr;
  if (call == SYS_open || call == SYS_creat || call == SYS_mkdir || call == SYS_unlink ||
      call == SYS_rmdir || call == SYS_chmod || call == SYS_truncate || call == SYS_chdir) {
    path = reinterpret_cast<const char*>(regs[REG_RDI]);
  } else if (call == SYS_openat || call == SYS_openat2 || call == SYS_mkdirat ||
             call == SYS_unlinkat || call == SYS_fchmodat) {
    path = reinterpret_cast<const char*>(regs[REG_RSI]);
  }
  char seen[sizeof violation_text];
  CopyPath(path, seen, sizeof seen);
  const bool system_info =
      std::strncmp(seen, "/proc/", 6) == 0 || std::strncmp(seen, "/sys/", 5) == 0;
  if (!system_info && violations.fetch_add(1) == 0) {
    std::memcpy(violation_text, seen, sizeof seen);
  }
  regs[REG_RAX] = system_info ? -ENOENT : -EACCES;
#else
  (void)info, (void)context;
  _exit(125);  // no way to return an error here: end the process
#endif
}

Status InstallSeccomp() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return Status::IoError("sandbox: seccomp_init failed");
  auto fail = [&](const char* what, int rc) {
    seccomp_release(ctx);
    return Status::IoError(std::string("sandbox: ") + what + ": " + std::strerror(-rc));
  };
  for (int call : kForbidden) {
    int rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, call, 0);
    if (rc != 0 && rc != -EFAULT) return fail("seccomp_rule_add", rc);  // EFAULT: unknown here
  }
  for (int call : kFileCalls) {
    int rc = seccomp_rule_add(ctx, SCMP_ACT_TRAP, call, 0);
    if (rc != 0 && rc != -EFAULT) return fail("seccomp_rule_add", rc);
  }
  // Every thread, those LibTorch already started included.
  int tsync = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  if (tsync != 0) return fail("seccomp thread sync", tsync);
  // Signals only to itself: kill(pid) and tgkill(tgid, ...) with another id die.
  const scmp_datum_t self = static_cast<scmp_datum_t>(getpid());
  int rc =
      seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_NE, self));
  if (rc != 0) return fail("seccomp kill rule", rc);
  rc =
      seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_NE, self));
  if (rc != 0) return fail("seccomp tgkill rule", rc);
  // Threads only: clone without CLONE_THREAD would be a new process.
  rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1,
                        SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
  if (rc != 0) return fail("seccomp clone rule", rc);
  // clone3 hides its flags in memory a filter cannot read: refuse it with
  // ENOSYS, and glibc falls back to clone, which the rule above checks.
  rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc != 0 && rc != -EFAULT) return fail("seccomp clone3 rule", rc);
  rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) return Status::IoError(std::string("sandbox: seccomp_load: ") + std::strerror(-rc));
  return Status::Ok();
}

}  // namespace

Status SetLimits(const ChildLimits& limits) {
  TM_RETURN_IF_ERROR(Limit(RLIMIT_AS, static_cast<rlim_t>(limits.memory_bytes), "AS"));
  TM_RETURN_IF_ERROR(Limit(RLIMIT_CPU, static_cast<rlim_t>(limits.cpu_seconds), "CPU"));
  TM_RETURN_IF_ERROR(Limit(RLIMIT_CORE, 0, "CORE"));
  TM_RETURN_IF_ERROR(Limit(RLIMIT_FSIZE, 0, "FSIZE"));
  return Status::Ok();
}

Status Confine(std::string* landlock_note) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Errno("no_new_privs");
  struct sigaction action {};
  action.sa_sigaction = OnFileCall;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSYS, &action, nullptr) != 0) return Errno("sigaction SIGSYS");
  TM_RETURN_IF_ERROR(DenyAllFiles(landlock_note));
  return InstallSeccomp();
}

bool FileViolation(std::string* what) {
  if (violations.load() == 0) return false;
  *what = violation_text;
  return true;
}

}  // namespace tracemark::sandbox
