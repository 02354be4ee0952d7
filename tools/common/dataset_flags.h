// Flags of the dataset commands (storeprimer, storetest).
#pragma once

#include <cstdint>
#include <string>

#include "tools/common/cli.h"

namespace thrifty::cli {

struct DatasetFlags {
  uint64_t count = 10000;
  std::string prefix = "key";
  uint64_t value_bytes = 100;
  uint64_t batch = 500;

  // Adds --count, --prefix, --value-bytes and --batch to `command`.
  explicit DatasetFlags(CommandLine& command);
  DatasetFlags(const DatasetFlags&) = delete;
  DatasetFlags& operator=(const DatasetFlags&) = delete;
  // Exits 2 with one line on a bad value.
  void check() const;
};

}  // namespace thrifty::cli
