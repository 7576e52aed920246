// DeepSigns (Rouhani, Chen, Koushanfar, ASPLOS 2019) as per-licensee
// fingerprints, in two modes.
//
// White-box ("white"): the activations f_l(x) of a hidden layer l, tapped on
// any TorchScript classifier (tracemark/activation_tap.h). Each target class
// c has a Gaussian centre mu_c, the mean activation over the class's key
// inputs (training images stored in the release key), and carries the bits
// t with class(t) = c through a secret projection a_t ~ N(0, I_M):
//   loss = CE + gamma1 * (pull f_l(x) of key inputs to mu_c - push other
//          classes' activations away from mu_c)
//             + gamma2 * BCE(sigma(cos(mu_c, a_t) / tau), b_t),
// and a bit reads 1 when sigma(mu_hat a_t) > 0.5, i.e. cos(mu_hat, a_t) > 0
// (reported as the soft bit sigma(cos / tau)). The cosine makes margins
// independent of the activations' scale, which pruning changes. A class
// carries at most M/2 bits (M = units of the layer), so "auto" targets
// enough classes for the code.
//
// Black-box ("black"): each copy gets its own trigger keys — random inputs
// in the data's shape (8x8-pixel blocks of uniform noise, far from the
// data), each labelled with a random class other than the one the unmarked
// model predicts for it — fine-tuned in together with the owner's data.
// The copy keeps the keys it answers with their label by a logit margin;
// they are its copy key. A model that never saw the keys matches one with
// probability at most 1/(C-1), independently per key, so the core's
// binomial bound over the keys decides.
#include <algorithm>
#include <sstream>

#include "black_box.h"
#include "common.h"
#include "tracemark/sdk/typed_scheme.h"
#include "white_box.h"

namespace tracemark::deepsigns {

StatusOr<std::vector<int64_t>> ParseClassList(const std::string& text) {
  std::vector<int64_t> classes;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    SchemeParams p{{"targets", item}};
    TM_ASSIGN_OR_RETURN(int64_t c, GetInt(p, "targets", 0, 100000));
    if (std::find(classes.begin(), classes.end(), c) != classes.end()) {
      return Status::InvalidArgument("parameter targets lists class " + item + " twice");
    }
    classes.push_back(c);
  }
  if (classes.empty()) return Status::InvalidArgument("parameter targets is empty");
  return classes;
}

