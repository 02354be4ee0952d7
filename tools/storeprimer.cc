// storeprimer: loads a deterministic dataset into the cluster, in batches.
#include <iostream>

#include "tools/common/cli.h"
#include "tools/common/client_flags.h"
#include "tools/common/dataset.h"
#include "tools/common/dataset_flags.h"

int main(int argc, char** argv) {
  using namespace thrifty;
  const auto args = cli::ParseFlags(argc, argv,
      "usage: storeprimer [--peer HOST:PORT] [--count N] [--prefix P] [--value-bytes B]\n"
      "Writes keys P0000000000.. with deterministic values (storetest reads them back).",
      {"tools/common/client_flags.cc", "tools/common/dataset_flags.cc"});
  if (!args.empty()) cli::Fail(2, "unexpected argument '" + args.front() + "' (see --help)");
  if (FLAGS_batch < 1 || FLAGS_batch > 10000) cli::Fail(2, "--batch must be in 1..10000");
  cli::InitClientLogging(argv[0]);
  auto client = cli::ConnectFromFlags();
  cli::Progress progress("priming", FLAGS_count);
  try {
    for (uint64_t start = 0; start < FLAGS_count; start += FLAGS_batch) {
      std::vector<rpc::Entry> entries;
      for (uint64_t i = start; i < std::min<uint64_t>(FLAGS_count, start + FLAGS_batch); ++i) {
        rpc::Entry e;
        e.key = cli::DatasetKey(FLAGS_prefix, i);
        e.value = cli::DatasetValue(i, FLAGS_value_bytes);
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
  std::cout << "primed " << FLAGS_count << " keys" << std::endl;
  return 0;
}
