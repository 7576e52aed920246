#include "tracemark/trace_engine.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "tracemark/codes.h"
#include "tracemark/file_util.h"
#include "tracemark/model.h"
#include "tracemark/stats.h"

namespace tracemark {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One release under test: its copies, codebook and the suspect's soft bits.
struct TestedRelease {
  ReleaseRecord release;
  std::vector<CopyRecord> copies;
  Codebook codebook;
  std::vector<float> soft_bits;
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

// Extracts the suspect's bits for `release`; a note explains any skip.
StatusOr<TestedRelease> Extract(KeyStore& store, const PluginHost& plugins,
                                const ReleaseRecord& release, torch::jit::Module& suspect) {
  TestedRelease tested{release, {}, {}, {}, 0};
  TM_ASSIGN_OR_RETURN(tested.copies, store.ListCopies(release.id));
  TM_ASSIGN_OR_RETURN(tested.codebook, RebuildCodebook(release, tested.copies.size()));
  TM_ASSIGN_OR_RETURN(const Scheme* scheme, plugins.Find(release.scheme));
  TM_ASSIGN_OR_RETURN(std::string key, store.GetSchemeKey(release.id));
  TM_RETURN_IF_ERROR(scheme->Extract(suspect, key, &tested.soft_bits));
  if (static_cast<int>(tested.soft_bits.size()) != tested.codebook.bits) {
    return Status::Internal("scheme returned " + std::to_string(tested.soft_bits.size()) +
                            " bits, release has " + std::to_string(tested.codebook.bits));
  }
  int users = static_cast<int>(tested.copies.size());
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
  BitMatch m = CountMatches(t.soft_bits, copy.code);
  c.matches = m.matches;
  c.bits = m.bits;
  return c;
}

// Decides one release's candidates given the total number of hypotheses.
void Decide(const TestedRelease& t, int64_t hypotheses, std::vector<TraceCandidate>* out) {
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
    c.accused = eligible && copy.status == "done" && c.p_value <= kAccusationPValue;
    out->push_back(std::move(c));
  }
}

}  // namespace

StatusOr<TraceReport> TraceEngine::Trace(const std::string& suspect_path) {
  auto start = Clock::now();
  TraceReport report;
  report.suspect = suspect_path;
  report.threshold = kAccusationPValue;
  TM_ASSIGN_OR_RETURN(torch::jit::Module suspect, LoadModel(suspect_path));
  report.load_seconds = SecondsSince(start);
  TM_ASSIGN_OR_RETURN(report.suspect_sha256, Sha256File(suspect_path));
  report.architecture = ArchitectureSignature(suspect);

  TM_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, store_->ListReleases());
  std::vector<TestedRelease> tested;
  for (const auto& release : releases) {
    if (release.architecture != report.architecture) continue;
    auto t = Extract(*store_, *plugins_, release, suspect);
    if (!t.ok()) {
      report.notes.push_back("release " + std::to_string(release.id) + " (" + release.model + " " +
                             release.version + ") not tested: " + t.status().message());
      continue;
    }
    report.hypotheses += t->hypotheses;
    tested.push_back(std::move(t).value());
  }
  report.releases_tested = static_cast<int>(tested.size());
  if (tested.empty() && report.notes.empty()) {
    report.notes.push_back("no release has this model's architecture");
  }
  for (const auto& t : tested) Decide(t, report.hypotheses, &report.candidates);
  std::stable_sort(
      report.candidates.begin(), report.candidates.end(),
      [](const TraceCandidate& a, const TraceCandidate& b) { return a.p_value < b.p_value; });
  std::set<std::string> accused;
  for (const auto& c : report.candidates) {
    if (c.accused) accused.insert(c.licensee);
  }
  report.accused.assign(accused.begin(), accused.end());
  report.verdict = accused.empty() ? "not-ours" : accused.size() == 1 ? "attributed" : "collusion";
  report.seconds = SecondsSince(start);
  return report;
}

}  // namespace tracemark
