// The data directory of a storeserver, made ready before the engine opens it.
#pragma once

#include <string>

namespace thrifty::cli {

// Makes `path` a directory this process can write to, like `mkdir -p`: the directory and
// each missing parent are created with mode 0700 (the data is nobody else's business);
// directories that exist keep their mode. A component that exists and is not a directory,
// a directory that cannot be created, or one that is not writable: one line on stderr naming
// the path, exit 2 (a usage error, said before the engine adds its own chain of messages).
void MakeDataDir(const std::string& path);

}  // namespace thrifty::cli
