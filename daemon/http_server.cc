#include "daemon/http_server.h"

#include <fcntl.h>
#include <httplib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <regex>
#include <utility>

#include "tracemark/base/numbers.h"
#include "tracemark/base/text.h"

namespace tracemark::daemon {
namespace {

using httplib::ContentReader;
using httplib::Request;
using httplib::Response;
using nlohmann::json;

constexpr int64_t kMaxJsonBodyBytes = int64_t{1} << 20;
constexpr char kJsonType[] = "application/json";
constexpr char kPrometheusType[] = "text/plain; version=0.0.4";
// Members that name secret key-store material: a document holding one is
// never sent, whatever the backend returns.
constexpr const char* kSecretFields[] = {"key",          "code_seed", "scheme_key",
                                         "token_sha256", "seed",      "master_seed"};

// The "error" code of a JSON error body with HTTP status `http`.
const char* ErrorCode(int http) {
  switch (http) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 503:
      return "unavailable";
    default:
      return http < 500 ? "bad_request" : "internal";
  }
}

// The HTTP status of a backend error (ApiBackend's contract).
int HttpStatus(const Status& status) {
  switch (status.code()) {
    case Status::Code::kInvalidArgument:
      return 400;
    case Status::Code::kNotFound:
      return 404;
    case Status::Code::kAlreadyExists:
    case Status::Code::kFailedPrecondition:
      return 409;
    default:
      return 500;
  }
}

void WriteJson(Response& res, int http, const json& doc) {
  res.status = http;
  res.set_content(JsonText(doc), kJsonType);
}

// Writes {"error", "message"}; `message` is made one line.
void WriteError(Response& res, int http, const std::string& message) {
  WriteJson(res, http, {{"error", ErrorCode(http)}, {"message", Printable(message)}});
}

void WriteStatus(Response& res, const Status& status) {
  WriteError(res, HttpStatus(status), status.message());
}

bool HoldsSecret(const json& doc) {
  if (doc.is_object()) {
    for (const auto& item : doc.items()) {
      for (const char* field : kSecretFields) {
        if (item.key() == field) return true;
      }
      if (HoldsSecret(item.value())) return true;
    }
  } else if (doc.is_array()) {
    for (const json& element : doc) {
      if (HoldsSecret(element)) return true;
    }
  }
  return false;
}

// Writes a backend result: `ok_http` with its document, or its error.
void Reply(Response& res, const StatusOr<json>& result, int ok_http) {
  if (!result.ok()) return WriteStatus(res, result.status());
  if (HoldsSecret(result.value())) {
    return WriteError(res, 500, "refused to send a response holding secret key material");
  }
  WriteJson(res, ok_http, result.value());
}

// The token of an "Authorization: Bearer TOKEN" header (scheme name in any
// case); empty when the header is absent, repeated or malformed.
std::string BearerToken(const Request& req) {
  if (req.get_header_value_count("Authorization") != 1) return "";
  const std::string value = req.get_header_value("Authorization");
  constexpr size_t kPrefix = sizeof("Bearer ") - 1;
  if (value.size() <= kPrefix || strncasecmp(value.c_str(), "Bearer ", kPrefix) != 0) return "";
  std::string token = value.substr(kPrefix);
  for (char c : token) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return "";
  }
  return token;
}

// The declared Content-Length; 0 when absent.
uint64_t DeclaredLength(const Request& req) {
  return std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
}

// Whether a body follows the headers. httplib would otherwise read a POST
// without length or chunking until the client closes.
bool HasBody(const Request& req) {
  return DeclaredLength(req) > 0 ||
         strcasecmp(req.get_header_value("Transfer-Encoding").c_str(), "chunked") == 0;
}

// kUpload: a file streamed to disk, or — when the Content-Type is JSON — a
// JSON object as for kJson (POST /v1/investigations takes either).
enum class BodyKind { kNone, kJson, kUpload };

bool IsJsonRequest(const Request& req) {
  return req.get_header_value("Content-Type").rfind(kJsonType, 0) == 0;
}
enum class BodyResult { kComplete, kTooLarge, kCut };

