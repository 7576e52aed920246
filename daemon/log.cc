#include "daemon/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "tracemark/base/text.h"

namespace tracemark::daemon {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::mutex g_mu;

const char* Name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// A value quoted when it holds spaces, quotes or '=', escaped, on one line.
std::string Quoted(const std::string& raw) {
  std::string value = Printable(ValidUtf8(raw));
  if (!value.empty() && value.find_first_of(" \"=") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  return buf;
}

}  // namespace

void SetLogLevel(const std::string& level) {
  g_level = level == "debug"   ? LogLevel::kDebug
            : level == "warn"  ? LogLevel::kWarn
            : level == "error" ? LogLevel::kError
                               : LogLevel::kInfo;
}

void Log(LogLevel level, const std::string& message, std::initializer_list<LogField> fields) {
  if (level < g_level.load()) return;
  std::string line = "ts=" + Timestamp() + " level=" + Name(level) + " msg=" + Quoted(message);
  for (const auto& [key, value] : fields) line += " " + key + "=" + Quoted(value);
  line += "\n";
  std::lock_guard<std::mutex> lock(g_mu);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace tracemark::daemon
