#include "tracemark/sandbox/messages.h"

#include <cmath>

#include "tracemark/base/text.h"
#include "tracemark/sandbox/wire.h"

namespace tracemark::sandbox {
namespace {

Status Malformed(const char* what) {
  return Status::Corruption(std::string("the sandboxed process sent a malformed ") + what);
}

// Status codes travel as their enum value; an unknown one is Internal.
uint32_t CodeValue(const Status& st) { return static_cast<uint32_t>(st.code()); }

Status StatusOf(uint32_t code, const std::string& message) {
  using Code = Status::Code;
  const std::string text = Printable(ValidUtf8(message));
  switch (static_cast<Code>(code)) {
    case Code::kOk:
      return Status::Ok();
    case Code::kInvalidArgument:
      return Status::InvalidArgument(text);
    case Code::kNotFound:
      return Status::NotFound(text);
    case Code::kFailedPrecondition:
      return Status::FailedPrecondition(text);
    case Code::kUnavailable:
      return Status::Unavailable(text);
    case Code::kCorruption:
      return Status::Corruption(text);
    default:
      return Status::Internal(text);
  }
}

}  // namespace

std::string EncodeFactsRequest(const FactsRequest& m) {
  WireWriter w;
  w.U32(static_cast<uint32_t>(m.input_shapes.size()));
  for (const auto& s : m.input_shapes) w.Bytes(s);
  return w.payload();
}

StatusOr<FactsRequest> DecodeFactsRequest(const std::string& payload) {
  WireReader r(payload);
  FactsRequest m;
  uint32_t n = 0;
  if (!r.Count(&n, kMaxShapes, 4)) return Malformed("facts request");
  m.input_shapes.resize(n);
  for (auto& s : m.input_shapes) {
    if (!r.Bytes(&s, kMaxText)) return Malformed("facts request");
  }
  if (!r.AtEnd()) return Malformed("facts request");
  return m;
}

std::string EncodeFacts(const SuspectFacts& m) {
  WireWriter w;
  w.Bytes(m.architecture);
  w.U32(static_cast<uint32_t>(m.kinds.size()));
  for (const auto& [shape, kind] : m.kinds) {
    w.Bytes(shape);
    w.Bytes(kind);
  }
  return w.payload();
}

StatusOr<SuspectFacts> DecodeFacts(const std::string& payload) {
  WireReader r(payload);
  SuspectFacts m;
  uint32_t n = 0;
  if (!r.Bytes(&m.architecture, kMaxText) || !r.Count(&n, kMaxShapes, 8)) {
    return Malformed("facts reply");
  }
  for (uint32_t i = 0; i < n; ++i) {
    std::string shape, kind;
    if (!r.Bytes(&shape, kMaxText) || !r.Bytes(&kind, kMaxText)) return Malformed("facts reply");
    m.kinds[shape] = kind;
  }
  if (!r.AtEnd()) return Malformed("facts reply");
  return m;
}

std::string EncodeProbes(const std::vector<ReleaseProbe>& m) {
  WireWriter w;
  w.U32(static_cast<uint32_t>(m.size()));
  for (const auto& p : m) {
    w.I64(p.release_id);
    w.Bytes(p.scheme);
    w.Bytes(p.key);
    w.U32(static_cast<uint32_t>(p.copy_keys.size()));
    for (const auto& k : p.copy_keys) w.Bytes(k);
  }
  return w.payload();
}

StatusOr<std::vector<ReleaseProbe>> DecodeProbes(const std::string& payload) {
  WireReader r(payload);
  std::vector<ReleaseProbe> m;
  uint32_t n = 0;
  if (!r.Count(&n, kMaxProbes, 20)) return Malformed("probe request");
  m.resize(n);
  for (auto& p : m) {
    uint32_t copies = 0;
    if (!r.I64(&p.release_id) || !r.Bytes(&p.scheme, kMaxText) || !r.Bytes(&p.key, kMaxKeyBytes) ||
        !r.Count(&copies, kMaxCopies, 4)) {
      return Malformed("probe request");
    }
    p.copy_keys.resize(copies);
    for (auto& k : p.copy_keys) {
      if (!r.Bytes(&k, kMaxKeyBytes)) return Malformed("probe request");
    }
  }
  if (!r.AtEnd()) return Malformed("probe request");
  return m;
}

std::string EncodeEvidence(const Evidence& m) {
  WireWriter w;
  w.U32(static_cast<uint32_t>(m.probes.size()));
  for (const auto& p : m.probes) {
    w.I64(p.release_id);
    w.U32(CodeValue(p.status));
    w.Bytes(p.status.message());
    w.U32(static_cast<uint32_t>(p.soft_bits.size()));
    for (float f : p.soft_bits) w.F32(f);
    w.U32(static_cast<uint32_t>(p.counts.size()));
    for (const auto& c : p.counts) {
      w.I32(c.matches);
      w.I32(c.trials);
      w.F64(c.null_probability);
    }
  }
  w.I64(m.queries);
  return w.payload();
}

StatusOr<Evidence> DecodeEvidence(const std::string& payload) {
  WireReader r(payload);
  Evidence m;
  uint32_t n = 0;
  if (!r.Count(&n, kMaxProbes, 24)) return Malformed("evidence reply");
  m.probes.resize(n);
  for (auto& p : m.probes) {
    uint32_t code = 0, bits = 0, counts = 0;
    std::string message;
    if (!r.I64(&p.release_id) || !r.U32(&code) || !r.Bytes(&message, kMaxText) ||
        !r.Count(&bits, kMaxSoftBits, 4)) {
      return Malformed("evidence reply");
    }
    p.status = StatusOf(code, message);
    p.soft_bits.resize(bits);
    for (float& f : p.soft_bits) {
      if (!r.F32(&f) || !std::isfinite(f)) return Malformed("evidence reply");
    }
    if (!r.Count(&counts, kMaxCopies, 16)) return Malformed("evidence reply");
    p.counts.resize(counts);
    for (auto& c : p.counts) {
      if (!r.I32(&c.matches) || !r.I32(&c.trials) || !r.F64(&c.null_probability) ||
          !std::isfinite(c.null_probability)) {
        return Malformed("evidence reply");
      }
    }
  }
  if (!r.I64(&m.queries) || m.queries < 0 || !r.AtEnd()) return Malformed("evidence reply");
  return m;
}

std::string EncodeError(const Status& status) {
  WireWriter w;
  w.U32(CodeValue(status));
  w.Bytes(status.message());
  return w.payload();
}

Status DecodeError(const std::string& payload) {
  WireReader r(payload);
  uint32_t code = 0;
  std::string message;
  if (!r.U32(&code) || !r.Bytes(&message, kMaxText) || !r.AtEnd()) {
    return Malformed("error reply");
  }
  Status st = StatusOf(code, message);
  return st.ok() ? Status::Internal(Printable(ValidUtf8(message))) : st;
}

}  // namespace tracemark::sandbox
