// The one way Tracemark reads numbers from text (flags, parameters, config
// values, dataset slices, URL ids): the whole text must be the number.
// "12abc", "", " 12", "1e999", "nan" and out-of-range values are refused;
// callers turn a refusal into their own one-line message.
#pragma once

#include <cstdint>
#include <string>

namespace tracemark {

// A base-10 integer ("-3", "42"), no sign-less overflow. False otherwise.
bool ParseInt(const std::string& text, int64_t* value);

// A finite decimal or scientific number ("0.5", "1e-4"). False otherwise.
bool ParseDouble(const std::string& text, double* value);

}  // namespace tracemark
