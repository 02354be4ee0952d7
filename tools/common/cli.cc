#include "tools/common/cli.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <glog/logging.h>
#include <nlohmann/json.hpp>

#include "locator/rpc/thrift_logging.h"
#include "thrifty/version.h"

namespace thrifty::cli {

namespace {

std::string program_name = "thrifty";

std::string Basename(const char* path) {
  std::string p(path ? path : "thrifty");
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// --help of every tool: the tool's usage text, then one line per flag:
//   -o, --output FILE          what it does (default: X)
class HelpFormatter : public CLI::Formatter {
 public:
  explicit HelpFormatter(std::string usage) : usage_(std::move(usage)) { column_width(28); }

  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
    std::string text = CLI::Formatter::make_help(app, std::move(name), mode);
    // One blank line between the groups of flags, none at the end.
    for (size_t at; (at = text.find("\n\n\n")) != std::string::npos;) text.erase(at, 1);
    while (text.size() > 1 && text.compare(text.size() - 2, 2, "\n\n") == 0) text.pop_back();
    return text;
  }
  std::string make_description(const CLI::App*) const override { return ""; }
  std::string make_usage(const CLI::App*, std::string) const override { return usage_ + "\n"; }

  std::string make_option_name(const CLI::Option* opt, bool positional) const override {
    if (positional) return opt->get_name(true, false);
    std::string names;
    for (const auto& s : opt->get_snames()) names += (names.empty() ? "-" : ", -") + s;
    for (const auto& l : opt->get_lnames()) names += (names.empty() ? "--" : ", --") + l;
    return names;
  }

  std::string make_option_opts(const CLI::Option* opt) const override {
    return opt->get_type_size() == 0 ? "" : " " + opt->get_type_name();
  }

  std::string make_option_desc(const CLI::Option* opt) const override {
    std::string text = opt->get_description();
    if (opt->get_type_size() != 0 && !opt->get_default_str().empty()) {
      text += " (default: " + opt->get_default_str() + ")";
    }
    return text;
  }

 private:
  std::string usage_;
};

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

const std::string& ProgramName() { return program_name; }

void Fail(int code, const std::string& message) {
  std::cout.flush();
  std::cerr << program_name << ": " << message << std::endl;
  std::exit(code);
}

namespace {

// CLI11 would read "-5" into an unsigned flag as a huge number.
CLI::Validator NonNegative() {
  return CLI::Validator(
      [](std::string& text) {
        return text.find('-') == std::string::npos ? std::string() : "must be >= 0, not " + text;
      },
      "");  // no description: keeps "N" alone in --help
}

}  // namespace

CommandLine::Flag& CommandLine::Flag::type_name(const std::string& name) {
  option_->type_name(name);
  return *this;
}

CommandLine::~CommandLine() = default;

template <typename T>
CommandLine::Flag CommandLine::option(const std::string& names, T& value,
                                      const std::string& help) {
  CLI::Option* opt = app_->add_option(names, value, help);
  opt->type_name(std::is_arithmetic_v<T> ? "N" : "VALUE");
  if constexpr (std::is_unsigned_v<T>) opt->check(NonNegative());
  return Flag(opt);
}

// The value types the tools use.
template CommandLine::Flag CommandLine::option(const std::string&, std::string&,
                                               const std::string&);
template CommandLine::Flag CommandLine::option(const std::string&, int&, const std::string&);
template CommandLine::Flag CommandLine::option(const std::string&, long&, const std::string&);
template CommandLine::Flag CommandLine::option(const std::string&, long long&,
                                               const std::string&);
template CommandLine::Flag CommandLine::option(const std::string&, unsigned&,
                                               const std::string&);
template CommandLine::Flag CommandLine::option(const std::string&, unsigned long&,
                                               const std::string&);
template CommandLine::Flag CommandLine::option(const std::string&, unsigned long long&,
                                               const std::string&);
template CommandLine::Flag CommandLine::option(const std::string&, double&, const std::string&);

void CommandLine::group(const std::string& heading) { app_->option_defaults()->group(heading); }

CommandLine::CommandLine(const std::string& usage) : app_(std::make_unique<CLI::App>()) {
  app_->formatter(std::make_shared<HelpFormatter>(usage));
  app_->set_help_flag("-h,--help", "Show this help and exit.");
  app_->set_version_flag(
      "--version", [] { return program_name + " (thrifty) " THRIFTY_VERSION; },
      "Show the version and exit.");
  app_->option_defaults()->always_capture_default()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
  app_->add_option("args", positional_)->group("");  // hidden from --help
}

CommandLine::Flag CommandLine::flag(const std::string& names, bool& value,
                                    const std::string& help) {
  return Flag(app_->add_flag(names, value, help));
}

std::vector<std::string> CommandLine::parse(int argc, char** argv) {
  program_name = Basename(argc > 0 ? argv[0] : nullptr);
  app_->name(program_name);
  // CLI11 takes the arguments last first. It would read "-o=FILE" as the value "=FILE": such
  // an argument is split like "--output=FILE" is.
  std::vector<std::string> args;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    flags_done = flags_done || arg == "--";
    if (!flags_done && arg.size() >= 3 && arg[0] == '-' && arg[1] != '-' && arg[2] == '=') {
      args.push_back(arg.substr(0, 2));
      args.push_back(arg.substr(3));
    } else {
      args.push_back(arg);
    }
  }
  std::reverse(args.begin(), args.end());
  try {
    app_->parse(args);
  } catch (const CLI::ExtrasError& e) {
    const auto extra = app_->remaining();
    Fail(2, "unknown flag " + (extra.empty() ? FirstLine(e.what()) : extra.front()) + " (see --help)");
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) std::exit(app_->exit(e));  // --help, --version
    Fail(2, FirstLine(e.what()) + " (see --help)");
  }
  return positional_;
}

void DiscoveryRange::add_flags(CommandLine& command) {
  command.option("--discover-from", from, "first port of the local discovery range");
  command.option("--discover-to", to, "last port of the local discovery range");
}

void DiscoveryRange::check() const {
  if (from < 1 || to > 65535 || from > to) {
    Fail(2, "--discover-from/--discover-to must be a range within 1..65535");
  }
}

void PrintJson(const nlohmann::ordered_json& value) {
  std::cout << value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
            << std::endl;
}

void InitServerLogging(const char* argv0) {
  // glog's own settings, set directly: glog's flags are not read from the command line (its
  // GLOG_* environment variables still set the others, e.g. GLOG_v).
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
