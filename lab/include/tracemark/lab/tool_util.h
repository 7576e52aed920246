// Shared by the bench programs: failing with one line on stderr (prefixed
// with the program's name), --flag value parsing and list splitting.
#pragma once

#include <errno.h>  // program_invocation_short_name (glibc)

#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace tracemark::lab {

[[noreturn]] inline void Die(const Status& status) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, status.message().c_str());
  std::exit(1);
}

inline void Check(const Status& status) {
  if (!status.ok()) Die(status);
}

template <typename T>
T OrDie(StatusOr<T> value) {
  if (!value.ok()) Die(value.status());
  return std::move(value).value();
}

// Overrides `flags` (name -> default value) from "--name value" pairs;
// dies on a name not in `flags`.
inline void ParseFlags(int argc, char** argv, std::map<std::string, std::string>* flags) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = std::string(argv[i]).substr(2);
    if (!flags->count(flag)) Die(Status::InvalidArgument("unknown flag " + std::string(argv[i])));
    (*flags)[flag] = argv[i + 1];
  }
}

// The non-empty items of `text` separated by `separator`.
inline std::vector<std::string> Split(const std::string& text, char separator = ',') {
  std::vector<std::string> items;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, separator);) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

}  // namespace tracemark::lab
