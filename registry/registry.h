// Registry: where tracemarkd learns about new model releases. One interface
// so that registries other than the filesystem (MLflow next) can follow.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace tracemark::registry {

// One release found in a registry: a base model and what to do with it.
struct RegisteredVersion {
  std::string model;                   // model name (a KeyStore::ValidateName name)
  std::string version;                 // version name (ditto)
  std::string model_path;              // the base model, a TorchScript file
  std::string manifest_path;           // where the release was described
  std::string scheme;                  // fingerprinting scheme (plugin name)
  std::vector<std::string> licensees;  // unique, valid names; at least one
  std::string data;                    // dataset spec, used as given
  // Scheme parameters; JSON strings, numbers and booleans in string form.
  std::map<std::string, std::string> params;
};

class Registry {
 public:
  virtual ~Registry() = default;

  // A one-line description for logs, e.g. "filesystem registry /srv/models".
  virtual std::string Describe() const = 0;

  // Lists every complete, valid version, sorted by (model, version).
  // Versions still being written are skipped silently; invalid ones are
  // skipped and described in `problems` (one line each, appended; may be
  // null). A non-OK Status means the registry itself could not be read.
  virtual StatusOr<std::vector<RegisteredVersion>> Scan(std::vector<std::string>* problems) = 0;
};

}  // namespace tracemark::registry