// Streams the request body to `sink` (null: discards it). Past `limit`
// bytes the rest is read and discarded, at most `discard` more bytes, so
// the client still gets an answer; past that, or if `sink` fails, reading
// stops and the connection is marked for closing.
BodyResult StreamBody(const Request& req, Response& res, const ContentReader* reader, int64_t limit,
                      int64_t discard, const httplib::ContentReceiver& sink) {
  if (reader == nullptr || !HasBody(req)) return BodyResult::kComplete;
  int64_t total = 0;
  auto receive = [&](const char* data, size_t size) {
    total += static_cast<int64_t>(size);
    if (total > limit) return total - limit <= discard;
    return !sink || sink(data, size);
  };
  // Multipart bodies reach here only to be discarded (Preflight refuses them).
  const bool ok = req.is_multipart_form_data()
                      ? (*reader)([](const httplib::MultipartFormData&) { return true; }, receive)
                      : (*reader)(receive);
  if (!ok) res.set_header("Connection", "close");
  // httplib answers 413 itself, unread, for a Content-Length over its limit.
  if (total > limit || res.status == 413) return BodyResult::kTooLarge;
  return ok ? BodyResult::kComplete : BodyResult::kCut;
}

// True if the body arrived whole; otherwise writes 413 or 400.
bool Arrived(BodyResult result, int64_t limit, Response& res) {
  switch (result) {
    case BodyResult::kComplete:
      return true;
    case BodyResult::kTooLarge:
      WriteError(res, 413,
                 "the request body exceeds the limit of " + std::to_string(limit) + " bytes");
      return false;
    case BodyResult::kCut:
      WriteError(res, 400, "the request body ended early");
      return false;
  }
  return false;
}

// Parses a JSON object body into `out`; false with 400 written otherwise.
bool ParseObject(const std::string& text, json& out, Response& res) {
  try {
    out = json::parse(text);
  } catch (const json::parse_error& e) {
    WriteError(res, 400, std::string("malformed JSON: ") + e.what());
    return false;
  }
  if (out.is_object()) return true;
  WriteError(res, 400,
             std::string("the request body must be a JSON object, got ") + out.type_name());
  return false;
}

// Reads a JSON object body of at most `limit` bytes into `out`; false with
// 413/400 written otherwise.
bool ReadJsonBody(const Request& req, Response& res, const ContentReader* reader, int64_t limit,
                  int64_t discard, json& out) {
  std::string text;
  auto append = [&text](const char* data, size_t size) {
    text.append(data, size);
    return true;
  };
  return Arrived(StreamBody(req, res, reader, limit, discard, append), limit, res) &&
         ParseObject(text, out, res);
}

// A file being uploaded, under a unique name; removed on destruction
// unless kept.
class Upload {
 public:
  // IoError if the file cannot be created in `dir`.
  static StatusOr<std::unique_ptr<Upload>> Create(const std::string& dir) {
    std::string path = dir + "/.upload-XXXXXX";
    const int fd = mkostemp(path.data(), O_CLOEXEC);  // mode 0600
    if (fd < 0) return Status::IoError("cannot create the upload file: " + Errno());
    return std::unique_ptr<Upload>(new Upload(std::move(path), fd));
  }
  ~Upload() {
    if (fd_ >= 0) ::close(fd_);
    if (!kept_) ::unlink(path_.c_str());
  }
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;

  // Appends `size` bytes; false, with error() set, if the disk refuses.
  bool Write(const char* data, size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd_, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail("cannot store the upload: " + Errno());
      data += n;
      size -= static_cast<size_t>(n);
      size_ += n;
    }
    return true;
  }
  // Flushes the file to disk and closes it.
  Status Finish() {
    const int fd = std::exchange(fd_, -1);
    if (::fsync(fd) != 0) Fail("cannot flush the upload to disk: " + Errno());
    if (::close(fd) != 0) Fail("cannot close the upload: " + Errno());
    return error_;
  }
  // Leaves the file in place (its new owner moved it away).
  void Keep() { kept_ = true; }

  const std::string& path() const { return path_; }
  int64_t size() const { return size_; }
  const Status& error() const { return error_; }

 private:
  Upload(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  static std::string Errno() { return std::strerror(errno); }
  // Records the first error; returns false.
  bool Fail(const std::string& message) {
    if (error_.ok()) error_ = Status::IoError(message);
    return false;
  }

  std::string path_;
  int fd_;
  int64_t size_ = 0;
  Status error_;
  bool kept_ = false;
};

}  // namespace

