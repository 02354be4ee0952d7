// Command-line handling shared by every thrifty tool: GNU-style flags parsed by CLI11, one
// --help format, and JSON output through nlohmann::json.
#pragma once

#include <string>
#include <memory>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace thrifty::cli {

// The command line of one tool:
// - `--name=value` and `--name value`; `-n value`, `-nvalue` and `-n=value` for one-letter
//   spellings; `--flag`, `--flag=true|false` for booleans (and `--no-flag` where a flag says so);
// - `--` ends the flags; every other argument is positional, in order ("-" included);
// - `--help`/`-h` prints the usage, then every flag with its default, on stdout, and exits 0;
//   `--version` prints the version and exits 0;
// - an unknown flag, a missing or bad value: one line "TOOL: ..." on stderr, exit 2;
// - a flag given twice: the last one counts.
class CommandLine {
 public:
  // A flag just added; names its value in --help (e.g. "FILE", "HOST:PORT").
  class Flag {
   public:
    Flag& type_name(const std::string& name);

   private:
    friend class CommandLine;
    explicit Flag(CLI::Option* option) : option_(option) {}
    CLI::Option* option_;
  };

  // `usage`: what --help starts with ("usage: TOOL ..." and what the tool does).
  explicit CommandLine(const std::string& usage);
  ~CommandLine();
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // A flag that takes a value, stored in `value`; its value now is the default --help shows.
  // The value reads as N for numbers and VALUE otherwise (type_name() names it better).
  // Defined in cli.cc for std::string, the integer types and double (CLI11 is compiled there
  // alone: its headers cost every tool tens of seconds to compile).
  template <typename T>
  Flag option(const std::string& names, T& value, const std::string& help);
  // A boolean flag: `--name` sets it, `--name=false` clears it. `names` may add a negation,
  // e.g. "--gossip,!--no-gossip".
  Flag flag(const std::string& names, bool& value, const std::string& help);
  // Flags added from now on are listed under this heading in --help.
  void group(const std::string& heading);

  // Parses argv and returns the positional arguments; exits as described above.
  std::vector<std::string> parse(int argc, char** argv);

 private:
  std::unique_ptr<CLI::App> app_;
  std::vector<std::string> positional_;
};

// The local discovery range (--discover-from, --discover-to) nodes and clients share.
struct DiscoveryRange {
  int from = 9900;
  int to = 9939;

  void add_flags(CommandLine& command);
  // Exits 2 with one line unless from..to is a range within 1..65535.
  void check() const;
};

// Prints `value` as one line of JSON. Strings keep their UTF-8; bytes that are not valid UTF-8
// are each replaced by U+FFFD, so binary data never breaks the output.
void PrintJson(const nlohmann::ordered_json& value);

// Logging for a long-running server: glog to stderr, INFO and up.
void InitServerLogging(const char* argv0);
// Logging for a short client command: only errors, to stderr, so output stays clean.
void InitClientLogging(const char* argv0);

// Prints "PROGRAM: message" on stderr and exits with `code`.
[[noreturn]] void Fail(int code, const std::string& message);

const std::string& ProgramName();

}  // namespace thrifty::cli
