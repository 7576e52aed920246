#include "daemon/config.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tracemark/base/file_util.h"
#include "tracemark/base/numbers.h"
#include "tracemark/base/text.h"

namespace tracemark::daemon {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kGiB = int64_t{1} << 30;

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The config file being read: names it in messages, anchors relative paths.
struct Source {
  std::string origin;
  fs::path base_dir;

  Status Error(const std::string& key, const std::string& reason) const {
    return Status::InvalidArgument(Printable(origin + ": " + key + ": " + reason));
  }
};

// One key of the config and its value.
struct Entry {
  const Source& source;
  const std::string& key;
  const json& value;

  Status Error(const std::string& reason) const { return source.Error(key, reason); }
};

Status ReadString(const Entry& e, std::string* out) {
  if (!e.value.is_string()) return e.Error("must be a string, got " + ShownJson(e.value));
  *out = e.value.get<std::string>();
  return Status::Ok();
}

Status ReadBool(const Entry& e, bool* out) {
  if (!e.value.is_boolean()) return e.Error("must be true or false, got " + ShownJson(e.value));
  *out = e.value.get<bool>();
  return Status::Ok();
}

enum class IfEmpty { kReject, kAllow };

// A directory, made absolute against the config file's directory.
Status ReadDir(const Entry& e, IfEmpty if_empty, std::string* out) {
  std::string dir;
  TM_RETURN_IF_ERROR(ReadString(e, &dir));
  if (dir.empty() && if_empty == IfEmpty::kReject) return e.Error("must not be empty");
  *out = dir.empty() ? dir : (e.source.base_dir / dir).lexically_normal().string();
  return Status::Ok();
}

// A JSON integer in [min, max] (floats, strings and booleans are refused).
template <typename T>
Status ReadInt(const Entry& e, int64_t min, int64_t max, T* out) {
  if (!e.value.is_number_integer()) return e.Error("must be an integer, got " + ShownJson(e.value));
  int64_t n = 0;
  bool fits = true;
  if (e.value.is_number_unsigned()) {
    auto u = e.value.get<uint64_t>();
    fits = u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    n = static_cast<int64_t>(u);
  } else {
    n = e.value.get<int64_t>();
  }
  if (!fits || n < min || n > max) {
    return e.Error("must be between " + std::to_string(min) + " and " + std::to_string(max) +
                   ", got " + ShownJson(e.value));
  }
  *out = static_cast<T>(n);
  return Status::Ok();
}

// "HOST:PORT" or "[IPv6]:PORT" with PORT 0..65535.
Status ReadListen(const Entry& e, DaemonConfig* config) {
  std::string text;
  TM_RETURN_IF_ERROR(ReadString(e, &text));
  const Status bad =
      e.Error("must be HOST:PORT with PORT 0..65535 (0 picks a free port), got '" + text + "'");
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return bad;
  std::string host = text.substr(0, colon);
  std::string port = text.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of("[]:") != std::string::npos) {
    return bad;
  }
  int64_t port_number = 0;
  if (host.empty() || port.find_first_not_of("0123456789") != std::string::npos ||
      !ParseInt(port, &port_number) || port_number > 65535) {
    return bad;
  }
  config->listen_host = host;
  config->listen_port = static_cast<int>(port_number);
  return Status::Ok();
}

Status ReadLogLevel(const Entry& e, std::string* out) {
  static const std::vector<std::string> kLevels = {"debug", "info", "warn", "error"};
  std::string level;
  TM_RETURN_IF_ERROR(ReadString(e, &level));
  if (std::find(kLevels.begin(), kLevels.end(), level) == kLevels.end()) {
    return e.Error("must be one of " + Join(kLevels) + ", got '" + level + "'");
  }
  *out = level;
  return Status::Ok();
}

// Every key the config accepts and how its value is read.
struct Field {
  const char* key;
  Status (*read)(const Entry&, DaemonConfig*);
};

