// Status and StatusOr: how every fallible call in Tracemark reports failure.
//
// Errors never travel as exceptions across a library or plugin boundary; a
// Status carries a code and a one-line, user-facing message instead
// (docs/errors.md is the policy). Both types are [[nodiscard]]: a dropped
// result is a compile warning. Reading the value of a StatusOr that holds an
// error is a bug and aborts with the error's message, in every build.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

namespace tracemark {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,     // the caller's input is wrong (bad flag, bad file)
    kNotFound,            // a named thing does not exist
    kAlreadyExists,       // a unique thing exists already
    kFailedPrecondition,  // state does not allow the call (wrong architecture)
    kIoError,             // the environment failed (disk, network)
    kCorruption,          // stored data is damaged
    kInternal,            // a bug or an unexpected library failure
    kCancelled,           // stopped on request; nothing lost, the work can resume
    kUnavailable,         // a remote service failed, timed out, lied or ran out of budget
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
  static Status Cancelled(std::string m) { return {Code::kCancelled, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

namespace internal {
// Reports a value read from an error StatusOr (a bug) and aborts.
[[noreturn]] inline void ValueOfError(const Status& status) {
  std::fprintf(stderr, "tracemark: bug: value of a failed StatusOr: %s\n",
               status.message().c_str());
  std::abort();
}
}  // namespace internal

// Either a value or a non-OK Status. Constructing one from an OK Status is
// a bug: it becomes an Internal error.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) {
    if (status_.ok()) status_ = Status::Internal("StatusOr made from an OK status");
  }
  StatusOr(T value) : value_(std::move(value)) {}

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return Checked(); }
  const T& value() const& { return const_cast<StatusOr*>(this)->Checked(); }
  // By value, so `for (x : F().value())` does not dangle.
  T value() && { return std::move(Checked()); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &const_cast<StatusOr*>(this)->Checked(); }
  T& operator*() { return Checked(); }
  const T& operator*() const { return const_cast<StatusOr*>(this)->Checked(); }

 private:
  T& Checked() {
    if (!value_) internal::ValueOfError(status_);
    return *value_;
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace tracemark

#define TM_RETURN_IF_ERROR(expr)         \
  do {                                   \
    ::tracemark::Status _tm_st = (expr); \
    if (!_tm_st.ok()) return _tm_st;     \
  } while (0)

#define TM_CONCAT_INNER(a, b) a##b
#define TM_CONCAT(a, b) TM_CONCAT_INNER(a, b)
#define TM_ASSIGN_OR_RETURN(lhs, expr) \
  TM_ASSIGN_OR_RETURN_IMPL(TM_CONCAT(_tm_sor_, __LINE__), lhs, expr)
#define TM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
