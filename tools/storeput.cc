// storeput KEY VALUE: stores a value (VALUE "-" reads it from standard input).
#include <cstdio>
#include <string>

#include "tools/common/cli.h"
#include "tools/common/client_flags.h"

int main(int argc, char** argv) {
  using namespace thrifty;
  cli::CommandLine command(
      "usage: storeput [--peer HOST:PORT] KEY VALUE\n"
      "Stores VALUE under KEY in the cluster (VALUE '-' reads standard input).\n"
      "Exit status: 0 stored, 2 error (bad usage, refused e.g. over a size limit, no node reachable).");
  cli::ClientFlags client_flags(command);
  const auto args = command.parse(argc, argv);
  if (args.size() != 2) cli::Fail(2, "expected KEY VALUE (see --help)");
  cli::InitClientLogging(argv[0]);
  std::string value = args[1];
  if (value == "-") {
    // In blocks: a character at a time took seconds for a value of 100 MB.
    value.clear();
    char block[1 << 16];
    size_t n;
    while ((n = std::fread(block, 1, sizeof block, stdin)) > 0) value.append(block, n);
    if (std::ferror(stdin)) cli::Fail(2, "cannot read the value from standard input");
  }
  auto client = client_flags.Connect();
  try {
    client->put(args[0], value);
  } catch (const client::ClientError& e) {
    cli::Fail(2, e.what());
  } catch (const std::exception& e) {
    cli::Fail(2, e.what());
  }
  return 0;
}
