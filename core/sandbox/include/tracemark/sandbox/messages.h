// The messages of a sandboxed trace, and their encoding (wire.h). The
// parent (TraceEngine) asks, the child (tracemark-sandbox) answers:
//
//   parent                                 child
//   kFactsRequest {input shapes}     ->
//                                    <-    kFacts {architecture, kind per shape}
//   kProbes {per release: scheme,    ->
//            key, copy keys}
//                                    <-    kEvidence {per release: status,
//                                                     soft bits or key counts}
//   (any time)                       <-    kError {code, message}: the suspect
//                                          could not be used; the child exits
//
// Decoding checks structure and bounds only (counts, lengths, finite
// numbers); what the values mean — that soft bits fit the release's code,
// that matches <= trials — is checked by the parent against its own records.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tracemark/base/status.h"

namespace tracemark::sandbox {

enum FrameType : uint32_t {
  kFactsRequest = 1,
  kFacts = 2,
  kProbes = 3,
  kEvidence = 4,
  kError = 5,
};

// Bounds of what either side accepts.
inline constexpr uint32_t kMaxShapes = 4096;
inline constexpr size_t kMaxText = 1 << 20;  // an architecture, a message, a shape
inline constexpr uint32_t kMaxProbes = 100000;
inline constexpr uint32_t kMaxCopies = 1 << 20;
inline constexpr size_t kMaxKeyBytes = size_t{1} << 30;
inline constexpr uint32_t kMaxSoftBits = 1 << 24;

struct FactsRequest {
  std::vector<std::string> input_shapes;  // e.g. "[1, 28, 28]"
};

struct SuspectFacts {
  std::string architecture;                  // ArchitectureSignature of the model
  std::map<std::string, std::string> kinds;  // input shape -> kind ("" if rejected)
};

struct ReleaseProbe {
  int64_t release_id = 0;
  std::string scheme;
  std::string key;                     // the release's scheme key
  std::vector<std::string> copy_keys;  // by slot; all empty unless per-copy keys
};

struct KeyCount {
  int32_t matches = 0;
  int32_t trials = 0;
  double null_probability = 0.5;
};

struct ProbeEvidence {
  int64_t release_id = 0;
  Status status;                 // why the release could not be tested
  std::vector<float> soft_bits;  // Extract's answer
  std::vector<KeyCount> counts;  // Score's answers, by copy
};

struct Evidence {
  std::vector<ProbeEvidence> probes;
  int64_t queries = 0;  // model inputs evaluated in the child
};

std::string EncodeFactsRequest(const FactsRequest& m);
StatusOr<FactsRequest> DecodeFactsRequest(const std::string& payload);
std::string EncodeFacts(const SuspectFacts& m);
StatusOr<SuspectFacts> DecodeFacts(const std::string& payload);
std::string EncodeProbes(const std::vector<ReleaseProbe>& m);
StatusOr<std::vector<ReleaseProbe>> DecodeProbes(const std::string& payload);
std::string EncodeEvidence(const Evidence& m);
StatusOr<Evidence> DecodeEvidence(const std::string& payload);
std::string EncodeError(const Status& status);
// The Status an error frame carries (never OK).
Status DecodeError(const std::string& payload);

}  // namespace tracemark::sandbox
