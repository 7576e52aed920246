#include "tracemark/engine/trace_engine.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "tracemark/base/file_util.h"
#include "tracemark/decide/codes.h"
#include "tracemark/decide/stats.h"
#include "tracemark/sdk/model.h"
#include "tracemark/sdk/model_kind.h"
#include "tracemark/sdk/suspect.h"

namespace tracemark {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One release under test: its copies, codebook and the suspect's evidence —
// soft bits against the codes, or per-copy key matches (by slot order).
struct TestedRelease {
  ReleaseRecord release;
  std::vector<CopyRecord> copies;
  Codebook codebook;
  std::vector<float> soft_bits;
  std::vector<KeyMatches> key_matches;  // per copy, when the copies have keys
  int64_t hypotheses = 0;
};

StatusOr<Codebook> RebuildCodebook(const ReleaseRecord& r, int users) {
  CodebookSpec spec;
  TM_ASSIGN_OR_RETURN(spec.family, ParseCodeFamily(r.code_family));
  spec.users = users;
  spec.min_bits = r.code_bits;
  spec.max_colluders = r.code_max_colluders;
  spec.seed = r.code_seed;
  return MakeCodebook(spec);
}

bool HasCopyKeys(const std::vector<CopyRecord>& copies) {
  return std::any_of(copies.begin(), copies.end(),
                     [](const CopyRecord& c) { return !c.copy_key.empty(); });
}

// Gathers the suspect's evidence for `release`; an error explains a skip.
StatusOr<TestedRelease> Examine(KeyStore& store, const Scheme& scheme, const ReleaseRecord& release,
                                Suspect& suspect) {
  TestedRelease tested{release, {}, {}, {}, {}, 0};
  TM_ASSIGN_OR_RETURN(tested.copies, store.ListCopies(release.id));
  TM_ASSIGN_OR_RETURN(tested.codebook, RebuildCodebook(release, tested.copies.size()));
  TM_ASSIGN_OR_RETURN(std::string key, store.GetSchemeKey(release.id));
  const int users = static_cast<int>(tested.copies.size());
  if (HasCopyKeys(tested.copies)) {
    for (const auto& copy : tested.copies) {
      KeyMatches m;
      if (!copy.copy_key.empty()) {
        TM_RETURN_IF_ERROR(scheme.Score(suspect, key, copy.copy_key, &m));
        if (m.trials <= 0 || m.matches < 0 || m.matches > m.trials ||
            !(m.null_probability > 0 && m.null_probability < 1)) {
          return Status::Internal("scheme returned an impossible key count for " + copy.licensee);
        }
      }
      tested.key_matches.push_back(m);
    }
    tested.hypotheses = users;
    return tested;
  }
  TM_RETURN_IF_ERROR(scheme.Extract(suspect, key, &tested.soft_bits));
  if (static_cast<int>(tested.soft_bits.size()) != tested.codebook.bits) {
    return Status::Internal("scheme returned " + std::to_string(tested.soft_bits.size()) +
                            " bits, release has " + std::to_string(tested.codebook.bits));
  }
  tested.hypotheses = HypothesesFor(tested.codebook, users);
  return tested;
}

TraceCandidate MakeCandidate(const TestedRelease& t, const CopyRecord& copy) {
  TraceCandidate c;
  c.licensee = copy.licensee;
  c.release_id = t.release.id;
  c.model = t.release.model;
  c.version = t.release.version;
  c.scheme = t.release.scheme;
  c.code_family = t.release.code_family;
  if (t.key_matches.empty()) {
    BitMatch m = CountMatches(t.soft_bits, copy.code);
    c.matches = m.matches;
    c.bits = m.bits;
  }
  return c;
}

// Decides one release's candidates given the total number of hypotheses.
void Decide(const TestedRelease& t, int64_t hypotheses, std::vector<TraceCandidate>* out) {
  if (!t.key_matches.empty()) {  // per-copy keys: each licensee on its own
    for (size_t i = 0; i < t.copies.size(); ++i) {
      const KeyMatches& m = t.key_matches[i];
      TraceCandidate c = MakeCandidate(t, t.copies[i]);
      c.evidence = "keys";
      c.matches = m.matches;
      c.bits = m.trials;
      c.null_probability = m.null_probability;
      c.p_value =
          m.trials > 0
              ? Bonferroni(BinomialUpperTail(m.trials, m.matches, m.null_probability), hypotheses)
              : 1.0;
      c.accused = t.copies[i].status == CopyStatus::kDone && c.p_value <= kAccusationPValue;
      out->push_back(std::move(c));
    }
    return;
  }
  std::set<int> coalition;
  CoalitionDecision decision;
  if (t.codebook.family == CodeFamily::kBibd) {
    decision = DecodeBibdCoalition(t.codebook, t.soft_bits, static_cast<int>(t.copies.size()));
    coalition.insert(decision.slots.begin(), decision.slots.end());
  }
  double coalition_p = Bonferroni(BinomialUpperTail(decision.bits, decision.matches), hypotheses);
  if (coalition_p > kAccusationPValue) coalition.clear();  // decoded, but not significant
  for (const auto& copy : t.copies) {
    TraceCandidate c = MakeCandidate(t, copy);
    if (coalition.count(copy.slot)) {
      c.evidence = "coalition";
      c.matches = decision.matches;
      c.bits = decision.bits;
      c.p_value = coalition_p;
    } else {
      c.p_value = Bonferroni(BinomialUpperTail(c.bits, c.matches), hypotheses);
    }
    // BIBD codes agree with each other above chance, so only the decoded
    // coalition may be accused; random codes are tested one by one.
    bool eligible = t.codebook.family == CodeFamily::kRandom || coalition.count(copy.slot);
    c.accused = eligible && copy.status == CopyStatus::kDone && c.p_value <= kAccusationPValue;
    out->push_back(std::move(c));
  }
}

}  // namespace

