// HttpServer: tracemarkd's REST API (docs/api.md) over cpp-httplib.
//
// The server owns HTTP: routing, bearer-token authorization, body limits,
// streaming uploads to disk and JSON errors. Everything else is asked of an
// ApiBackend. Every response is counted in Metrics::HttpRequest.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/api_backend.h"
#include "daemon/guarded_server.h"
#include "daemon/metrics.h"
#include "tracemark/base/status.h"

namespace httplib {
class ContentReader;
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace tracemark::daemon {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port (see HttpServer::port())
  // Largest suspect model accepted by POST /v1/investigations; also
  // httplib's payload limit.
  int64_t max_upload_bytes = int64_t{512} << 20;
  // Where uploads are written while they arrive (an existing directory on
  // the filesystem the backend moves them within; not the leak inbox).
  std::string upload_dir;
  // Connections served at once, one thread each; more than
  // connections.max_connections, so that refusals are answered at once.
  int threads = 64;
  ConnectionLimits connections;
};

class HttpServer {
 public:
  // `backend` and `metrics` must outlive the server.
  HttpServer(ApiBackend* backend, Metrics* metrics, HttpOptions options);
  // Stops the server if it is running.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds options.host:options.port and serves on a thread of its own.
  // InvalidArgument for bad options (upload_dir not a directory, threads or
  // max_upload_bytes < 1); IoError when the address cannot be bound (taken,
  // or not local). Ignores SIGPIPE process-wide (httplib writes to sockets
  // that peers may have closed). FailedPrecondition if called again.
  Status Start();

  // The port bound by Start() (the chosen one when options.port was 0);
  // 0 before Start().
  int port() const { return port_; }

  // Stops accepting, lets the connections in progress finish and joins the
  // threads: bounded by the 30 s read/write timeouts for a stalled upload and
  // httplib's 5 s keep-alive timeout for an idle connection. Idempotent; not
  // to be called concurrently with Start().
  void Stop();

 private:
  struct Call;   // one request as route handlers see it
  struct Route;  // a method and path pattern with its role, body kind and handler

  std::vector<Route> MakeRoutes();
  // The route of `method` and `path`, with the path's {id} in `*id`; null
  // if there is none.
  const Route* FindRoute(const std::string& method, const std::string& path, int64_t* id) const;
  // The methods routed for `path`, as an Allow header ("GET, POST"); empty
  // for an unknown path.
  std::string AllowedMethods(const std::string& path) const;
  // Every request (httplib routes them all here). `reader` is null for
  // methods without a body (GET, HEAD, OPTIONS).
  void Dispatch(const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader* reader);
  // The checks a request passes before its body is read: route (404/405),
  // token and role (401/403), media type (415) and declared length (413).
  // The route (with call.id set), or null with the error written to `res`.
  const Route* Preflight(Call& call, httplib::Response& res);
  // Answers "Expect: 100-continue": 100, or the Preflight error status, so
  // clients do not send bodies that would be refused.
  int ExpectContinue(const httplib::Request& req, httplib::Response& res);
  // True if the request's bearer token has role `min` or higher; otherwise
  // writes 401 (no valid token) or 403 (role too low) to `res`.
  bool Authorize(const httplib::Request& req, Role min, httplib::Response& res);
  // Reads the body `route` takes into `call`; false with the error written.
  bool ReadBody(const Route& route, httplib::Response& res, const httplib::ContentReader* reader,
                Call& call);

  ApiBackend* const backend_;
  Metrics* const metrics_;
  const HttpOptions options_;
  std::vector<Route> routes_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace tracemark::daemon
