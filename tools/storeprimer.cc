// storeprimer: loads a deterministic dataset into the cluster, in batches.
#include <iostream>

#include "tools/common/cli.h"
#include "tools/common/client_flags.h"
#include "tools/common/dataset.h"
#include "tools/common/dataset_flags.h"

int main(int argc, char** argv) {
  using namespace thrifty;
  cli::CommandLine command(
      "usage: storeprimer [--peer HOST:PORT] [--count N] [--prefix P] [--value-bytes B]\n"
      "Writes keys P0000000000.. with deterministic values (storetest reads them back).");
  cli::ClientFlags client_flags(command);
  cli::DatasetFlags dataset(command);
  const auto args = command.parse(argc, argv);
  if (!args.empty()) cli::Fail(2, "unexpected argument '" + args.front() + "' (see --help)");
  dataset.check();
  cli::InitClientLogging(argv[0]);
  auto client = client_flags.Connect();
  cli::Progress progress("priming", dataset.count);
  try {
    for (uint64_t start = 0; start < dataset.count; start += dataset.batch) {
      std::vector<diststore::wire::Entry> entries;
      for (uint64_t i = start; i < std::min<uint64_t>(dataset.count, start + dataset.batch); ++i) {
        diststore::wire::Entry e;
        e.key = cli::DatasetKey(dataset.prefix, i);
        e.value = cli::DatasetValue(i, dataset.value_bytes);
        entries.push_back(std::move(e));
      }
      client->multi_put(entries);
      progress.update(start + entries.size());
    }
  } catch (const std::exception& e) {
    progress.finish();
    cli::Fail(2, e.what());
  }
  progress.finish();
  std::cout << "primed " << dataset.count << " keys" << std::endl;
  return 0;
}
