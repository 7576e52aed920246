#include "daemon/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace tracemark::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kMaxUpload = 64 << 10;

// The documents the fake backend serves, shaped as docs/api.md shows them.
const json& Docs() {
  static const json docs = json::parse(R"json({
    "schemes": [{"name": "uchida", "title": "Uchida et al. weight watermark (baseline)",
                 "access": "weights", "white_box": true, "black_box": false,
                 "default_code": "random", "capacity": "bits <= carrier size",
                 "params": [{"name": "layer", "default": "auto", "description": "carrier"}]}],
    "licensees": [{"id": 1, "name": "initech", "created_at": "2024-05-01T12:00:00Z"}],
    "releases": [{"id": 1, "model": "fashion-cnn", "version": "1", "scheme": "deepmarks",
                  "params": {"layer": "fc1.weight"}, "code": "bibd", "status": "done",
                  "copies_done": 1, "copies_total": 1}],
    "release": {"id": 1, "model": "fashion-cnn", "version": "1", "scheme": "deepmarks",
                "params": {"layer": "fc1.weight"}, "code": "bibd", "status": "done",
                "copies": [{"licensee": "initech", "status": "done", "sha256": "ab12"}]},
    "investigations": [{"id": 7, "source": "upload", "name": "leak.pt", "status": "done",
                        "verdict": "attributed"}],
    "investigation": {"id": 7, "source": "upload", "name": "leak.pt", "status": "done",
                      "verdict": "attributed",
                      "report": {"verdict": "attributed", "accused": ["initech"]}}
  })json");
  return docs;
}

// An ApiBackend serving Docs() that records what the server hands it.
class FakeBackend : public ApiBackend {
 public:
  struct Upload {
    std::string path;
    std::string name;
    std::string bytes;  // the file's contents when the backend got it
  };

  explicit FakeBackend(Metrics* metrics) : metrics_(metrics) {}