StatusOr<TraceReport> TraceEngine::Trace(const std::string& suspect_path) {
  return GuardedCall("trace", [&]() -> StatusOr<TraceReport> {
    auto start = Clock::now();
    TraceReport report;
    report.suspect = suspect_path;
    TM_ASSIGN_OR_RETURN(torch::jit::Module model, LoadModel(suspect_path));
    report.load_seconds = SecondsSince(start);
    TM_ASSIGN_OR_RETURN(report.suspect_sha256, Sha256File(suspect_path));
    report.architecture = ArchitectureSignature(model);
    ModelSuspect suspect(&model);
    TM_RETURN_IF_ERROR(TraceSuspect(suspect, report.architecture, &report, &model));
    report.queries = suspect.queries();
    report.seconds = SecondsSince(start);
    return report;
  });
}

StatusOr<TraceReport> TraceEngine::TraceEndpoint(const EndpointOptions& endpoint) {
  return GuardedCall("endpoint trace", [&]() -> StatusOr<TraceReport> {
    auto start = Clock::now();
    TraceReport report;
    report.suspect = endpoint.model + " at " + endpoint.url;
    TM_ASSIGN_OR_RETURN(std::unique_ptr<InferenceClient> client,
                        InferenceClient::Connect(endpoint));
    EndpointSuspect suspect(std::move(client));
    TM_RETURN_IF_ERROR(TraceSuspect(suspect, /*architecture=*/"", &report));
    report.queries = suspect.queries();
    report.requests = suspect.client().requests();
    report.seconds = SecondsSince(start);
    return report;
  });
}

Status TraceEngine::TraceSuspect(Suspect& suspect, const std::string& architecture,
                                 TraceReport* report, torch::jit::Module* model) {
  // A file's kind per input shape, learned from one zero input (not a query).
  std::map<std::string, std::string> kinds;
  auto kind_for = [&](const std::string& shape_text) -> std::string {
    auto it = kinds.find(shape_text);
    if (it != kinds.end()) return it->second;
    std::string kind;  // empty: the model rejects such inputs
    auto shape = ParseShape(shape_text);
    if (shape.ok()) {
      std::vector<int64_t> batch = {1};
      batch.insert(batch.end(), shape->begin(), shape->end());
      model->eval();
      auto detected = DetectModelKind(*model, torch::zeros(batch));
      if (detected.ok()) kind = *detected;
    }
    return kinds[shape_text] = kind;
  };
  report->threshold = kAccusationPValue;
  TM_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, store_->ListReleases());
  std::vector<TestedRelease> tested;
  bool unavailable = false;  // the endpoint failed: untested releases stay open
  bool any_eligible = false;
  for (const auto& release : releases) {
    auto note = [&](const std::string& why) {
      report->notes.push_back("release " + std::to_string(release.id) + " (" + release.model + " " +
                              release.version + ", " + release.scheme + ") not tested: " + why);
    };
    auto scheme = plugins_->Find(release.scheme);
    if (model != nullptr) {
      // A file: releases of its own architecture; releases of schemes that
      // read outputs only ("queries") also from any model of the release's
      // kind and input shape (surrogates have architectures of their own).
      // A model whose kind cannot be told is still tested against releases
      // of its own architecture (the scheme reports what does not fit).
      const bool reads_outputs = scheme.ok() && (*scheme)->Info().access == "queries";
      const std::string kind = release.input_shape.empty() ? "" : kind_for(release.input_shape);
      if (release.architecture == architecture) {
        if (!kind.empty() && kind != release.model_kind) continue;
      } else if (!reads_outputs || kind != release.model_kind) {
        continue;
      }
    } else if (scheme.ok() && !(*scheme)->Info().black_box) {
      continue;  // needs the model file
    }
    any_eligible = true;
    if (!scheme.ok()) {
      note(scheme.status().message());
      continue;
    }
    if (unavailable) {
      note("the endpoint already failed");
      continue;
    }
    auto t = Examine(*store_, **scheme, release, suspect);
    if (!t.ok()) {
      if (t.status().code() == Status::Code::kUnavailable) unavailable = true;
      note(t.status().message());
      continue;
    }
    report->hypotheses += t->hypotheses;
    tested.push_back(std::move(t).value());
  }
  report->releases_tested = static_cast<int>(tested.size());
  if (!any_eligible) {
    report->notes.push_back(architecture.empty()
                                ? "no release uses a scheme that can be traced from queries"
                                : "no release has this model's architecture");
  }
  for (const auto& t : tested) Decide(t, report->hypotheses, &report->candidates);
  std::stable_sort(
      report->candidates.begin(), report->candidates.end(),
      [](const TraceCandidate& a, const TraceCandidate& b) { return a.p_value < b.p_value; });
  std::set<std::string> accused;
  for (const auto& c : report->candidates) {
    if (c.accused) accused.insert(c.licensee);
  }
  report->accused.assign(accused.begin(), accused.end());
  report->verdict = accused.size() > 1    ? Verdict::kCollusion
                    : accused.size() == 1 ? Verdict::kAttributed
                    : unavailable         ? Verdict::kInconclusive
                                          : Verdict::kNotOurs;
  return Status::Ok();
}

}  // namespace tracemark
