#include "tracemark/base/text.h"

#include <cstdio>
#include <functional>

namespace tracemark {
namespace {

// The length of the well-formed UTF-8 sequence at text[i] (RFC 3629: no
// overlong forms, no surrogates, at most U+10FFFF), or 0.
size_t Utf8SequenceLength(const std::string& text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the allowed range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return n;
}

}  // namespace

std::string ValidUtf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8SequenceLength(text, i);
    if (n > 0) {
      out.append(text, i, n);
      i += n;
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(text[i]));
      out += escaped;
      ++i;
    }
  }
  return out;
}

std::string JsonText(const nlohmann::json& value, int indent) {
  try {
    return value.dump(indent);
  } catch (const nlohmann::json::exception&) {
    // Some string is not UTF-8: escape every string, keys included.
  }
  std::function<nlohmann::json(const nlohmann::json&)> clean = [&](const nlohmann::json& v) {
    if (v.is_string()) return nlohmann::json(ValidUtf8(v.get<std::string>()));
    if (v.is_array()) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : v) out.push_back(clean(item));
      return out;
    }
    if (v.is_object()) {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& [key, item] : v.items()) out[ValidUtf8(key)] = clean(item);
      return out;
    }
    return v;
  };
  return clean(value).dump(indent);
}

}  // namespace tracemark
