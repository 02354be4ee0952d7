#include "tools/common/cli.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "locator/rpc/thrift_logging.h"

namespace thrifty::cli {

namespace {

std::string program_name = "thrifty";

std::string Basename(const char* path) {
  std::string p(path ? path : "thrifty");
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

void PrintHelp(const std::string& usage, const std::vector<std::string>& flag_files,
               const std::map<char, std::string>& short_names) {
  std::cout << usage << "\n\nOptions:\n";
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  for (const auto& flag : flags) {
    const bool ours = std::any_of(flag_files.begin(), flag_files.end(), [&](const std::string& f) {
      return flag.filename.find(f) != std::string::npos;
    });
    if (!ours) continue;
    std::string name = flag.name;
    std::replace(name.begin(), name.end(), '_', '-');
    std::string left = (name.size() == 1 ? "  -" : "  --") + name;
    for (const auto& [letter, long_name] : short_names) {
      if (long_name == flag.name) left = std::string("  -") + letter + "," + left.substr(1);
    }
    if (flag.type != "bool") left += " " + std::string(flag.type == "string" ? "VALUE" : "N");
    std::cout << left;
    if (left.size() < 28) std::cout << std::string(28 - left.size(), ' ');
    else std::cout << "\n" << std::string(28, ' ');
    std::cout << flag.description;
    if (!flag.default_value.empty() && flag.type != "bool") {
      std::cout << " (default: " << flag.default_value << ")";
    }
    std::cout << "\n";
  }
  std::cout << "  -h, --help                Show this help and exit.\n"
               "  --version                 Show the version and exit.\n";
}

}  // namespace

const std::string& ProgramName() { return program_name; }

void Fail(int code, const std::string& message) {
  std::cerr << program_name << ": " << message << std::endl;
  std::exit(code);
}

std::vector<std::string> ParseFlags(int argc, char** argv, const std::string& usage,
                                    const std::vector<std::string>& flag_files,
                                    const std::map<char, std::string>& short_names) {
  program_name = Basename(argv[0]);
  gflags::SetUsageMessage(usage);
  std::vector<std::string> positional;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);  // includes "-" (stdin)
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      PrintHelp(usage, flag_files, short_names);
      std::exit(0);
    }
    if (arg == "--version") {
      std::cout << program_name << " (thrifty) 0.1.0" << std::endl;
      std::exit(0);
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    if (arg[1] != '-' && name.size() == 1) {
      if (auto it = short_names.find(name[0]); it != short_names.end()) name = it->second;
    }
    std::replace(name.begin(), name.end(), '-', '_');
    gflags::CommandLineFlagInfo info;
    bool negated = false;
    if (!gflags::GetCommandLineFlagInfo(name.c_str(), &info)) {
      // --noflag and --no-flag both negate a boolean.
      const bool no_prefix = name.size() > 2 && name.rfind("no", 0) == 0;
      const std::string base =
          !no_prefix ? "" : name.rfind("no_", 0) == 0 ? name.substr(3) : name.substr(2);
      if (no_prefix && gflags::GetCommandLineFlagInfo(base.c_str(), &info) &&
          info.type == "bool" && !has_value) {
        negated = true;
        name = base;
      } else {
        Fail(2, "unknown option '" + arg + "' (see --help)");
      }
    }
    const bool ours = std::any_of(flag_files.begin(), flag_files.end(), [&](const std::string& f) {
      return info.filename.find(f) != std::string::npos;
    });
    if (!ours) Fail(2, "unknown option '" + arg + "' (see --help)");
    if (info.type == "bool") {
      if (!has_value) value = negated ? "false" : "true";
    } else if (!has_value) {
      if (i + 1 >= argc) Fail(2, "option '" + arg + "' needs a value");
      value = argv[++i];
    }
    if (gflags::SetCommandLineOption(name.c_str(), value.c_str()).empty()) {
      Fail(2, "bad value '" + value + "' for option '--" + info.name + "' (" + info.type + ")");
    }
  }
  return positional;
}

void InitServerLogging(const char* argv0) {
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = 0;
  google::InitGoogleLogging(argv0);
  rpc::RouteThriftLogsToGlog();
}

void InitClientLogging(const char* argv0) {
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = 2;
  google::InitGoogleLogging(argv0);
  rpc::RouteThriftLogsToGlog();
}

}  // namespace thrifty::cli
