// storeget KEY: prints the value of KEY.
#include <iostream>

#include "tools/common/cli.h"
#include "tools/common/client_flags.h"

int main(int argc, char** argv) {
  using namespace thrifty;
  const auto args = cli::ParseFlags(argc, argv,
      "usage: storeget [--peer HOST:PORT] KEY\n"
      "Prints the value stored under KEY.\n"
      "Exit status: 0 found, 1 the key is absent, 2 error (bad usage, no node reachable, ...).",
      {"tools/common/client_flags.cc"});
  if (args.size() != 1) cli::Fail(2, "expected one KEY (see --help)");
  cli::InitClientLogging(argv[0]);
  auto client = cli::ConnectFromFlags();
  std::optional<std::string> value;
  try {
    value = client->get(args[0]);
  } catch (const std::exception& e) {
    cli::Fail(2, e.what());
  }
  if (!value) cli::Fail(1, "key '" + args[0] + "' not found");
  std::cout << *value;
  if (value->empty() || value->back() != '\n') std::cout << '\n';
  return 0;
}
