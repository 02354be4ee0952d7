#include "diststore/storage/host_id.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <openssl/rand.h>

namespace thrifty::storage {

namespace {

constexpr char kFileName[] = "HOST_ID";

bool LooksLikeHostId(const std::string& id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
  }
  return true;
}

[[noreturn]] void Fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("host ID file " + path + ": " + what);
}

void WriteDurably(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) Fail(tmp, std::strerror(errno));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!written) Fail(tmp, std::strerror(saved));
  if (::rename(tmp.c_str(), path.c_str()) != 0) Fail(path, std::strerror(errno));
}

}  // namespace

std::string NewHostId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no random bytes for a host ID");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id += '-';
    id += hex[b[i] >> 4];
    id += hex[b[i] & 0xf];
  }
  return id;
}

std::string LoadOrCreateHostId(const std::string& data_dir, bool* created) {
  const std::string path = data_dir + "/" + kFileName;
  if (created) *created = false;
  std::error_code error;
  if (std::filesystem::exists(path, error)) {
    std::ifstream in(path);
    std::string id;
    if (!in || !std::getline(in, id)) Fail(path, "cannot be read");
    if (!LooksLikeHostId(id)) Fail(path, "does not hold a host ID (a UUID)");
    return id;
  }
  if (error) Fail(path, error.message());
  const std::string id = NewHostId();
  WriteDurably(path, id + "\n");
  if (created) *created = true;
  return id;
}

}  // namespace thrifty::storage
