// The tracemarkd configuration: a JSON object read once at start. Every key
// has a default; an unknown key or a bad value stops the daemon with a
// one-line message (see docs/config.md).
#pragma once

#include <cstdint>
#include <string>

#include "tracemark/base/status.h"
#include "tracemark/endpoint/inference_client.h"
#include "tracemark/sandbox/sandbox_config.h"

namespace tracemark::daemon {

struct DaemonConfig {
  // Directories, absolute once parsed (relative ones are resolved against
  // the directory of the config file).
  std::string registry_dir = "/var/lib/tracemark/registry";  // releases to fingerprint
  std::string state_dir = "/var/lib/tracemark/state";        // keystore.db, shared with the CLI
  std::string dist_dir = "/var/lib/tracemark/dist";          // per-licensee copies
  std::string inbox_dir = "/var/lib/tracemark/inbox";        // suspect models to trace
  std::string plugins_dir;  // "" = the plugins installed next to the binary

  std::string listen_host = "127.0.0.1";  // from "listen": "HOST:PORT"
  int listen_port = 8080;                 // 0 = any free port
  int scan_interval_seconds = 30;         // registry and inbox rescan period
  int workers = 1;                        // concurrent release/trace jobs
  int64_t max_upload_bytes = int64_t{512} << 20;
  // Uploaded suspects are deleted once their investigation ends (the
  // report keeps their SHA-256) unless this is true.
  bool keep_uploads = false;
  std::string log_level = "info";  // debug, info, warn or error
  // Bounds of one investigation of a deployed endpoint (docs/endpoint.md).
  int64_t endpoint_max_queries = 20000;  // model inputs sent
  int endpoint_timeout_seconds = 300;    // wall time of the whole trace
  int endpoint_request_timeout_seconds = 10;
  // Bounds of the sandboxed process that examines one suspect model file
  // (docs/security.md): wall-clock seconds from its start to its answer,
  // and its address space.
  int investigation_timeout_seconds = 120;
  int64_t investigation_memory_bytes = int64_t{3} << 30;
};

// Parses the text of a config file. `origin` is that file's path: every
// error message starts with it, and relative directories are resolved
// against its directory (itself made absolute against the working
// directory). Keys absent from `json_text` keep their defaults.
// InvalidArgument, with a one-line "<origin>: <key>: <reason>" message, for
// malformed JSON, a non-object top level, an unknown key, a value of the
// wrong JSON type or one out of range.
StatusOr<DaemonConfig> ParseConfig(const std::string& json_text, const std::string& origin);

// The sandbox of an investigation of a model file (plugins: the directory
// the daemon loaded).
sandbox::SandboxConfig SandboxFor(const DaemonConfig& config, const std::string& plugin_dir);

// The bounds of an investigation of the endpoint `url` serving `model`.
EndpointOptions EndpointFor(const DaemonConfig& config, const std::string& url,
                            const std::string& model);

// Reads and parses the config file at `path`. NotFound if it does not
// exist, IoError if it cannot be read, otherwise as ParseConfig.
StatusOr<DaemonConfig> LoadConfig(const std::string& path);

}  // namespace tracemark::daemon
