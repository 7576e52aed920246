// Helpers for text that comes from outside (file names, JSON values, names
// typed by users, messages of libraries): one-line messages, and JSON that
// stays valid whatever bytes a name holds.
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

// `text` as valid UTF-8: every byte that is not part of a well-formed UTF-8
// sequence is shown as the four characters \xNN (so "caf\xe9.pt" stays
// readable and distinct). Valid text is returned unchanged.
std::string ValidUtf8(const std::string& text);

// `value` serialised (indent as nlohmann::json::dump); never throws: any
// string that is still not UTF-8 is escaped as ValidUtf8 does.
std::string JsonText(const nlohmann::json& value, int indent = -1);

}  // namespace tracemark
