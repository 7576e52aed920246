// The lifecycle states the stores keep, with the one table of their names
// (the SQLite CHECK constraints, the API and the logs use these names).
#pragma once

#include <string>

namespace tracemark {

// A release: kEmbedding while copies are made, then kDone or kFailed.
enum class ReleaseStatus { kEmbedding, kDone, kFailed };
// A licensee's copy: kPending until published, then kDone; or kFailed.
enum class CopyStatus { kPending, kDone, kFailed };
// An investigation: kQueued, kRunning, then kDone (with a verdict) or kFailed.
enum class InvestigationStatus { kQueued, kRunning, kDone, kFailed };
// Where a suspect came from.
enum class InvestigationSource { kInbox, kUpload, kEndpoint };

const char* Name(ReleaseStatus status);        // "embedding", "done", "failed"
const char* Name(CopyStatus status);           // "pending", "done", "failed"
const char* Name(InvestigationStatus status);  // "queued", "running", "done", "failed"
const char* Name(InvestigationSource source);  // "inbox", "upload", "endpoint"

// The state named `name`; false for another name (stored data is damaged).
bool Parse(const std::string& name, ReleaseStatus* status);
bool Parse(const std::string& name, CopyStatus* status);
bool Parse(const std::string& name, InvestigationStatus* status);
bool Parse(const std::string& name, InvestigationSource* source);

}  // namespace tracemark
