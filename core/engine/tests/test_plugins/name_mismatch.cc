// Deliberately broken test plugin: create() succeeds, but the scheme calls
// itself "someone_else" while the descriptor says "name_mismatch". The host
// must refuse it and free the scheme through destroy().
#include <torch/version.h>

#include "tracemark/sdk/scheme.h"

namespace {

class StubScheme final : public tracemark::Scheme {
 public:
  StubScheme() { info_.name = "someone_else"; }
  const tracemark::SchemeInfo& Info() const override { return info_; }
  tracemark::Status ResolveParams(const tracemark::SchemeParams& given,
                                  tracemark::SchemeParams* effective) const override {
    *effective = given;
    return tracemark::Status::Ok();
  }
  tracemark::Status Keygen(const torch::jit::Module&, const tracemark::SchemeParams&, int, uint64_t,
                           const tracemark::Dataset&, std::string*) const override {
    return tracemark::Status::Internal("stub");
  }
  tracemark::Status Embed(torch::jit::Module&, const std::string&, const std::vector<uint8_t>&,
                          const tracemark::EmbedContext&, tracemark::EmbedReport*) const override {
    return tracemark::Status::Internal("stub");
  }
  tracemark::Status Extract(tracemark::Suspect&, const std::string&,
                            std::vector<float>*) const override {
    return tracemark::Status::Internal("stub");
  }

 private:
  tracemark::SchemeInfo info_;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const TracemarkSchemeDescriptor*
tracemark_scheme_descriptor(void) {
  static const TracemarkSchemeDescriptor descriptor = {
      tracemark::kSchemeMagic,
      tracemark::kSchemeAbiVersion,
      TORCH_VERSION,
      "name_mismatch",
      [](char*, size_t) -> tracemark::Scheme* { return new StubScheme(); },
      [](tracemark::Scheme* scheme) { delete scheme; }};
  return &descriptor;
}