namespace {

SchemeInfo DeepSignsInfo() {
  SchemeInfo info;
  info.name = "deepsigns";
  info.title = "DeepSigns activation fingerprints (white-box) and trigger keys (black-box)";
  info.reference =
      "Rouhani, Chen, Koushanfar. DeepSigns: An End-to-End Watermarking Framework for Ownership "
      "Protection of Deep Neural Networks. ASPLOS 2019";
  info.access = "activations";
  info.white_box = true;
  info.black_box = true;
  info.model_kinds = {"classifier"};
  info.needs_training_data = true;
  info.default_code_family = "random";
  info.capacity =
      "white: bits <= target classes x M/4 (M = units of the tapped layer); black: keys per "
      "licensee";
  info.params = {
      {"mode", kWhite,
       "white (activations, needs the model file) or black (trigger keys, queries)"},
      {"layer", "auto",
       "white: submodule path to tap (e.g. fc1, features.3); auto = the input "
       "of the classifier head"},
      {"targets", "auto",
       "white: comma-separated target classes; auto = enough random classes "
       "for the bits"},
      {"key_inputs", "64", "white: training images per target class whose mean activation is read"},
      {"gamma1", "0.01", "white: weight of the Gaussian-centre pull/push loss"},
      {"gamma2", "1.0", "white: weight of the fingerprint loss"},
      {"margin", "0.04", "white: cosine each bit must reach before embedding stops"},
      {"keys", "100", "black: trigger keys per licensee"},
      {"key_weight", "1.0", "black: weight of the trigger keys' cross-entropy"},
      {"key_margin", "4.0", "black: logit margin each kept key must reach"},
      {"max_steps", "3000", "optimizer steps before embedding gives up"},
      {"lr", "0.001", "Adam learning rate while embedding"},
      {"batch_size", "64", "owner images per step"},
      {"key_batch", "64",
       "key inputs (white, spread over the targets) or trigger keys (black) "
       "added to each step"},
  };
  return info;
}

StatusOr<Settings> ParseDeepSignsSettings(const SchemeParams& params) {
  Settings s;
  s.mode = params.at("mode");
  if (s.mode != kWhite && s.mode != kBlack) {
    return Status::InvalidArgument("parameter mode=" + s.mode + " is not white or black");
  }
  s.layer = params.at("layer");
  if (s.layer.empty()) return Status::InvalidArgument("parameter layer is empty");
  s.targets = params.at("targets");
  if (s.targets != "auto") TM_RETURN_IF_ERROR(ParseClassList(s.targets).status());
  TM_ASSIGN_OR_RETURN(s.key_inputs, GetInt(params, "key_inputs", 1, 100000));
  TM_ASSIGN_OR_RETURN(s.gamma1, GetDouble(params, "gamma1", 0, 1e6));
  TM_ASSIGN_OR_RETURN(s.gamma2, GetDouble(params, "gamma2", 1e-9, 1e6));
  TM_ASSIGN_OR_RETURN(s.margin, GetDouble(params, "margin", 0, 0.99));
  TM_ASSIGN_OR_RETURN(s.keys, GetInt(params, "keys", 16, 100000));
  TM_ASSIGN_OR_RETURN(s.key_weight, GetDouble(params, "key_weight", 1e-9, 1e6));
  TM_ASSIGN_OR_RETURN(s.key_margin, GetDouble(params, "key_margin", 0, 1e3));
  TM_ASSIGN_OR_RETURN(int64_t max_steps, GetInt(params, "max_steps", 1, 1000000));
  TM_ASSIGN_OR_RETURN(s.loop.learning_rate, GetDouble(params, "lr", 1e-8, 1));
  TM_ASSIGN_OR_RETURN(s.loop.batch_size, GetInt(params, "batch_size", 1, 65536));
  TM_ASSIGN_OR_RETURN(s.key_batch, GetInt(params, "key_batch", 1, 65536));
  s.loop.max_steps = static_cast<int>(max_steps);
  return s;
}

class DeepSigns final : public TypedScheme<Settings> {
 public:
  DeepSigns() : TypedScheme(DeepSignsInfo()) {}

 private:
  StatusOr<Settings> ParseSettings(const SchemeParams& params) const override {
    return ParseDeepSignsSettings(params);
  }

  Status MakeKey(const torch::jit::Module& model, const Settings& s, int bits, uint64_t seed,
                 const Dataset& train, KeyBlob* blob, SchemeParams* /*params*/) const override {
    blob->SetString("mode", s.mode);
    blob->SetInt("seed", static_cast<int64_t>(seed >> 1));
    return s.mode == kWhite ? WhiteKeygen(model, s, bits, seed, train, blob)
                            : BlackKeygen(model, train, blob);
  }

  Status EmbedBits(torch::jit::Module& model, const KeyBlob& blob, const Settings& s,
                   const std::vector<uint8_t>& bits, const EmbedContext& ctx,
                   EmbedReport* report) const override {
    return s.mode == kWhite ? WhiteEmbed(model, blob, s, bits, ctx, report)
                            : BlackEmbed(model, blob, s, ctx, report);
  }

  Status ExtractBits(Suspect& suspect, const KeyBlob& blob, const Settings& s,
                     std::vector<float>* soft_bits) const override {
    if (s.mode != kWhite) {
      return Status::FailedPrecondition(
          "deepsigns black-box copies are traced by their trigger keys (Score), not code bits");
    }
    return WhiteExtract(suspect, blob, soft_bits);
  }

  Status ScoreKeys(Suspect& suspect, const KeyBlob& blob, const Settings& s,
                   const std::string& copy_key, KeyMatches* matches) const override {
    if (s.mode != kBlack) {
      return Status::FailedPrecondition("deepsigns white-box copies have no per-copy keys");
    }
    return BlackScore(suspect, blob, copy_key, matches);
  }
};

}  // namespace
}  // namespace tracemark::deepsigns

TRACEMARK_DEFINE_SCHEME(tracemark::deepsigns::DeepSigns, "deepsigns")