  StatusOr<Role> Authenticate(const std::string& token) override {
    if (token == "admin-token") return Role::kAdmin;
    if (token == "inv-token") return Role::kInvestigator;
    if (token == "viewer-token") return Role::kViewer;
    return Status::NotFound("unknown token");
  }
  bool Ready() override { return ready; }
  std::string MetricsText() override { return metrics_->Exposition(); }
  StatusOr<json> Schemes() override { return Docs()["schemes"]; }
  StatusOr<json> Licensees() override { return Docs()["licensees"]; }
  StatusOr<json> AddLicensee(const std::string& name) override {
    Record(names_, name);
    if (name == "initech") return Status::AlreadyExists("licensee 'initech' exists already");
    return json{{"id", 2}, {"name", name}, {"created_at", "2024-05-02T09:00:00Z"}};
  }
  StatusOr<json> Releases() override { return Docs()["releases"]; }
  StatusOr<json> Release(int64_t id) override {
    if (id == 1) return Docs()["release"];
    // A backend bug the server must not pass on.
    if (id == 13) return json{{"id", 13}, {"keys", {{"code_seed", 42}}}};
    return Status::NotFound("no release " + std::to_string(id));
  }
  StatusOr<json> CreateRelease(const json& body) override {
    Record(release_bodies_, body);
    return json{{"id", 2}, {"status", "queued"}};
  }
  StatusOr<json> Investigations() override { return Docs()["investigations"]; }
  StatusOr<json> Investigation(int64_t id) override {
    if (id == 7) return Docs()["investigation"];
    return Status::NotFound("no investigation " + std::to_string(id));
  }
  StatusOr<json> CreateEndpointInvestigation(const json& body) override {
    Record(endpoint_bodies_, body);
    if (!body.contains("endpoint")) return Status::InvalidArgument("no endpoint");
    return json{{"id", 9}, {"status", "queued"}};
  }
  // Reads the file; takes it away (as the contract says) unless refusing it.
  StatusOr<json> CreateInvestigation(const std::string& uploaded_path,
                                     const std::string& original_name) override {
    std::ifstream in(uploaded_path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Record(uploads_, Upload{uploaded_path, original_name, std::move(bytes)});
    if (original_name == "reject.pt") return Status::InvalidArgument("not a TorchScript model");
    fs::remove(uploaded_path);
    return json{{"id", 8}, {"status", "queued"}};
  }

  std::vector<std::string> names() { return Get(names_); }
  std::vector<json> release_bodies() { return Get(release_bodies_); }
  std::vector<json> endpoint_bodies() { return Get(endpoint_bodies_); }
  std::vector<Upload> uploads() { return Get(uploads_); }

  std::atomic<bool> ready{false};

 private:
  template <typename T>
  void Record(std::vector<T>& log, T value) {
    std::lock_guard<std::mutex> lock(mutex_);
    log.push_back(std::move(value));
  }
  template <typename T>
  std::vector<T> Get(const std::vector<T>& log) {
    std::lock_guard<std::mutex> lock(mutex_);
    return log;
  }

  Metrics* metrics_;
  std::mutex mutex_;
  std::vector<std::string> names_;
  std::vector<json> release_bodies_;
  std::vector<json> endpoint_bodies_;
  std::vector<Upload> uploads_;
};

// `size` reproducible random bytes (NULs and newlines included).
std::string RandomBytes(size_t size) {
  std::mt19937 rng(7);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
  return bytes;
}

// `data` sent with chunked transfer encoding, 8 KiB a chunk.
httplib::ContentProviderWithoutLength Chunked(std::string data) {
  return [data = std::move(data)](size_t offset, httplib::DataSink& sink) {
    if (offset < data.size()) {
      sink.write(data.data() + offset, std::min<size_t>(8192, data.size() - offset));
    } else {
      sink.done();
    }
    return true;
  };
}

// Whether `doc` has a member named `name` at any depth.
bool HoldsField(const json& doc, const std::string& name) {
  if (doc.is_object()) {
    for (const auto& item : doc.items()) {
      if (item.key() == name || HoldsField(item.value(), name)) return true;
    }
  }
  if (doc.is_array()) {
    for (const json& element : doc) {
      if (HoldsField(element, name)) return true;
    }
  }
  return false;
}

// The JSON body of `res`, which must be labelled application/json.
json Body(const httplib::Result& res) {
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  return json::parse(res->body);
}

// Expects a JSON error: status `http`, {"error": `code`, "message": one line}.
void ExpectError(const httplib::Result& res, int http, const std::string& code) {
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, http) << res->body;
  const json body = Body(res);
  EXPECT_EQ(body.size(), 2u) << body;
  EXPECT_EQ(body.value("error", ""), code) << body;
  const std::string message = body.value("message", "");
  EXPECT_FALSE(message.empty());
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

// The value of tracemark_http_requests_total{method, code} in `text`; -1 if absent.
double HttpRequests(const std::string& text, const std::string& method, int code) {
  const std::string series = "tracemark_http_requests_total{code=\"" + std::to_string(code) +
                             "\",method=\"" + method + "\"} ";
  const size_t at = text.find("\n" + series);
  return at == std::string::npos ? -1 : std::atof(text.c_str() + at + 1 + series.size());
}

// Sends `request` on a raw connection to 127.0.0.1:`port`; returns the
// response (head and Content-Length body, or a 100 Continue) without
// waiting for the server to close.
std::string Exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) {
      response.append(buf, static_cast<size_t>(n));
      const size_t head_end = response.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      if (response.rfind("HTTP/1.1 100 ", 0) == 0) break;  // interim: no body
      const size_t length_at = response.find("Content-Length: ");
      if (length_at == std::string::npos) continue;
      const size_t length = std::strtoul(response.c_str() + length_at + 16, nullptr, 10);
      if (response.size() >= head_end + 4 + length) break;
    }
  }
  ::close(fd);
  return response;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (fs::temp_directory_path() / "http_server_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    upload_dir_ = dir;
    server_ = std::make_unique<HttpServer>(&backend_, &metrics_, Options(0));
    const Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.message();
    ASSERT_GT(server_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(5);
  }
  void TearDown() override {
    client_.reset();  // an idle keep-alive connection would hold Stop() up to 5 s
    server_->Stop();
    fs::remove_all(upload_dir_);
  }

  HttpOptions Options(int port) const {
    HttpOptions options;
    options.port = port;
    options.max_upload_bytes = kMaxUpload;
    options.upload_dir = upload_dir_;
    options.threads = 4;
    options.connections.max_connections = 3;
    options.connections.max_connections_per_client = 3;
    return options;
  }
  static httplib::Headers Auth(const std::string& token) {
    if (token.empty()) return {};
    return {{"Authorization", "Bearer " + token}};
  }
  httplib::Result Get(const std::string& path, const std::string& token = "") {
    return client_->Get(path, Auth(token));
  }
  httplib::Result PostJson(const std::string& path, const std::string& body,
                           const std::string& token) {
    return client_->Post(path, Auth(token), body, "application/json");
  }
  httplib::Result Upload(const std::string& path, const std::string& model,
                         const std::string& token = "inv-token") {
    return client_->Post(path, Auth(token), model, "application/octet-stream");
  }
  std::vector<std::string> UploadDirEntries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(upload_dir_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  Metrics metrics_{{"uchida"}, "0.1.0", "1.13.1"};
  FakeBackend backend_{&metrics_};
  std::string upload_dir_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HttpServerTest, HealthzNeedsNoToken) {
  const auto res = Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Body(res), (json{{"status", "ok"}}));
}

