#include "tracemark/engine/trace_engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstring>
#include <map>
#include <set>

#include "tracemark/base/file_util.h"
#include "tracemark/decide/codes.h"
#include "tracemark/decide/stats.h"
#include "tracemark/engine/examiner.h"
#include "tracemark/sdk/model.h"
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

// The probe of `release` and its record for the decision: copies and
// codebook (an error explains a skip).
StatusOr<TestedRelease> Prepare(KeyStore& store, const ReleaseRecord& release,
                                sandbox::ReleaseProbe* probe) {
  TestedRelease tested{release, {}, {}, {}, {}, 0};
  TM_ASSIGN_OR_RETURN(tested.copies, store.ListCopies(release.id));
  TM_ASSIGN_OR_RETURN(tested.codebook, RebuildCodebook(release, tested.copies.size()));
  probe->release_id = release.id;
  probe->scheme = release.scheme;
  TM_ASSIGN_OR_RETURN(probe->key, store.GetSchemeKey(release.id));
  if (HasCopyKeys(tested.copies)) {
    for (const auto& copy : tested.copies) probe->copy_keys.push_back(copy.copy_key);
  }
  return tested;
}

// Takes the examiner's answer for `tested` after checking it against the
// release (the answer may come from a hostile process): a finite soft bit
// per code bit, or a key count per copy with 0 <= matches <= trials.
Status Accept(sandbox::ProbeEvidence evidence, TestedRelease* tested) {
  const int users = static_cast<int>(tested->copies.size());
  if (HasCopyKeys(tested->copies)) {
    if (evidence.counts.size() != tested->copies.size()) {
      return Status::Internal("the suspect's examiner returned " +
                              std::to_string(evidence.counts.size()) + " key counts for " +
                              std::to_string(users) + " copies");
    }
    for (size_t i = 0; i < evidence.counts.size(); ++i) {
      const sandbox::KeyCount& c = evidence.counts[i];
      KeyMatches m{c.matches, c.trials, c.null_probability};
      if (!tested->copies[i].copy_key.empty() &&
          (m.trials <= 0 || m.matches < 0 || m.matches > m.trials ||
           !(m.null_probability > 0 && m.null_probability < 1))) {
        return Status::Internal("scheme returned an impossible key count for " +
                                tested->copies[i].licensee);
      }
      tested->key_matches.push_back(m);
    }
    tested->hypotheses = users;
    return Status::Ok();
  }
  if (static_cast<int>(evidence.soft_bits.size()) != tested->codebook.bits) {
    return Status::Internal("scheme returned " + std::to_string(evidence.soft_bits.size()) +
                            " bits, release has " + std::to_string(tested->codebook.bits));
  }
    for (float bit : evidence.soft_bits) {
    // Linear decoders (DeepMarks) may leave [0, 1]; only >= 0.5 matters.
    if (!std::isfinite(bit)) return Status::Internal("scheme returned a soft bit that is not finite");
  }
  tested->soft_bits = std::move(evidence.soft_bits);
  tested->hypotheses = HypothesesFor(tested->codebook, users);
  return Status::Ok();
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

TraceEngine::TraceEngine(KeyStore* store, const PluginHost* plugins,
                         sandbox::SandboxConfig isolation)
    : store_(store), plugins_(plugins), isolation_(std::move(isolation)) {
  if (isolation_.program.empty()) isolation_.program = sandbox::DefaultSandboxProgram();
  if (isolation_.plugin_dir.empty()) isolation_.plugin_dir = plugins_->directory();
}

StatusOr<TraceReport> TraceEngine::Trace(const std::string& suspect_path,
                                         const std::string& display_name) {
  return GuardedCall("trace", [&]() -> StatusOr<TraceReport> {
    auto start = Clock::now();
    TraceReport report;
    report.suspect = display_name.empty() ? suspect_path : display_name;
    const std::string& name = report.suspect;
    // The suspect is opened here and only its descriptor reaches the sandbox.
    int fd = ::open(suspect_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound("no such model file: " + name);
      return Status::IoError("cannot open " + name + ": " + std::strerror(errno));
    }
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      return Status::InvalidArgument(name + " is not a regular file");
    }
    if (st.st_size > isolation_.max_model_bytes) {
      return Status::InvalidArgument(name + " is larger than the limit of " +
                                     std::to_string(isolation_.max_model_bytes >> 20) + " MiB");
    }
    TM_ASSIGN_OR_RETURN(report.suspect_sha256, Sha256Fd(fd, name));
    if (::lseek(fd, 0, SEEK_SET) != 0) {
      return Status::IoError("cannot rewind " + name + ": " + std::strerror(errno));
    }
    SandboxedExaminer examiner(fd, isolation_);
    TM_RETURN_IF_ERROR(TraceWith(examiner, /*endpoint=*/false, &report));
    report.seconds = SecondsSince(start);
    return report;
  });
}

