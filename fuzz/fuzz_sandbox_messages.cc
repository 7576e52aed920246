// Every reply the sandboxed child can send, as bytes the child controls.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tracemark/sandbox/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tracemark::sandbox;
  const std::string payload(reinterpret_cast<const char*>(data), size);
  (void)DecodeFacts(payload);
  (void)DecodeEvidence(payload);
  (void)DecodeError(payload);
  (void)DecodeFactsRequest(payload);
  (void)DecodeProbes(payload);
  return 0;
}
