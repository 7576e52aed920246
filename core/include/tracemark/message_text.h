// Helpers for one-line, user-facing error messages built from untrusted
// text (file names, JSON values, names typed by users).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tracemark {

// `text` with control characters replaced by '?', so it stays on one line.
inline std::string Printable(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return text;
}

// A JSON value as shown in a message: scalars as JSON text (at most 64
// characters), containers by their type name.
inline std::string ShownJson(const nlohmann::json& value) {
  if (value.is_structured()) return value.type_name();
  std::string text = value.dump();
  return text.size() <= 64 ? text : text.substr(0, 61) + "...";
}

}  // namespace tracemark
