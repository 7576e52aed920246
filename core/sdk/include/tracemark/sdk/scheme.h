// The scheme plugin ABI.
//
// A scheme is a shared library in the plugins directory exporting one C
// function, `tracemark_scheme_descriptor`, which returns a pointer to a
// static TracemarkSchemeDescriptor. The host checks the descriptor's magic,
// ABI version and LibTorch version before it calls anything else, then
// obtains a tracemark::Scheme through `create` and frees it with `destroy`
// (whoever allocates frees).
//
// Division of labour (DESIGN.md §2): the core owns licensees, codes, keys,
// statistics and the verdict. A scheme only derives a release-wide secret
// key, embeds given bits into a model and extracts soft bits from a suspect
// (a model file or a deployed endpoint, see Suspect). A scheme whose copies
// are told apart by per-copy keys instead of code bits (black-box trigger
// sets) returns each copy's key from Embed and counts the suspect's matches
// with Score; the core turns counts into p-values either way.
//
// No exception may cross this boundary: every Scheme method returns a
// Status; implementations wrap their bodies in GuardedCall
// (tracemark/base/guarded_call.h), or derive from TypedScheme (typed_scheme.h),
// which does it for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tracemark/base/guarded_call.h"
#include "tracemark/base/status.h"

namespace at {
class Tensor;
}  // namespace at
namespace torch {
namespace jit {
struct Module;
}  // namespace jit
}  // namespace torch

namespace tracemark {

struct Dataset;  // tracemark/dataset.h

// The version of the scheme SDK: every header in include/tracemark/sdk/
// (scheme, typed_scheme, scheme_params, key_blob, dataset, model,
// model_kind, image_task, training, activation_tap, weight_carrier,
// suspect) and the base headers they include (status, guarded_call). A
// plugin is written against these alone; any incompatible change to one of
// them bumps this number, and the host refuses plugins built for another.
inline constexpr uint32_t kSchemeAbiVersion = 3;
inline constexpr uint32_t kSchemeMagic = 0x544d5343;  // "TMSC"

using SchemeParams = std::map<std::string, std::string>;

struct ParamSpec {
  std::string name;
  std::string default_value;  // "auto" where the scheme chooses from the model
  std::string description;
};

struct SchemeInfo {
  std::string name;                      // plugin name used on the command line
  std::string title;                     // one line for humans
  std::string reference;                 // the paper
  std::string access;                    // "weights", "activations", "gradients" or "queries"
  bool white_box = true;                 // extraction needs the model's file
  bool black_box = false;                // extraction works from queries alone
  std::vector<std::string> model_kinds;  // "classifier", "image-to-image"
  bool needs_training_data = true;
  std::string default_code_family;  // "random" or "bibd"
  std::string capacity;             // human-readable bound on bits
  std::vector<ParamSpec> params;
};

// What Embed may use besides the model, the key and the bits.
struct EmbedContext {
  const Dataset* train = nullptr;       // the owner's training data
  const Dataset* validation = nullptr;  // held-out data for the accuracy budget
  double base_accuracy = 0;             // the unmarked model on `validation`, in [0, 1]
  double max_accuracy_drop = 0.005;     // stop only when accuracy >= base - this
  uint64_t seed = 0;                    // per-copy randomness (batch order)
};

struct EmbedReport {
  double validation_accuracy = 0;  // after embedding, on ctx.validation
  int steps = 0;                   // optimizer steps taken
  int bits_with_margin = 0;        // bits read back correctly with the required margin
  int bits = 0;
  // Optional per-copy secret (for example a black-box trigger set). When
  // non-empty the host stores it with the copy and traces the copy with
  // Score instead of comparing code bits.
  std::string copy_key;
};

// A model under investigation, as a scheme sees it: a TorchScript file
// (module() is set and Query runs it locally) or a deployed inference
// endpoint (module() is null; Query sends requests). Not thread-safe.
class Suspect {
 public:
  virtual ~Suspect() = default;

  // The loaded model, or nullptr when only queries are possible. White-box
  // extraction without it fails with FailedPrecondition.
  virtual torch::jit::Module* module() = 0;

  // Runs a float32 batch `inputs` [N, ...] (the layout the base model was
  // released with) through the model. Classifiers answer [N, classes]
  // logits or probabilities (normalise with LogProbabilities in
  // tracemark/suspect.h); image-to-image models answer images. Each input
  // row counts as one query. Unavailable when an endpoint fails, times out,
  // answers malformed data or the query budget would be exceeded;
  // InvalidArgument when the model rejects the input.
  virtual Status Query(const at::Tensor& inputs, at::Tensor* outputs) = 0;

