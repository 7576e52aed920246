#include "daemon/guarded_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace tracemark::daemon {
namespace {

using Clock = std::chrono::steady_clock;

std::string AddressOf(const sockaddr_storage& addr, int* port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    *port = ntohs(a->sin6_port);
  }
  return text;
}

// Waits until `sock` is ready for `events` or `ms` pass.
bool WaitFor(socket_t sock, short events, int64_t ms) {
  if (ms <= 0) return false;
  pollfd p{sock, events, 0};
  for (;;) {
    int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    return ready > 0;
  }
}

// A socket stream whose reads stop at the request's deadlines. It watches
// the bytes it reads for the blank line that ends the headers.
class DeadlineStream : public httplib::Stream {
 public:
  DeadlineStream(socket_t sock, const ConnectionLimits& limits) : sock_(sock), limits_(limits) {}

  // A new request starts: its header and whole-request deadlines run from now.
  void StartRequest() {
    const auto now = Clock::now();
    header_deadline_ = now + std::chrono::seconds(limits_.header_seconds);
    request_deadline_ = now + std::chrono::seconds(limits_.request_seconds);
    in_headers_ = true;
    tail_.clear();
  }

  bool is_readable() const override { return WaitFor(sock_, POLLIN, ReadBudgetMs()); }
  bool is_writable() const override {
    return WaitFor(sock_, POLLOUT, int64_t{limits_.io_seconds} * 1000);
  }

  ssize_t read(char* ptr, size_t size) override {
    if (!is_readable()) return -1;
    ssize_t n;
    do {
      n = ::recv(sock_, ptr, size, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0 && in_headers_) SeeHeaderBytes(ptr, static_cast<size_t>(n));
    return n;
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do {
      n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      ip = AddressOf(addr, &port);
    }
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      ip = AddressOf(addr, &port);
    }
  }
  socket_t socket() const override { return sock_; }

  // Whether the current request ended before its headers did (it was
  // malformed, or its header deadline passed): the connection then closes.
  bool headers_incomplete() const { return in_headers_; }

 private:
  // How long the next read may wait: the I/O timeout, cut to the deadline
  // that applies (headers first, then the whole request).
  int64_t ReadBudgetMs() const {
    const auto now = Clock::now();
    const auto deadline = in_headers_ ? header_deadline_ : request_deadline_;
    const int64_t left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    return std::min<int64_t>(left, int64_t{limits_.io_seconds} * 1000);
  }

  void SeeHeaderBytes(const char* data, size_t size) {
    tail_.append(data, size);
    if (tail_.find("\r\n\r\n") != std::string::npos || tail_.find("\n\n") != std::string::npos) {
      in_headers_ = false;
    }
    if (tail_.size() > 3) tail_.erase(0, tail_.size() - 3);
  }

  socket_t sock_;
  const ConnectionLimits& limits_;
  Clock::time_point header_deadline_, request_deadline_;
  bool in_headers_ = true;
  std::string tail_;  // the last bytes seen, to find "\r\n\r\n" across reads
};

// Answers 503 without reading the request (best effort: the socket may be full).
void Refuse(socket_t sock) {
  static const std::string kBody =
      "{\"error\": \"unavailable\", \"message\": \"too many connections; retry later\"}\n";
  static const std::string kResponse =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(kBody.size()) + "\r\nConnection: close\r\n\r\n" + kBody;
  (void)!::send(sock, kResponse.data(), kResponse.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

bool GuardedServer::Admit(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  int& mine = per_client_[client];
  if (open_ >= limits_.max_connections || mine >= limits_.max_connections_per_client) {
    if (mine == 0) per_client_.erase(client);
    return false;
  }
  ++open_;
  ++mine;
  return true;
}

void GuardedServer::Release(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  --open_;
  if (--per_client_[client] <= 0) per_client_.erase(client);
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  DeadlineStream stream(sock, limits_);
  std::string client;
  int port = 0;
  stream.get_remote_ip_and_port(client, port);
  bool served = false;
  if (!Admit(client)) {
    Refuse(sock);
  } else {
    for (int n = 0; n < limits_.keep_alive_requests; ++n) {
      // Between requests a connection may idle keep_alive_seconds.
      if (n > 0 && !WaitFor(sock, POLLIN, int64_t{limits_.keep_alive_seconds} * 1000)) break;
      stream.StartRequest();
      bool closed = false;
      served = process_request(stream, n + 1 == limits_.keep_alive_requests, closed, nullptr);
      if (!served || closed || stream.headers_incomplete()) break;
    }
    Release(client);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return served;
}

}  // namespace tracemark::daemon