TEST_F(HttpServerTest, ReadyzIs503UntilTheBackendIsReady) {
  ExpectError(Get("/readyz"), 503, "unavailable");
  backend_.ready = true;
  const auto res = Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Body(res), (json{{"status", "ready"}}));
}

TEST_F(HttpServerTest, MetricsArePrometheusTextCountingEveryResponse) {
  ASSERT_EQ(Get("/healthz")->status, 200);
  ExpectError(Get("/v1/licensees"), 401, "unauthorized");
  ExpectError(client_->Delete("/healthz"), 405, "method_not_allowed");
  const auto res = Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_EQ(HttpRequests(res->body, "GET", 200), 1) << res->body;
  EXPECT_EQ(HttpRequests(res->body, "GET", 401), 1);
  EXPECT_EQ(HttpRequests(res->body, "DELETE", 405), 1);
  // The scrape itself is counted before its response is written.
  EXPECT_EQ(HttpRequests(metrics_.Exposition(), "GET", 200), 2);
}

TEST_F(HttpServerTest, RequestsWithoutAValidTokenAre401) {
  const std::vector<httplib::Headers> cases = {
      {},                                                                        // no header
      {{"Authorization", "Bearer wrong-token"}},                                 // unknown token
      {{"Authorization", "admin-token"}},                                        // no scheme
      {{"Authorization", "Basic YWRtaW46YWRtaW4="}},                             // another scheme
      {{"Authorization", "Bearer"}},                                             // no token
      {{"Authorization", "Bearer admin-token extra"}},                           // not one token
      {{"Authorization", "Bearer admin-token"}, {"Authorization", "Bearer x"}},  // twice
  };
  for (const auto& headers : cases) {
    const auto res = client_->Get("/v1/licensees", headers);
    ExpectError(res, 401, "unauthorized");
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer");
  }
  // The scheme name is case-insensitive.
  const auto res = client_->Get("/v1/licensees", {{"Authorization", "bearer viewer-token"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpServerTest, RolesBelowTheRoutesAre403) {
  ExpectError(Upload("/v1/investigations", "model", "viewer-token"), 403, "forbidden");
  ExpectError(PostJson("/v1/licensees", R"({"name": "acme"})", "inv-token"), 403, "forbidden");
  ExpectError(PostJson("/v1/releases", R"({"model": "m", "version": "2"})", "viewer-token"), 403,
              "forbidden");
  EXPECT_TRUE(backend_.names().empty());
  EXPECT_TRUE(backend_.release_bodies().empty());
  EXPECT_TRUE(backend_.uploads().empty());
  EXPECT_TRUE(UploadDirEntries().empty());
}

TEST_F(HttpServerTest, GetEndpointsReturnTheBackendsDocuments) {
  const std::pair<const char*, const char*> cases[] = {
      {"/v1/schemes", "schemes"},
      {"/v1/licensees", "licensees"},
      {"/v1/releases", "releases"},
      {"/v1/releases/1", "release"},
      {"/v1/investigations", "investigations"},
      {"/v1/investigations/7", "investigation"},
  };
  for (const auto& [path, doc] : cases) {
    const auto res = Get(path, "viewer-token");
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path << ": " << res->body;
    EXPECT_EQ(Body(res), Docs()[doc]) << path;
  }
}

TEST_F(HttpServerTest, AddLicenseePassesTheNameAndAnswers409WhenTaken) {
  const auto res = PostJson("/v1/licensees", R"({"name": "acme"})", "admin-token");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(Body(res).value("name", ""), "acme");
  ExpectError(PostJson("/v1/licensees", R"({"name": "initech"})", "admin-token"), 409, "conflict");
  EXPECT_EQ(backend_.names(), (std::vector<std::string>{"acme", "initech"}));
}

TEST_F(HttpServerTest, CreateReleasePassesTheBodyAndAnswers202) {
  const auto res =
      PostJson("/v1/releases", R"({"model": "fashion-cnn", "version": "2"})", "admin-token");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202);
  EXPECT_EQ(Body(res), (json{{"id", 2}, {"status", "queued"}}));
  EXPECT_EQ(backend_.release_bodies(),
            (std::vector<json>{{{"model", "fashion-cnn"}, {"version", "2"}}}));
}

TEST_F(HttpServerTest, MalformedJsonBodiesAre400) {
  for (const char* body : {"{\"name\": ", "not json", "", "[\"acme\"]", "{}", "{\"name\": 5}"}) {
    ExpectError(PostJson("/v1/licensees", body, "admin-token"), 400, "bad_request");
  }
  ExpectError(PostJson("/v1/releases", "{\"model\": ", "admin-token"), 400, "bad_request");
  ExpectError(PostJson("/v1/releases", "7", "admin-token"), 400, "bad_request");
  EXPECT_TRUE(backend_.names().empty());
  EXPECT_TRUE(backend_.release_bodies().empty());
}

TEST_F(HttpServerTest, OversizedJsonBodiesAre413) {
  // JSON bodies are limited to 1 MiB, or max_upload_bytes if smaller.
  const std::string body = "{\"name\": \"" + std::string(kMaxUpload, 'a') + "\"}";
  ExpectError(PostJson("/v1/licensees", body, "admin-token"), 413, "payload_too_large");
  ExpectError(
      client_->Post("/v1/licensees", Auth("admin-token"), Chunked(body), "application/json"), 413,
      "payload_too_large");
  EXPECT_TRUE(backend_.names().empty());
}

TEST_F(HttpServerTest, UnknownIdsAre404) {
  ExpectError(Get("/v1/releases/99", "viewer-token"), 404, "not_found");
  ExpectError(Get("/v1/investigations/99", "viewer-token"), 404, "not_found");
}

TEST_F(HttpServerTest, UnknownPathsAre404) {
  for (const char* path : {"/", "/nope", "/v1", "/v1/licensees/", "/v1/releases/abc",
                           "/v1/releases/1234567890123456789012", "/v1/schemes/uchida", "/a%0Ab"}) {
    ExpectError(Get(path, "admin-token"), 404, "not_found");
  }
  ExpectError(PostJson("/v1/nope", "{}", ""), 404, "not_found");
}

TEST_F(HttpServerTest, WrongMethodsAre405WithAllow) {
  auto res = client_->Delete("/v1/licensees", Auth("admin-token"));
  ExpectError(res, 405, "method_not_allowed");
  EXPECT_EQ(res->get_header_value("Allow"), "GET, POST");
  res = client_->Post("/healthz", "x", "text/plain");
  ExpectError(res, 405, "method_not_allowed");
  EXPECT_EQ(res->get_header_value("Allow"), "GET");
  res = client_->Put("/v1/releases/1", Auth("admin-token"), "{}", "application/json");
  ExpectError(res, 405, "method_not_allowed");
  EXPECT_EQ(res->get_header_value("Allow"), "GET");
  // The body of a refused request is read, so the connection still works.
  client_->set_keep_alive(true);
  ExpectError(client_->Put("/v1/licensees", "{\"name\": \"x\"}", "application/json"), 405,
              "method_not_allowed");
  EXPECT_EQ(Get("/healthz")->status, 200);
}

TEST_F(HttpServerTest, JsonInvestigationNamesAnEndpointInsteadOfAFile) {
  const auto res =
      PostJson("/v1/investigations", R"({"endpoint": "http://10.0.0.7:8000", "model": "fashion"})",
               "inv-token");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(Body(res), (json{{"id", 9}, {"status", "queued"}}));
  ASSERT_EQ(backend_.endpoint_bodies().size(), 1u);
  EXPECT_EQ(backend_.endpoint_bodies()[0]["model"], "fashion");
  EXPECT_TRUE(backend_.uploads().empty());
  EXPECT_TRUE(UploadDirEntries().empty()) << "a JSON body is not kept as an upload";
  ExpectError(PostJson("/v1/investigations", R"({"model": "fashion"})", "inv-token"), 400,
              "bad_request");
  ExpectError(PostJson("/v1/investigations", "[1, 2]", "inv-token"), 400, "bad_request");
  ExpectError(PostJson("/v1/investigations", R"({"endpoint": "x"})", "viewer-token"), 403,
              "forbidden");
}

TEST_F(HttpServerTest, UploadReachesTheBackendWhole) {
  const std::string model = RandomBytes(kMaxUpload);
  const auto res = Upload("/v1/investigations?name=leak.pt", model);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202) << res->body;
  EXPECT_EQ(Body(res), (json{{"id", 8}, {"status", "queued"}}));
  const auto uploads = backend_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].name, "leak.pt");
  EXPECT_TRUE(uploads[0].bytes == model) << uploads[0].bytes.size() << " bytes";
  EXPECT_EQ(fs::path(uploads[0].path).parent_path(), fs::path(upload_dir_));
  EXPECT_TRUE(UploadDirEntries().empty());
}

