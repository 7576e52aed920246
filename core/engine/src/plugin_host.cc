#include "tracemark/engine/plugin_host.h"

#include <dlfcn.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace tracemark {
namespace fs = std::filesystem;

// One loaded library and the scheme it created. Destroying it destroys the
// scheme with the library's own `destroy`, then closes the library.
struct PluginHost::Plugin {
  std::string path;
  void* handle = nullptr;
  const TracemarkSchemeDescriptor* descriptor = nullptr;
  Scheme* scheme = nullptr;

  ~Plugin() {
    if (scheme) descriptor->destroy(scheme);
    if (handle) dlclose(handle);
  }
};

PluginHost::PluginHost() = default;
PluginHost::~PluginHost() = default;

const char* PluginHost::TorchVersion() { return TORCH_VERSION; }

Status PluginHost::Load(const std::string& path) {
  auto refuse = [&](const std::string& reason) {
    return Status::InvalidArgument("plugin " + path + " refused: " + reason);
  };
  auto plugin = std::make_unique<Plugin>();
  plugin->path = path;
  plugin->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!plugin->handle) return refuse(std::string("cannot load library: ") + dlerror());
  auto entry =
      reinterpret_cast<TracemarkSchemeEntry>(dlsym(plugin->handle, TRACEMARK_SCHEME_ENTRY_SYMBOL));
  if (!entry) return refuse("not a Tracemark scheme plugin (no " TRACEMARK_SCHEME_ENTRY_SYMBOL ")");
  const TracemarkSchemeDescriptor* d = entry();
  if (!d || d->magic != kSchemeMagic) return refuse("descriptor has a bad magic number");
  if (d->abi_version != kSchemeAbiVersion) {
    return refuse("built for scheme ABI " + std::to_string(d->abi_version) + ", host speaks " +
                  std::to_string(kSchemeAbiVersion));
  }
  if (!d->torch_version || std::strcmp(d->torch_version, TORCH_VERSION) != 0) {
    return refuse(std::string("built against LibTorch ") +
                  (d->torch_version ? d->torch_version : "(unknown)") + ", host uses " +
                  TORCH_VERSION);
  }
  if (!d->name || !d->create || !d->destroy) return refuse("descriptor is incomplete");
  plugin->descriptor = d;
  if (Find(d->name).ok())
    return Status::AlreadyExists("scheme '" + std::string(d->name) + "' is loaded twice (" + path +
                                 ")");
  char error[512] = "";
  plugin->scheme = d->create(error, sizeof error);
  if (!plugin->scheme) return refuse(std::string("create failed: ") + error);
  if (plugin->scheme->Info().name != d->name) return refuse("descriptor and scheme names differ");
  plugins_.push_back(std::move(plugin));
  // A host filled plugin by plugin still tells the sandbox where they live.
  if (directory_.empty()) directory_ = fs::absolute(path).parent_path().lexically_normal().string();
  return Status::Ok();
}

Status PluginHost::LoadDirectory(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("no plugins directory " + dir);
  directory_ = fs::absolute(dir, ec).lexically_normal().string();
  std::vector<std::string> paths;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".so") paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths) {
    Status st = Load(path);
    if (!st.ok()) refused_.push_back({path, st.message()});
  }
  return Status::Ok();
}

StatusOr<const Scheme*> PluginHost::Find(const std::string& name) const {
  std::string names;
  for (const auto& p : plugins_) {
    if (p->descriptor->name == name) return static_cast<const Scheme*>(p->scheme);
    names += (names.empty() ? "" : ", ") + std::string(p->descriptor->name);
  }
  return Status::NotFound("no scheme '" + name + "' (loaded: " + (names.empty() ? "none" : names) +
                          ")");
}

std::vector<const Scheme*> PluginHost::schemes() const {
  std::vector<const Scheme*> out;
  for (const auto& p : plugins_) out.push_back(p->scheme);
  std::sort(out.begin(), out.end(),
            [](const Scheme* a, const Scheme* b) { return a->Info().name < b->Info().name; });
  return out;
}

std::string DefaultPluginDirectory() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "lib/tracemark/plugins";
  return (exe.parent_path().parent_path() / "lib" / "tracemark" / "plugins").string();
}

}  // namespace tracemark
