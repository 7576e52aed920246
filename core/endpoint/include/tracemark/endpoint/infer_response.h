// The body of an Open Inference Protocol v2 infer response, read the way a
// hostile server's answer must be read: one JSON object with "outputs"[0]
// holding an integer "shape" and numeric "data" (nested arrays at most
// kMaxNesting deep), as many values as the shape says, finite, the first
// dimension `rows`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace tracemark {

inline constexpr int kMaxNesting = 32;

// Fills `shape` and `data`; Unavailable("answered ...") naming what is
// wrong otherwise (the caller prefixes where it asked).
Status ParseInferResponse(const std::string& body, int64_t rows, std::vector<int64_t>* shape,
                          std::vector<float>* data);

}  // namespace tracemark
