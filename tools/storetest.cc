// storetest: reads back the dataset storeprimer wrote and counts what matches.
#include <iostream>

#include "tools/common/cli.h"
#include "tools/common/client_flags.h"
#include "tools/common/dataset.h"
#include "tools/common/dataset_flags.h"

int main(int argc, char** argv) {
  using namespace thrifty;
  cli::CommandLine command(
      "usage: storetest [--peer HOST:PORT] [--count N] [--prefix P] [--value-bytes B]\n"
      "Reads the storeprimer dataset back and prints found/missing/wrong counts.\n"
      "Exit status: 0 all keys match, 1 some are missing or wrong, 2 error.");
  cli::ClientFlags client_flags(command);
  cli::DatasetFlags dataset(command);
  const auto args = command.parse(argc, argv);
  if (!args.empty()) cli::Fail(2, "unexpected argument '" + args.front() + "' (see --help)");
  dataset.check();
  cli::InitClientLogging(argv[0]);
  auto client = client_flags.Connect();
  cli::Progress progress("checking", dataset.count);
  uint64_t found = 0, missing = 0, wrong = 0;
  try {
    for (uint64_t start = 0; start < dataset.count; start += dataset.batch) {
      std::vector<std::string> keys;
      const uint64_t end = std::min<uint64_t>(dataset.count, start + dataset.batch);
      for (uint64_t i = start; i < end; ++i) keys.push_back(cli::DatasetKey(dataset.prefix, i));
      const auto values = client->multi_get(keys);
      for (uint64_t i = start; i < end; ++i) {
        auto it = values.find(keys[i - start]);
        if (it == values.end()) {
          ++missing;
        } else if (it->second != cli::DatasetValue(i, dataset.value_bytes)) {
          ++wrong;
        } else {
          ++found;
        }
      }
      progress.update(end);
    }
  } catch (const std::exception& e) {
    progress.finish();
    cli::Fail(2, e.what());
  }
  progress.finish();
  std::cout << "found " << found << " missing " << missing << " wrong " << wrong << std::endl;
  return (missing == 0 && wrong == 0) ? 0 : 1;
}
