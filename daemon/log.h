// Structured log lines on stderr: `ts=... level=info msg="..." key=value`.
// Thread-safe; lines below the configured level are dropped.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

namespace tracemark::daemon {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// "debug", "info", "warn", "error"; anything else is info.
void SetLogLevel(const std::string& level);

using LogField = std::pair<std::string, std::string>;
void Log(LogLevel level, const std::string& message, std::initializer_list<LogField> fields = {});

}  // namespace tracemark::daemon
