// Command-line handling shared by every thrifty tool: GNU-style flags on top of gflags.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace thrifty::cli {

// Parses argv against the gflags defined in the program.
// - `--name=value`, `--name value`, `-n value`; `--flag`/`--noflag` for booleans;
//   dashes in names are read as underscores (`--data-dir` is the flag data_dir);
// - `short_names` gives flags a one-letter spelling: with {{'o', "output"}}, `-o FILE` and
//   `-o=FILE` set --output (gflags has no aliases; a flag named `o` would lose `--output`);
// - `--` ends the flags; everything else is returned, in order, as positional arguments;
// - `--help`/`-h` prints `usage` and the flags defined in source files whose path contains one
//   of `flag_files`, then exits 0; `--version` prints the version and exits 0;
// - an unknown flag, a missing or bad value: one line on stderr, exit 2.
std::vector<std::string> ParseFlags(int argc, char** argv, const std::string& usage,
                                    const std::vector<std::string>& flag_files,
                                    const std::map<char, std::string>& short_names = {});

// Logging for a long-running server: glog to stderr, INFO and up.
void InitServerLogging(const char* argv0);
// Logging for a short client command: only errors, to stderr, so output stays clean.
void InitClientLogging(const char* argv0);

// Prints "PROGRAM: message" on stderr and exits with `code`.
[[noreturn]] void Fail(int code, const std::string& message);

const std::string& ProgramName();

}  // namespace thrifty::cli
