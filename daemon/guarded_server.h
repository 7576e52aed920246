// GuardedServer: httplib's server with the connection handling a public
// port needs, so that slow or idle clients cannot starve the API:
//   - a header deadline: a request's line and headers must arrive within
//     `header_seconds` of its start, however slowly they dribble in;
//   - a whole-request deadline: headers and body within `request_seconds`;
//   - per-read and per-write timeouts of `io_seconds`;
//   - keep-alive: at most `keep_alive_requests` requests per connection and
//     `keep_alive_seconds` idle between them;
//   - admission: at most `max_connections` in all and
//     `max_connections_per_client` from one address; a connection over
//     either is answered 503 at once and closed.
// Each connection runs on one of httplib's worker threads; threads must
// exceed max_connections so that refusals are answered at once.
#pragma once

#include <httplib.h>

#include <map>
#include <mutex>
#include <string>

namespace tracemark::daemon {

struct ConnectionLimits {
  int header_seconds = 10;
  int request_seconds = 600;
  int io_seconds = 30;
  int keep_alive_requests = 100;
  int keep_alive_seconds = 5;
  int max_connections = 48;
  int max_connections_per_client = 32;
};

class GuardedServer : public httplib::Server {
 public:
  explicit GuardedServer(ConnectionLimits limits) : limits_(limits) {}

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Admits a connection from `client`; false when a limit is reached.
  bool Admit(const std::string& client);
  void Release(const std::string& client);

  ConnectionLimits limits_;
  std::mutex mu_;
  int open_ = 0;
  std::map<std::string, int> per_client_;
};

}  // namespace tracemark::daemon
