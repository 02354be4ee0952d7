#include "tools/common/data_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tools/common/cli.h"

namespace thrifty::cli {

namespace {

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

void MakeDataDir(const std::string& path) {
  if (path.empty()) Fail(2, "the data directory path is empty");
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
      Fail(2, where.empty() ? what + " exists and is not a directory"
                            : what + ": " + where + "is not a directory");
    }
    Fail(2, "cannot create " + what + ": " + where + std::strerror(error));
  }
  if (!IsDirectory(path)) Fail(2, what + " is not a directory");
  // RocksDB creates its files inside; X to reach them.
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    Fail(2, what + " is not writable: " + std::strerror(errno));
  }
}

}  // namespace thrifty::cli