StatusOr<TraceReport> TraceEngine::TraceOwnModel(const std::string& model_path) {
  return GuardedCall("trace", [&]() -> StatusOr<TraceReport> {
    auto start = Clock::now();
    TraceReport report;
    report.suspect = model_path;
    TM_ASSIGN_OR_RETURN(torch::jit::Module model, LoadModel(model_path));
    TM_ASSIGN_OR_RETURN(report.suspect_sha256, Sha256File(model_path));
    ModelSuspect suspect(&model);
    LocalExaminer examiner(&suspect, &model, plugins_);
    TM_RETURN_IF_ERROR(TraceWith(examiner, /*endpoint=*/false, &report));
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
    // An endpoint's answers are data, parsed by the bounded client: the
    // schemes run here.
    LocalExaminer examiner(&suspect, /*model=*/nullptr, plugins_);
    TM_RETURN_IF_ERROR(TraceWith(examiner, /*endpoint=*/true, &report));
    report.requests = suspect.client().requests();
    report.seconds = SecondsSince(start);
    return report;
  });
}

Status TraceEngine::TraceWith(Examiner& examiner, bool endpoint, TraceReport* report) {
  report->threshold = kAccusationPValue;
  TM_ASSIGN_OR_RETURN(std::vector<ReleaseRecord> releases, store_->ListReleases());
  std::vector<std::string> shapes;
  if (!endpoint) {
    std::set<std::string> unique;
    for (const auto& r : releases) {
      if (!r.input_shape.empty()) unique.insert(r.input_shape);
    }
    shapes.assign(unique.begin(), unique.end());
  }
  const auto facts_start = Clock::now();
  TM_ASSIGN_OR_RETURN(sandbox::SuspectFacts facts, examiner.Facts(shapes));
  report->load_seconds = SecondsSince(facts_start);
  report->architecture = facts.architecture;

  std::vector<TestedRelease> candidates;
  std::vector<sandbox::ReleaseProbe> probes;
  bool any_eligible = false;
  for (const auto& release : releases) {
    auto note = [&](const std::string& why) {
      report->notes.push_back("release " + std::to_string(release.id) + " (" + release.model + " " +
                              release.version + ", " + release.scheme + ") not tested: " + why);
    };
    auto scheme = plugins_->Find(release.scheme);
    if (!endpoint) {
      // A file: releases of its own architecture; releases of schemes that
      // read outputs only ("queries") also from any model of the release's
      // kind and input shape (surrogates have architectures of their own).
      // A model whose kind cannot be told is still tested against releases
      // of its own architecture (the scheme reports what does not fit).
      const bool reads_outputs = scheme.ok() && (*scheme)->Info().access == "queries";
      auto kind_it = facts.kinds.find(release.input_shape);
      const std::string kind = kind_it == facts.kinds.end() ? "" : kind_it->second;
      if (release.architecture == facts.architecture) {
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
    sandbox::ReleaseProbe probe;
    auto t = Prepare(*store_, release, &probe);
    if (!t.ok()) {
      note(t.status().message());
      continue;
    }
    candidates.push_back(std::move(t).value());
    probes.push_back(std::move(probe));
  }
  std::vector<TestedRelease> tested;
  bool unavailable = false;  // the endpoint failed: untested releases stay open
  if (!probes.empty()) {
    TM_ASSIGN_OR_RETURN(sandbox::Evidence evidence, examiner.Examine(probes));
    report->queries = evidence.queries;
    for (size_t i = 0; i < candidates.size(); ++i) {
      TestedRelease& t = candidates[i];
      Status st = evidence.probes[i].status;
      if (st.ok()) st = Accept(std::move(evidence.probes[i]), &t);
      if (!st.ok()) {
        if (st.code() == Status::Code::kUnavailable) unavailable = true;
        report->notes.push_back("release " + std::to_string(t.release.id) + " (" + t.release.model +
                                " " + t.release.version + ", " + t.release.scheme +
                                ") not tested: " + st.message());
        continue;
      }
      report->hypotheses += t.hypotheses;
      tested.push_back(std::move(t));
    }
  }
  report->releases_tested = static_cast<int>(tested.size());
  if (!any_eligible) {
    report->notes.push_back(endpoint ? "no release uses a scheme that can be traced from queries"
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