struct HttpServer::Call {
  explicit Call(const Request& request) : req(request) {}

  const Request& req;
  int64_t id = 0;                  // the {id} of the path, if the route has one
  json body;                       // BodyKind::kJson: the parsed object
  std::unique_ptr<Upload> upload;  // BodyKind::kUpload: the complete file
};

struct HttpServer::Route {
  std::string method;
  std::regex path;           // the whole path; group 1, if any, is {id}
  std::optional<Role> role;  // nullopt: no token needed
  BodyKind body;
  int64_t max_body;  // bytes
  std::function<void(Call&, Response&)> handle;
};

HttpServer::HttpServer(ApiBackend* backend, Metrics* metrics, HttpOptions options)
    : backend_(backend), metrics_(metrics), options_(std::move(options)), routes_(MakeRoutes()) {}

HttpServer::~HttpServer() { Stop(); }

std::vector<HttpServer::Route> HttpServer::MakeRoutes() {
  ApiBackend* b = backend_;
  const int64_t max_upload = options_.max_upload_bytes;
  auto route = [max_upload](const char* method, const char* path, std::optional<Role> role,
                            BodyKind body, std::function<void(Call&, Response&)> handle) {
    const int64_t max_body = body == BodyKind::kJson     ? std::min(kMaxJsonBodyBytes, max_upload)
                             : body == BodyKind::kUpload ? max_upload
                                                         : 0;
    return Route{method, std::regex(path), role, body, max_body, std::move(handle)};
  };
  // A GET of a backend document.
  auto get = [&](const char* path, std::function<StatusOr<json>(const Call&)> fetch) {
    return route("GET", path, Role::kViewer, BodyKind::kNone,
                 [fetch](Call& call, Response& res) { Reply(res, fetch(call), 200); });
  };
  const auto none = std::nullopt;  // no token needed
  const auto no_body = BodyKind::kNone;
  std::vector<Route> routes;
  routes.push_back(route("GET", "/healthz", none, no_body, [](Call&, Response& res) {
    WriteJson(res, 200, {{"status", "ok"}});
  }));
  routes.push_back(route("GET", "/readyz", none, no_body, [b](Call&, Response& res) {
    if (b->Ready()) return WriteJson(res, 200, {{"status", "ready"}});
    WriteError(res, 503, "the daemon is still starting");
  }));
  routes.push_back(route("GET", "/metrics", none, no_body, [b](Call&, Response& res) {
    res.status = 200;
    res.set_content(b->MetricsText(), kPrometheusType);
  }));
  routes.push_back(get("/v1/schemes", [b](const Call&) { return b->Schemes(); }));
  routes.push_back(get("/v1/licensees", [b](const Call&) { return b->Licensees(); }));
  routes.push_back(
      route("POST", "/v1/licensees", Role::kAdmin, BodyKind::kJson, [b](Call& call, Response& res) {
        const auto name = call.body.find("name");
        if (name == call.body.end() || !name->is_string()) {
          return WriteError(res, 400, "the body must be {\"name\": STRING}");
        }
        Reply(res, b->AddLicensee(name->get<std::string>()), 201);
      }));
  routes.push_back(get("/v1/releases", [b](const Call&) { return b->Releases(); }));
  routes.push_back(
      get("/v1/releases/([0-9]{1,18})", [b](const Call& call) { return b->Release(call.id); }));
  routes.push_back(
      route("POST", "/v1/releases", Role::kAdmin, BodyKind::kJson,
            [b](Call& call, Response& res) { Reply(res, b->CreateRelease(call.body), 202); }));
  routes.push_back(get("/v1/investigations", [b](const Call&) { return b->Investigations(); }));
  routes.push_back(get("/v1/investigations/([0-9]{1,18})",
                       [b](const Call& call) { return b->Investigation(call.id); }));
  // A model file as the body, or (Content-Type: application/json) a deployed
  // endpoint to query: {"endpoint": URL, "model": NAME}.
  routes.push_back(route("POST", "/v1/investigations", Role::kInvestigator, BodyKind::kUpload,
                         [b](Call& call, Response& res) {
                           if (!call.upload) {  // a JSON body (see ReadBody)
                             return Reply(res, b->CreateEndpointInvestigation(call.body), 202);
                           }
                           auto result = b->CreateInvestigation(call.upload->path(),
                                                                call.req.get_param_value("name"));
                           if (result.ok()) call.upload->Keep();
                           Reply(res, result, 202);
                         }));
  return routes;
}

