// GuardedCall: the exception barrier (docs/errors.md). Code that calls into
// LibTorch or other throwing libraries runs inside one at every entry point
// (each Scheme method, each engine entry point, each daemon job), so that no
// exception crosses a library, plugin or thread boundary.
#pragma once

#include <exception>
#include <new>
#include <string>

#include "tracemark/base/status.h"

namespace tracemark {

// The one line of a library's error message that says what failed: the
// first (LibTorch appends a C++ backtrace after it), except for errors of
// the TorchScript interpreter, which put the failing operation's own error
// last, after the script's traceback.
inline std::string MessageLine(const std::string& text) {
  static const char kInterpreter[] =
      "The following operation failed in the TorchScript interpreter";
  if (text.rfind(kInterpreter, 0) == 0) {
    size_t end = text.find_last_not_of("\n ");
    if (end != std::string::npos) {
      size_t start = text.rfind('\n', end);
      return text.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start + 1));
    }
  }
  return text.substr(0, text.find('\n'));
}

inline std::string ExceptionLine(const std::exception& e) { return MessageLine(e.what()); }

// Runs `body` (returning Status or StatusOr<T>), turning any exception into
// Status::Internal with `what` as context.
template <typename Body>
auto GuardedCall(const char* what, Body&& body) noexcept -> decltype(body()) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Status::Internal(std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + ": " + ExceptionLine(e));
  } catch (...) {
    return Status::Internal(std::string(what) + ": unknown exception");
  }
}

}  // namespace tracemark