constexpr Field kFields[] = {
    {"registry_dir",
     [](const Entry& e, DaemonConfig* c) {
       return ReadDir(e, IfEmpty::kReject, &c->registry_dir);
     }},
    {"state_dir",
     [](const Entry& e, DaemonConfig* c) { return ReadDir(e, IfEmpty::kReject, &c->state_dir); }},
    {"dist_dir",
     [](const Entry& e, DaemonConfig* c) { return ReadDir(e, IfEmpty::kReject, &c->dist_dir); }},
    {"inbox_dir",
     [](const Entry& e, DaemonConfig* c) { return ReadDir(e, IfEmpty::kReject, &c->inbox_dir); }},
    {"plugins_dir",
     [](const Entry& e, DaemonConfig* c) { return ReadDir(e, IfEmpty::kAllow, &c->plugins_dir); }},
    {"listen", ReadListen},
    {"scan_interval_seconds",
     [](const Entry& e, DaemonConfig* c) {
       return ReadInt(e, 1, 86400, &c->scan_interval_seconds);
     }},
    {"workers", [](const Entry& e, DaemonConfig* c) { return ReadInt(e, 1, 64, &c->workers); }},
    {"max_upload_bytes",
     [](const Entry& e, DaemonConfig* c) {
       return ReadInt(e, 1024, 64 * kGiB, &c->max_upload_bytes);
     }},
    {"log_level", [](const Entry& e, DaemonConfig* c) { return ReadLogLevel(e, &c->log_level); }},
    {"endpoint_max_queries",
     [](const Entry& e, DaemonConfig* c) {
       return ReadInt(e, 1, 10000000, &c->endpoint_max_queries);
     }},
    {"endpoint_timeout_seconds",
     [](const Entry& e, DaemonConfig* c) {
       return ReadInt(e, 1, 86400, &c->endpoint_timeout_seconds);
     }},
    {"keep_uploads", [](const Entry& e, DaemonConfig* c) { return ReadBool(e, &c->keep_uploads); }},
    {"investigation_timeout_seconds",
     [](const Entry& e, DaemonConfig* c) {
       return ReadInt(e, 1, 86400, &c->investigation_timeout_seconds);
     }},
    {"investigation_memory_bytes",
     [](const Entry& e, DaemonConfig* c) {
       return ReadInt(e, int64_t{256} << 20, 1024 * kGiB, &c->investigation_memory_bytes);
     }},
    {"endpoint_request_timeout_seconds",
     [](const Entry& e, DaemonConfig* c) {
       return ReadInt(e, 1, 600, &c->endpoint_request_timeout_seconds);
     }},
};

const Field* FindField(const std::string& key) {
  for (const Field& field : kFields) {
    if (key == field.key) return &field;
  }
  return nullptr;
}

std::string ValidKeys() {
  std::vector<std::string> keys;
  for (const Field& field : kFields) keys.push_back(field.key);
  std::sort(keys.begin(), keys.end());
  return Join(keys);
}

StatusOr<json> ParseJson(const std::string& text, const std::string& origin) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(Printable(origin + ": invalid JSON: " + e.what()));
  }
}

// The directory of the config file, absolute.
fs::path ConfigDir(const std::string& origin) {
  std::error_code ec;
  fs::path path = fs::absolute(origin, ec);
  return (ec ? fs::path(origin) : path).parent_path();
}

}  // namespace

StatusOr<DaemonConfig> ParseConfig(const std::string& json_text, const std::string& origin) {
  TM_ASSIGN_OR_RETURN(json root, ParseJson(json_text, origin));
  if (!root.is_object()) {
    return Status::InvalidArgument(
        Printable(origin + ": the configuration must be a JSON object, got " + ShownJson(root)));
  }
  const Source source{origin, ConfigDir(origin)};
  DaemonConfig config;
  for (const auto& item : root.items()) {
    const Field* field = FindField(item.key());
    if (field == nullptr) {
      return source.Error(item.key(), "unknown key; valid keys are " + ValidKeys());
    }
    TM_RETURN_IF_ERROR(field->read(Entry{source, item.key(), item.value()}, &config));
  }
  return config;
}

StatusOr<DaemonConfig> LoadConfig(const std::string& path) {
  StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    if (text.status().code() == Status::Code::kNotFound) {
      return Status::NotFound(Printable(path + ": no such config file"));
    }
    return text.status().WithContext(Printable(path));
  }
  return ParseConfig(*text, path);
}

sandbox::SandboxConfig SandboxFor(const DaemonConfig& config, const std::string& plugin_dir) {
  sandbox::SandboxConfig isolation;
  isolation.program = sandbox::DefaultSandboxProgram();
  isolation.plugin_dir = plugin_dir;
  isolation.limits.wall_seconds = config.investigation_timeout_seconds;
  isolation.limits.memory_bytes = config.investigation_memory_bytes;
  isolation.max_model_bytes = config.max_upload_bytes;
  return isolation;
}

EndpointOptions EndpointFor(const DaemonConfig& config, const std::string& url,
                            const std::string& model) {
  EndpointOptions options;
  options.url = url;
  options.model = model;
  options.max_queries = config.endpoint_max_queries;
  options.deadline_seconds = config.endpoint_timeout_seconds;
  options.request_timeout_seconds = config.endpoint_request_timeout_seconds;
  return options;
}

}  // namespace tracemark::daemon