Status HttpServer::Start() {
  if (server_ != nullptr) return Status::FailedPrecondition("the HTTP server was started already");
  if (options_.threads < 1) return Status::InvalidArgument("HTTP threads must be at least 1");
  if (options_.max_upload_bytes < 1) {
    return Status::InvalidArgument("max_upload_bytes must be at least 1");
  }
  struct stat st;
  if (::stat(options_.upload_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("upload directory is not a directory: '" + options_.upload_dir +
                                   "'");
  }
  std::signal(SIGPIPE, SIG_IGN);

  if (options_.threads <= options_.connections.max_connections) {
    return Status::InvalidArgument("HTTP threads must exceed max_connections");
  }
  auto server = std::make_unique<GuardedServer>(options_.connections);
  server->new_task_queue = [threads = options_.threads] {
    return new httplib::ThreadPool(threads);
  };
  server->set_payload_max_length(static_cast<size_t>(options_.max_upload_bytes));
  // GuardedServer applies the per-read and per-write timeouts itself.
  // httplib's default adds SO_REUSEPORT, which would let a second daemon
  // bind a port that is in use.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Runs just before every response is written, with its final status.
  server->set_post_routing_handler([metrics = metrics_](const Request& req, Response& res) {
    metrics->HttpRequest(req.method, res.status);
  });
  // Errors httplib answers itself (malformed requests, limits) get JSON too.
  server->set_error_handler(httplib::Server::HandlerWithResponse([](const Request&, Response& res) {
    if (res.body.empty()) {
      WriteError(res, res.status,
                 res.status >= 500   ? "internal error"
                 : res.status == 413 ? "the request body is too large"
                                     : "malformed request");
    }
    return httplib::Server::HandlerResponse::Handled;  // so Content-Length gets set
  }));
  server->set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
    res.set_header("Connection", "close");
    WriteError(res, 500, "internal error");
  });
  server->set_expect_100_continue_handler(
      [this](const Request& req, Response& res) { return ExpectContinue(req, res); });
  // Every path goes to Dispatch, which knows the routes (and so 404 vs 405).
  const std::string any = "[\\s\\S]*";  // "." would not match a %0A in a path
  auto plain = [this](const Request& req, Response& res) { Dispatch(req, res, nullptr); };
  auto with_body = [this](const Request& req, Response& res, const ContentReader& reader) {
    Dispatch(req, res, &reader);
  };
  server->Get(any, plain);
  server->Options(any, plain);
  server->Post(any, with_body);
  server->Put(any, with_body);
  server->Patch(any, with_body);
  server->Delete(any, with_body);

  const int port = options_.port == 0 ? server->bind_to_any_port(options_.host)
                   : server->bind_to_port(options_.host, options_.port) ? options_.port
                                                                        : -1;
  if (port < 0) {
    return Status::IoError("cannot listen on " + options_.host + ":" +
                           std::to_string(options_.port) + ": " + std::strerror(errno));
  }
  server_ = std::move(server);
  port_ = port;
  thread_ = std::thread([server = server_.get()] { server->listen_after_bind(); });
  // httplib's stop() is a no-op until the accept loop runs; wait for it so
  // that Stop() right after Start() cannot miss it.
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

const HttpServer::Route* HttpServer::FindRoute(const std::string& method, const std::string& path,
                                               int64_t* id) const {
  const std::string wanted = method == "HEAD" ? "GET" : method;
  for (const Route& route : routes_) {
    std::smatch match;
    if (route.method != wanted || !std::regex_match(path, match, route.path)) continue;
    // An id too large for int64 names nothing: 404 like any unknown id.
    if (match.size() > 1 && !ParseInt(match[1].str(), id)) *id = -1;
    return &route;
  }
  return nullptr;
}

std::string HttpServer::AllowedMethods(const std::string& path) const {
  std::string allowed;
  for (const Route& route : routes_) {
    if (!std::regex_match(path, route.path)) continue;
    allowed += (allowed.empty() ? "" : ", ") + route.method;
  }
  return allowed;
}

