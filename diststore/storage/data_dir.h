// The data directory of a store node, made ready before the engine opens it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace thrifty::storage {

// The data dir cannot be made or used; the message names the path and why, in one line.
struct DataDirError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Makes `path` a directory this process can write to, like `mkdir -p`: the directory and each
// missing parent are created with mode 0700 (the data is nobody else's business); directories
// that exist keep their mode. Throws DataDirError if a component exists and is not a
// directory, a directory cannot be created, or the result is not writable.
void MakeDataDir(const std::string& path);

// The bytes of every regular file under `path`, at any depth (their sizes, as `du
// --apparent-size` counts them; symbolic links are not followed). A file that goes away while
// it is counted (RocksDB compacts meanwhile) counts 0. Throws DataDirError if `path` cannot be
// read as a directory.
uint64_t DirectoryBytes(const std::string& path);

}  // namespace thrifty::storage
