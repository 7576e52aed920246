// PluginHost: loads scheme plugins (shared libraries) and owns them.
//
// Each library is checked before any of its code beyond the entry function
// runs: the descriptor's magic, the ABI version and the LibTorch version must
// equal the host's. A library that fails is refused with a reason and never
// used; the others still load. Schemes are destroyed through their own
// library's `destroy` before the library is closed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tracemark/base/status.h"
#include "tracemark/sdk/scheme.h"

namespace tracemark {

struct RefusedPlugin {
  std::string path;
  std::string reason;
};

class PluginHost {
 public:
  PluginHost();
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // The LibTorch version this host was built with (plugins must match).
  static const char* TorchVersion();

  // Loads one library. InvalidArgument (with the reason) when it is not a
  // compatible Tracemark scheme plugin; AlreadyExists for a duplicate name.
  Status Load(const std::string& path);

  // Loads every `*.so` in `dir`, recording refusals in refused(). NotFound
  // when `dir` does not exist.
  Status LoadDirectory(const std::string& dir);

  // NotFound, listing the loaded schemes, when `name` is not loaded.
  StatusOr<const Scheme*> Find(const std::string& name) const;
  std::vector<const Scheme*> schemes() const;  // by name
  const std::vector<RefusedPlugin>& refused() const { return refused_; }
  // The directory LoadDirectory loaded, or that of the first plugin Load
  // accepted ("" before either).
  const std::string& directory() const { return directory_; }

 private:
  struct Plugin;
  std::vector<std::unique_ptr<Plugin>> plugins_;
  std::vector<RefusedPlugin> refused_;
  std::string directory_;
};

// Where `tracemark` looks for plugins when none is given: the directory
// lib/tracemark/plugins next to the executable's bin/ directory.
std::string DefaultPluginDirectory();

}  // namespace tracemark
