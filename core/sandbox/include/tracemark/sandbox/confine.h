// Confinement of the sandboxed child (tracemark-sandbox) by itself, in two
// steps (docs/security.md says what each stops):
//   SetLimits  first thing in main: address space, CPU time, no core dumps,
//              no file writes (RLIMIT_FSIZE 0), few descriptors;
//   Confine    once the plugins are loaded and the suspect's bytes are read,
//              before the suspect is parsed: no new privileges, Landlock
//              with every filesystem right handled and none granted (no
//              file can be opened, read, written, made or removed, for this
//              thread and the threads it starts later), and a seccomp filter
//              on every thread that kills the process on any system call of
//              the network, of process creation or execution, of signalling
//              other processes, of mounting or of debugging, and refuses
//              every call that opens or changes a file (EACCES), recording
//              the first such attempt for FileViolation.
// Linux only. Both return IoError naming what the kernel refused; a kernel
// without Landlock leaves the seccomp filter as the only file barrier (the
// returned note says so).
#pragma once

#include <cstdint>
#include <string>

#include "tracemark/base/status.h"

namespace tracemark::sandbox {

struct ChildLimits {
  int64_t memory_bytes = int64_t{2} << 30;  // RLIMIT_AS
  int64_t cpu_seconds = 240;                // RLIMIT_CPU (a backstop of the wall clock)
};

Status SetLimits(const ChildLimits& limits);

// `landlock_note` receives a line when Landlock is unavailable.
Status Confine(std::string* landlock_note);

// Whether, since Confine, code in this process tried to open or change a
// file outside /proc and /sys; `what` is the first path it named (raw
// bytes, possibly empty).
bool FileViolation(std::string* what);

}  // namespace tracemark::sandbox
