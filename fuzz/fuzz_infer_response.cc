// The body of an inference endpoint's answer (a hostile server's).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tracemark/endpoint/infer_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  std::vector<int64_t> shape;
  std::vector<float> values;
  for (int64_t rows : {1, 2, 64}) (void)tracemark::ParseInferResponse(body, rows, &shape, &values);
  return 0;
}
