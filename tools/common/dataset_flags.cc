#include "tools/common/dataset_flags.h"

namespace thrifty::cli {

DatasetFlags::DatasetFlags(CommandLine& command) {
  command.option("--count", count, "number of keys in the dataset");
  command.option("--prefix", prefix, "prefix of every key of the dataset");
  command.option("--value-bytes", value_bytes, "bytes per value");
  command.option("--batch", batch, "keys per multi_put / multi_get request");
}

void DatasetFlags::check() const {
  if (batch < 1 || batch > 10000) Fail(2, "--batch must be in 1..10000");
}

}  // namespace thrifty::cli
