// storeget KEY: prints the value of KEY.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include "tools/common/cli.h"
#include "tools/common/client_flags.h"

namespace {

// Writes exactly `value` to `path` (replaced if it exists); exits 2 naming the file on failure.
void WriteFile(const std::string& path, const std::string& value) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(value.data(), static_cast<std::streamsize>(value.size()));
  if (out) out.close();
  if (!out) thrifty::cli::Fail(2, "cannot write '" + path + "': " + std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace thrifty;
  cli::CommandLine command(
      "usage: storeget [--peer HOST:PORT] [--raw | -o FILE] KEY\n"
      "Prints the value stored under KEY, followed by a newline unless it ends with one (for a\n"
      "terminal). --raw prints exactly the value's bytes; -o/--output FILE writes exactly them\n"
      "to FILE (which is left alone if the key is absent).\n"
      "Exit status: 0 found, 1 the key is absent, 2 error (bad usage, no node reachable, ...).");
  cli::ClientFlags client_flags(command);
  std::string output;
  bool raw = false;
  command.option("-o,--output", output, "write the value's exact bytes to this file instead of printing it")
      .type_name("FILE");
  command.flag("--raw", raw, "print the value's exact bytes: no newline added");
  const auto args = command.parse(argc, argv);
  if (args.size() != 1) cli::Fail(2, "expected one KEY (see --help)");
  if (raw && !output.empty()) cli::Fail(2, "--raw and --output exclude each other");
  cli::InitClientLogging(argv[0]);
  auto client = client_flags.Connect();
  std::optional<std::string> value;
  try {
    value = client->get(args[0]);
  } catch (const std::exception& e) {
    cli::Fail(2, e.what());
  }
  if (!value) cli::Fail(1, "key '" + args[0] + "' not found");
  if (!output.empty()) {
    WriteFile(output, *value);
    return 0;
  }
  std::cout.write(value->data(), static_cast<std::streamsize>(value->size()));
  if (!raw && (value->empty() || value->back() != '\n')) std::cout << '\n';
  // A full disk or a closed pipe must not pass for a complete value.
  if (!std::cout.flush()) cli::Fail(2, "cannot write the value to standard output");
  return 0;
}
