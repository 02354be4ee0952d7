#include "diststore/storage/data_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace thrifty::storage {

namespace {

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

[[noreturn]] void Fail(const std::string& message) { throw DataDirError(message); }

}  // namespace

void MakeDataDir(const std::string& path) {
  if (path.empty()) Fail("the data directory path is empty");
  const std::string what = "data directory '" + path + "'";
  // One component at a time (not std::filesystem::create_directories) so that every
  // directory made here gets 0700, not just the last one, and a failure names its component.
  std::filesystem::path prefix;
  for (const auto& part : std::filesystem::path(path)) {
    prefix /= part;
    if (part.empty() || part == "." || part == ".." || part == prefix.root_path()) continue;
    const std::string component = prefix.string();
    if (::mkdir(component.c_str(), 0700) == 0) {
      // mkdir's mode passed through the umask; the directory is ours alone whatever it is.
      ::chmod(component.c_str(), 0700);
      continue;
    }
    const int error = errno;
    // There already: EEXIST, or EACCES from a parent this process may not write to.
    if (IsDirectory(component)) continue;
    const std::string where = component == path ? "" : "'" + component + "' ";
    if (error == EEXIST) {
      Fail(where.empty() ? what + " exists and is not a directory"
                         : what + ": " + where + "is not a directory");
    }
    Fail("cannot create " + what + ": " + where + std::strerror(error));
  }
  if (!IsDirectory(path)) Fail(what + " is not a directory");
  // RocksDB creates its files inside; X to reach them.
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    Fail(what + " is not writable: " + std::strerror(errno));
  }
}

uint64_t DirectoryBytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, error);
  if (error) Fail("cannot read data directory '" + path + "': " + error.message());
  uint64_t bytes = 0;
  for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) break;  // the directory changed under the iterator: what was counted stands
    std::error_code entry_error;
    if (!fs::is_regular_file(it->symlink_status(entry_error)) || entry_error) continue;
    const uintmax_t size = fs::file_size(it->path(), entry_error);
    if (!entry_error) bytes += size;
  }
  return bytes;
}

}  // namespace thrifty::storage
