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

// The first line of an exception's message (LibTorch appends a C++
// backtrace after it).
inline std::string ExceptionLine(const std::exception& e) {
  std::string msg = e.what();
  auto nl = msg.find('\n');
  if (nl != std::string::npos) msg.resize(nl);
  return msg;
}

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