  // Queries (input rows) answered so far.
  virtual int64_t queries() const = 0;
};

// Per-copy evidence counted by Score.
struct KeyMatches {
  int matches = 0;  // keys the suspect answered as the copy was trained to
  int trials = 0;   // keys asked
  // Upper bound on one key's match probability for a model that was never
  // trained on the copy's keys; trials are independent under that null.
  double null_probability = 0.5;
};

class Scheme {
 public:
  virtual ~Scheme() = default;

  virtual const SchemeInfo& Info() const = 0;

  // Returns `given` completed with defaults. InvalidArgument names the first
  // unknown parameter (listing the valid ones) or the first bad value.
  virtual Status ResolveParams(const SchemeParams& given, SchemeParams* effective) const = 0;

  // Derives the release-wide secret for embedding `bits` bits into copies of
  // `model` with resolved `params`; `train` is the owner's training data
  // (for input shapes, class counts and key inputs). The result is opaque
  // bytes that the host stores and hands back unchanged; it must hold
  // everything Extract needs. FailedPrecondition when the model cannot
  // carry that many bits.
  virtual Status Keygen(const torch::jit::Module& model, const SchemeParams& params, int bits,
                        uint64_t seed, const Dataset& train, std::string* key) const = 0;

  // Embeds `bits` (0/1, size == the Keygen bits) into `model` in place.
  virtual Status Embed(torch::jit::Module& model, const std::string& key,
                       const std::vector<uint8_t>& bits, const EmbedContext& ctx,
                       EmbedReport* report) const = 0;

  // Extracts one soft bit in [0, 1] per embedded bit (>= 0.5 reads as 1).
  // FailedPrecondition when the suspect does not fit the key (another
  // architecture) or the key's mode needs a model file the suspect lacks.
  virtual Status Extract(Suspect& suspect, const std::string& key,
                         std::vector<float>* soft_bits) const = 0;

  // For copies with a copy_key (see EmbedReport): counts how many of the
  // copy's keys the suspect answers as the copy does.
  virtual Status Score(Suspect& suspect, const std::string& key, const std::string& copy_key,
                       KeyMatches* matches) const {
    (void)suspect, (void)key, (void)copy_key, (void)matches;
    return Status::FailedPrecondition(Info().name + " has no per-copy keys");
  }
};

}  // namespace tracemark

extern "C" {

struct TracemarkSchemeDescriptor {
  uint32_t magic;             // kSchemeMagic
  uint32_t abi_version;       // kSchemeAbiVersion the plugin was built with
  const char* torch_version;  // TORCH_VERSION the plugin was built with
  const char* name;           // must equal Info().name
  // Returns a new scheme, or nullptr (with a message in `error`) on failure.
  tracemark::Scheme* (*create)(char* error, size_t error_size);
  void (*destroy)(tracemark::Scheme* scheme);
};

typedef const TracemarkSchemeDescriptor* (*TracemarkSchemeEntry)(void);

}  // extern "C"

// The exported entry point's name.
#define TRACEMARK_SCHEME_ENTRY_SYMBOL "tracemark_scheme_descriptor"

// Defines the entry point of a plugin whose Scheme implementation is
// `SchemeClass` (default-constructible) named `scheme_name`. Use once, in a
// file that includes LibTorch (for TORCH_VERSION).
#define TRACEMARK_DEFINE_SCHEME(SchemeClass, scheme_name)                            \
  extern "C" __attribute__((visibility("default"))) const TracemarkSchemeDescriptor* \
  tracemark_scheme_descriptor(void) {                                                \
    static const TracemarkSchemeDescriptor descriptor = {                            \
        tracemark::kSchemeMagic,                                                     \
        tracemark::kSchemeAbiVersion,                                                \
        TORCH_VERSION,                                                               \
        scheme_name,                                                                 \
        [](char* error, size_t error_size) -> tracemark::Scheme* {                   \
          try {                                                                      \
            return new SchemeClass();                                                \
          } catch (const std::exception& e) {                                        \
            std::snprintf(error, error_size, "%s", e.what());                        \
            return nullptr;                                                          \
          }                                                                          \
        },                                                                           \
        [](tracemark::Scheme* scheme) { delete scheme; }};                           \
    return &descriptor;                                                              \
  }