TEST_F(HttpServerTest, ChunkedUploadByAnAdminReachesTheBackendWhole) {
  const std::string model = RandomBytes(kMaxUpload - 5);
  const auto res = client_->Post("/v1/investigations", Auth("admin-token"), Chunked(model),
                                 "application/octet-stream");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202) << res->body;
  const auto uploads = backend_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].name, "");
  EXPECT_TRUE(uploads[0].bytes == model) << uploads[0].bytes.size() << " bytes";
}

TEST_F(HttpServerTest, UploadOverTheLimitIs413AndLeavesNoFile) {
  // Declared too long: refused before any file is created.
  ExpectError(Upload("/v1/investigations?name=big.pt", RandomBytes(kMaxUpload + 1)), 413,
              "payload_too_large");
  // Chunked: refused once past the limit; the partial file is removed.
  ExpectError(client_->Post("/v1/investigations", Auth("inv-token"),
                            Chunked(RandomBytes(kMaxUpload + 20000)), "application/octet-stream"),
              413, "payload_too_large");
  EXPECT_TRUE(backend_.uploads().empty());
  EXPECT_TRUE(UploadDirEntries().empty());
  const auto res = Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(HttpServerTest, UploadRefusedByTheBackendIsRemoved) {
  ExpectError(Upload("/v1/investigations?name=reject.pt", "not a model"), 400, "bad_request");
  const auto uploads = backend_.uploads();
  ASSERT_EQ(uploads.size(), 1u);
  EXPECT_EQ(uploads[0].bytes, "not a model");
  EXPECT_TRUE(UploadDirEntries().empty());
}

TEST_F(HttpServerTest, EmptyAndMultipartUploadsAreRefused) {
  ExpectError(Upload("/v1/investigations", ""), 400, "bad_request");
  ExpectError(client_->Post("/v1/investigations", Auth("inv-token"),
                            httplib::MultipartFormDataItems{{"file", "model", "leak.pt", ""}}),
              415, "unsupported_media_type");
  EXPECT_TRUE(backend_.uploads().empty());
  EXPECT_TRUE(UploadDirEntries().empty());
}

TEST_F(HttpServerTest, ExpectContinueRefusesBeforeTheBodyIsSent) {
  const std::string head =
      "POST /v1/investigations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/octet-stream\r\nExpect: 100-continue\r\n";
  const std::string too_long =
      Exchange(server_->port(),
               head + "Authorization: Bearer inv-token\r\nContent-Length: 1000000000\r\n\r\n");
  EXPECT_EQ(too_long.rfind("HTTP/1.1 413 ", 0), 0u) << too_long;
  EXPECT_NE(too_long.find("Connection: close"), std::string::npos) << too_long;
  EXPECT_NE(too_long.find("\"payload_too_large\""), std::string::npos) << too_long;

  const std::string no_token = Exchange(server_->port(), head + "Content-Length: 10\r\n\r\n");
  EXPECT_EQ(no_token.rfind("HTTP/1.1 401 ", 0), 0u) << no_token;

  const std::string fine = Exchange(
      server_->port(), head + "Authorization: Bearer inv-token\r\nContent-Length: 10\r\n\r\n");
  EXPECT_EQ(fine.rfind("HTTP/1.1 100 Continue", 0), 0u) << fine;
}

TEST_F(HttpServerTest, NoResponseHoldsSecretFields) {
  backend_.ready = true;
  std::vector<httplib::Result> responses;
  for (const char* path :
       {"/healthz", "/readyz", "/v1/schemes", "/v1/licensees", "/v1/releases", "/v1/releases/1",
        "/v1/investigations", "/v1/investigations/7", "/v1/releases/99", "/nope"}) {
    responses.push_back(Get(path, "admin-token"));
  }
  responses.push_back(PostJson("/v1/licensees", R"({"name": "acme"})", "admin-token"));
  responses.push_back(PostJson("/v1/releases", R"({"model": "m", "version": "2"})", "admin-token"));
  responses.push_back(Upload("/v1/investigations?name=leak.pt", "model bytes"));
  for (const auto& res : responses) {
    ASSERT_TRUE(res);
    const json body = Body(res);
    EXPECT_FALSE(HoldsField(body, "key")) << body;
    EXPECT_FALSE(HoldsField(body, "code_seed")) << body;
  }
  // A document the backend wrongly fills with a secret is not sent.
  const auto leaky = Get("/v1/releases/13", "admin-token");
  ExpectError(leaky, 500, "internal");
  EXPECT_EQ(leaky->body.find("code_seed"), std::string::npos);
}

TEST_F(HttpServerTest, StartFailsWhenThePortIsTaken) {
  HttpServer second(&backend_, &metrics_, Options(server_->port()));
  const Status started = second.Start();
  EXPECT_EQ(started.code(), Status::Code::kIoError) << started.message();
  EXPECT_EQ(Get("/healthz")->status, 200);
}

TEST_F(HttpServerTest, StartRefusesAMissingUploadDir) {
  HttpOptions options = Options(0);
  options.upload_dir = upload_dir_ + "/missing";
  HttpServer second(&backend_, &metrics_, options);
  EXPECT_EQ(second.Start().code(), Status::Code::kInvalidArgument);
}

TEST_F(HttpServerTest, StopIsIdempotentAndEndsServing) {
  server_->Stop();
  server_->Stop();
  EXPECT_FALSE(Get("/healthz"));
}

}  // namespace
}  // namespace tracemark::daemon
