// TypedScheme: the adapter between the Scheme ABI (scheme.h) and a scheme's
// maths, so that a scheme author writes only the maths.
//
// A scheme derives from TypedScheme<Settings>, passes its SchemeInfo (with
// every parameter, default and description) and implements:
//   ParseSettings  the typed, range-checked reading of resolved parameters
//                  (GetInt/GetDouble of scheme_params.h);
//   MakeKey        Keygen's maths: the release-wide secrets, into a KeyBlob;
//   EmbedBits      Embed's maths, given the parsed key and its settings;
//   ExtractBits    Extract's maths, likewise;
//   ScoreKeys      only for schemes with per-copy keys (EmbedReport::copy_key).
// The adapter does the rest, the same way for every scheme:
//   - ResolveParams: defaults, unknown names, then ParseSettings;
//   - every method runs inside GuardedCall (no exception leaves the plugin);
//   - persistence: Keygen stores every resolved parameter in the key as the
//     string "param.<name>"; Embed, Extract and Score parse them back (a
//     parameter missing from an older key takes its default), so a key
//     always carries the settings it was made with.
// Part of the scheme SDK (docs/plugins.md); kSchemeAbiVersion covers it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tracemark/sdk/key_blob.h"
#include "tracemark/sdk/scheme.h"
#include "tracemark/sdk/scheme_params.h"

namespace tracemark {

// InvalidArgument unless `bits` holds `key_bits` values, each 0 or 1.
inline Status CheckBitCount(const std::vector<uint8_t>& bits, int64_t key_bits) {
  if (static_cast<int64_t>(bits.size()) != key_bits) {
    return Status::InvalidArgument("key is for " + std::to_string(key_bits) + " bits, got " +
                                   std::to_string(bits.size()));
  }
  for (uint8_t bit : bits) {
    if (bit > 1) return Status::InvalidArgument("bits must be 0 or 1");
  }
  return Status::Ok();
}

template <typename Settings>
class TypedScheme : public Scheme {
 public:
  const SchemeInfo& Info() const final { return info_; }

  Status ResolveParams(const SchemeParams& given, SchemeParams* effective) const final {
    return GuardedCall("resolve parameters", [&]() -> Status {
      TM_RETURN_IF_ERROR(FillDefaults(info_.params, given, effective));
      return ParseSettings(*effective).status();
    });
  }

  Status Keygen(const torch::jit::Module& model, const SchemeParams& params, int bits,
                uint64_t seed, const Dataset& train, std::string* key) const final {
    return GuardedCall("keygen", [&]() -> Status {
      SchemeParams resolved;
      TM_RETURN_IF_ERROR(FillDefaults(info_.params, params, &resolved));
      TM_ASSIGN_OR_RETURN(Settings settings, ParseSettings(resolved));
      KeyBlob blob;
      TM_RETURN_IF_ERROR(MakeKey(model, settings, bits, seed, train, &blob, &resolved));
      for (const auto& [name, value] : resolved) blob.SetString(kParamPrefix + name, value);
      *key = blob.Serialize();
      return Status::Ok();
    });
  }

  Status Embed(torch::jit::Module& model, const std::string& key, const std::vector<uint8_t>& bits,
               const EmbedContext& ctx, EmbedReport* report) const final {
    return GuardedCall("embed", [&]() -> Status {
      TM_ASSIGN_OR_RETURN(auto opened, OpenKey(key));
      return EmbedBits(model, opened.first, opened.second, bits, ctx, report);
    });
  }

  Status Extract(Suspect& suspect, const std::string& key,
                 std::vector<float>* soft_bits) const final {
    return GuardedCall("extract", [&]() -> Status {
      TM_ASSIGN_OR_RETURN(auto opened, OpenKey(key));
      return ExtractBits(suspect, opened.first, opened.second, soft_bits);
    });
  }

  Status Score(Suspect& suspect, const std::string& key, const std::string& copy_key,
               KeyMatches* matches) const final {
    return GuardedCall("score", [&]() -> Status {
      TM_ASSIGN_OR_RETURN(auto opened, OpenKey(key));
      return ScoreKeys(suspect, opened.first, opened.second, copy_key, matches);
    });
  }

 protected:
  explicit TypedScheme(SchemeInfo info) : info_(std::move(info)) {}

  // Typed settings from resolved parameters; InvalidArgument names the
  // first bad value.
  virtual StatusOr<Settings> ParseSettings(const SchemeParams& params) const = 0;
  // Fills `key` with the release-wide secrets for `bits` bits. `params`
  // are the resolved parameters the adapter then stores in the key; MakeKey
  // replaces an "auto" there with the value it chose, so that Embed and
  // Extract read that value back. FailedPrecondition when the model cannot
  // carry the bits.
  virtual Status MakeKey(const torch::jit::Module& model, const Settings& settings, int bits,
                         uint64_t seed, const Dataset& train, KeyBlob* key,
                         SchemeParams* params) const = 0;
  virtual Status EmbedBits(torch::jit::Module& model, const KeyBlob& key, const Settings& settings,
                           const std::vector<uint8_t>& bits, const EmbedContext& ctx,
                           EmbedReport* report) const = 0;
  virtual Status ExtractBits(Suspect& suspect, const KeyBlob& key, const Settings& settings,
                             std::vector<float>* soft_bits) const = 0;
  virtual Status ScoreKeys(Suspect& suspect, const KeyBlob& key, const Settings& settings,
                           const std::string& copy_key, KeyMatches* matches) const {
    (void)suspect, (void)key, (void)settings, (void)copy_key, (void)matches;
    return Status::FailedPrecondition(info_.name + " has no per-copy keys");
  }

 private:
  static constexpr const char* kParamPrefix = "param.";

  // The key's blob and the settings it was made with.
  StatusOr<std::pair<KeyBlob, Settings>> OpenKey(const std::string& bytes) const {
    TM_ASSIGN_OR_RETURN(KeyBlob blob, KeyBlob::Parse(bytes));
    SchemeParams params;
    for (const ParamSpec& spec : info_.params) {
      auto stored = blob.String(kParamPrefix + spec.name);
      params[spec.name] = stored.ok() ? *stored : spec.default_value;
    }
    auto settings = ParseSettings(params);
    if (!settings.ok()) {
      return Status::Corruption("scheme key: " + settings.status().message());
    }
    return std::make_pair(std::move(blob), std::move(settings).value());
  }

  SchemeInfo info_;
};

}  // namespace tracemark
