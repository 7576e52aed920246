#include "tracemark/base/file_util.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace tracemark {
namespace {

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string Hex(const unsigned char* data, unsigned int n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (unsigned int i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

using DigestCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return Status::IoError(Errno("cannot open", path));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Status::IoError(Errno("cannot fsync", path));
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> Sha256File(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError(Errno("cannot read", path));
  auto digest = Sha256Fd(fd, path);
  ::close(fd);
  return digest;
}

StatusOr<std::string> Sha256Fd(int fd, const std::string& name) {
  DigestCtx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError(Errno("cannot read", name));
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf, static_cast<size_t>(n));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  return Hex(md, n);
}

std::string Sha256Hex(const std::string& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
  return Hex(md, n);
}

Status PublishFile(const std::string& tmp_path, const std::string& final_path) {
  TM_RETURN_IF_ERROR(FsyncPath(tmp_path, O_RDONLY));
  if (std::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    return Status::IoError(Errno("cannot rename " + tmp_path + " to", final_path));
  }
  std::string dir = std::filesystem::path(final_path).parent_path().string();
  return FsyncPath(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
}

Status WriteFileAtomically(const std::string& path, const std::string& contents, int mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError(Errno("cannot create", tmp));
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    if (!out.flush()) return Status::IoError(Errno("cannot write", tmp));
  }
  if (mode >= 0 && ::chmod(tmp.c_str(), static_cast<mode_t>(mode)) != 0) {
    std::remove(tmp.c_str());
    return Status::IoError(Errno("cannot chmod", tmp));
  }
  Status st = PublishFile(tmp, path);
  if (!st.ok()) std::remove(tmp.c_str());
  return st;
}

Status MakeDirs(const std::string& dir, bool private_dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create directory " + dir + ": " + ec.message());
  if (private_dir && ::chmod(dir.c_str(), 0700) != 0) {
    return Status::IoError(Errno("cannot chmod", dir));
  }
  return Status::Ok();
}

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Status::NotFound("no such file: " + path);
    return Status::IoError(Errno("cannot read", path));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace tracemark
