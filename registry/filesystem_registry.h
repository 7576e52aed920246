// FilesystemRegistry: releases as directories (see docs/registry.md).
//
//   <root>/<model>/<version>/model.pt       the base model, written first
//   <root>/<model>/<version>/release.json   the manifest, renamed into place last
//
// A version exists once its manifest does; anything else in the tree (names
// starting with '.', temp or partial files, versions without a manifest) is
// ignored. Reads only: the registry never writes to <root>.
#pragma once

#include <string>
#include <vector>

#include "registry/registry.h"

namespace tracemark::registry {

// Reads a release.json manifest's fields (scheme, licensees, data, params)
// into `version`. InvalidArgument naming the first bad field, for any text.
Status ParseReleaseManifest(const std::string& text, RegisteredVersion* version);

class FilesystemRegistry : public Registry {
 public:
  explicit FilesystemRegistry(std::string root);

  // The file names of a version; a watcher waits for ManifestName() to
  // appear (it is renamed into place once the version is complete).
  static std::string ManifestName();  // "release.json"
  static std::string ModelName();     // "model.pt"

  const std::string& root() const { return root_; }
  std::string Describe() const override;

  // As Registry::Scan. A version whose manifest exists is invalid (and
  // reported) when model.pt is missing, a name is not a valid KeyStore name,
  // or the manifest is not as docs/registry.md says. NotFound if the root
  // does not exist, InvalidArgument if it is not a directory, IoError if a
  // directory cannot be listed.
  StatusOr<std::vector<RegisteredVersion>> Scan(std::vector<std::string>* problems) override;

 private:
  std::string root_;
};

}  // namespace tracemark::registry
