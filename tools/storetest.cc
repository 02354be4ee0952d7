// storetest: reads back the dataset storeprimer wrote and counts what matches.
#include <iostream>

#include "tools/common/cli.h"
#include "tools/common/client_flags.h"
#include "tools/common/dataset.h"
#include "tools/common/dataset_flags.h"

int main(int argc, char** argv) {
  using namespace thrifty;
  const auto args = cli::ParseFlags(argc, argv,
      "usage: storetest [--peer HOST:PORT] [--count N] [--prefix P] [--value-bytes B]\n"
      "Reads the storeprimer dataset back and prints found/missing/wrong counts.\n"
      "Exit status: 0 all keys match, 1 some are missing or wrong, 2 error.",
      {"tools/common/client_flags.cc", "tools/common/dataset_flags.cc"});
  if (!args.empty()) cli::Fail(2, "unexpected argument '" + args.front() + "' (see --help)");
  if (FLAGS_batch < 1 || FLAGS_batch > 10000) cli::Fail(2, "--batch must be in 1..10000");
  cli::InitClientLogging(argv[0]);
  auto client = cli::ConnectFromFlags();
  cli::Progress progress("checking", FLAGS_count);
  uint64_t found = 0, missing = 0, wrong = 0;
  try {
    for (uint64_t start = 0; start < FLAGS_count; start += FLAGS_batch) {
      std::vector<std::string> keys;
      const uint64_t end = std::min<uint64_t>(FLAGS_count, start + FLAGS_batch);
      for (uint64_t i = start; i < end; ++i) keys.push_back(cli::DatasetKey(FLAGS_prefix, i));
      const auto values = client->multi_get(keys);
      for (uint64_t i = start; i < end; ++i) {
        auto it = values.find(keys[i - start]);
        if (it == values.end()) {
          ++missing;
        } else if (it->second != cli::DatasetValue(i, FLAGS_value_bytes)) {
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