void HttpServer::Dispatch(const Request& req, Response& res, const ContentReader* reader) {
  Call call{req};
  const Route* route = Preflight(call, res);
  if (route == nullptr) {
    // Read the refused body anyway, so the connection stays usable.
    StreamBody(req, res, reader, 0, options_.max_upload_bytes, nullptr);
    return;
  }
  if (ReadBody(*route, res, reader, call)) route->handle(call, res);
}

const HttpServer::Route* HttpServer::Preflight(Call& call, Response& res) {
  const Request& req = call.req;
  const Route* route = FindRoute(req.method, req.path, &call.id);
  if (route == nullptr) {
    const std::string allowed = AllowedMethods(req.path);
    if (allowed.empty()) {
      WriteError(res, 404, "no such endpoint: " + req.path);
    } else {
      res.set_header("Allow", allowed);
      WriteError(res, 405, req.method + " is not allowed on " + req.path + "; use " + allowed);
    }
    return nullptr;
  }
  if (route->role && !Authorize(req, *route->role, res)) return nullptr;
  if (route->body == BodyKind::kNone) return route;
  if (req.is_multipart_form_data()) {
    WriteError(res, 415, "send the content as the raw request body, not as multipart/form-data");
    return nullptr;
  }
  if (DeclaredLength(req) > static_cast<uint64_t>(route->max_body)) {
    Arrived(BodyResult::kTooLarge, route->max_body, res);
    return nullptr;
  }
  return route;
}

int HttpServer::ExpectContinue(const Request& req, Response& res) {
  Call call{req};
  if (Preflight(call, res) != nullptr) return 100;
  res.set_header("Connection", "close");  // in case the client sends the body anyway
  return res.status;
}

bool HttpServer::Authorize(const Request& req, Role min, Response& res) {
  auto unauthorized = [&res](const std::string& message) {
    res.set_header("WWW-Authenticate", "Bearer");
    WriteError(res, 401, message);
    return false;
  };
  const std::string token = BearerToken(req);
  if (token.empty()) {
    return unauthorized("missing or malformed Authorization header; expected 'Bearer TOKEN'");
  }
  StatusOr<Role> role = backend_->Authenticate(token);
  if (!role.ok() && role.status().code() == Status::Code::kNotFound) {
    return unauthorized("unknown token");
  }
  if (!role.ok()) {
    WriteStatus(res, role.status());
    return false;
  }
  if (role.value() < min) {
    WriteError(res, 403,
               std::string("this needs the ") + RoleName(min) + " role; the token has the " +
                   RoleName(role.value()) + " role");
    return false;
  }
  return true;
}

bool HttpServer::ReadBody(const Route& route, Response& res, const ContentReader* reader,
                          Call& call) {
  const Request& req = call.req;
  const int64_t discard = options_.max_upload_bytes;
  switch (route.body) {
    case BodyKind::kNone:
      return true;
    case BodyKind::kJson:
      return ReadJsonBody(req, res, reader, route.max_body, discard, call.body);
    case BodyKind::kUpload: {
      if (IsJsonRequest(req)) {
        return ReadJsonBody(req, res, reader, std::min(kMaxJsonBodyBytes, route.max_body), discard,
                            call.body);
      }
      StatusOr<std::unique_ptr<Upload>> created = Upload::Create(options_.upload_dir);
      if (!created.ok()) {
        StreamBody(req, res, reader, 0, discard, nullptr);
        WriteStatus(res, created.status());
        return false;
      }
      Upload& upload = *created.value();
      const BodyResult result =
          StreamBody(req, res, reader, route.max_body, discard,
                     [&upload](const char* data, size_t size) { return upload.Write(data, size); });
      if (!upload.error().ok()) {
        WriteStatus(res, upload.error());
        return false;
      }
      if (!Arrived(result, route.max_body, res)) return false;
      if (upload.size() == 0) {
        WriteError(res, 400, "the request body is empty; send the suspect model as the body");
        return false;
      }
      const Status finished = upload.Finish();
      if (!finished.ok()) {
        WriteStatus(res, finished);
        return false;
      }
      call.upload = std::move(created).value();
      return true;
    }
  }
  return false;
}

}  // namespace tracemark::daemon
