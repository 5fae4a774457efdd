// Command-line parsing for plexus-run.
#include "launch_options.hpp"

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdlib>
#include <iostream>

namespace plexus::run {

std::optional<std::pair<std::string, std::string>> parseEnvAssignment(const std::string& text) {
  size_t eq = text.find('=');
  std::string name = text.substr(0, eq);
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return std::nullopt;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return std::nullopt;
  if (eq != std::string::npos) return std::make_pair(name, text.substr(eq + 1));
  const char* current = std::getenv(name.c_str());  // -x VAR: pass the launcher's value on
  if (current == nullptr) return std::nullopt;
  return std::make_pair(name, std::string(current));
}

ParseOutcome parseLaunchOptions(int argc, const char* const* argv) {
  LaunchOptions opt;
  std::vector<std::string> envs;
  int port = 0;
  bool noPrefix = false;
  CLI::App app{
      "plexus-run -n N [options] program [args...]: start N ranks of a program on this host.\n"
      "Each rank gets PLEXUS_RANK, PLEXUS_WORLD_SIZE, PLEXUS_LOCAL_RANK, PLEXUS_LOCAL_SIZE,\n"
      "PLEXUS_COMM_ID (127.0.0.1:<port>), PLEXUS_SECRET (random, per job) and, unless already\n"
      "set, PLEXUS_SOCKET_IFNAME=lo. Output lines are prefixed with '[rank] '. The first rank\n"
      "that fails stops the others; plexus-run then exits with that rank's code (128+signal\n"
      "for a rank killed by a signal, 124 on --timeout).",
      "plexus-run"};
  app.add_option("-n,--np", opt.nranks, "Number of ranks to start")
      ->required()
      ->check(CLI::Range(1, 65536));
  app.add_option("--port", port,
                 "Port of the bootstrap root on 127.0.0.1 (default: a free port picked at start)")
      ->check(CLI::Range(1, 65535));
  app.add_flag("--no-prefix", noPrefix, "Do not prefix output lines with the rank");
  app.add_option("--grace", opt.graceSeconds,
                 "Seconds between SIGTERM and SIGKILL when stopping ranks")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--timeout", opt.timeoutSeconds,
                 "Stop all ranks and fail (exit 124) after this many seconds; 0: never")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  app.add_option("-x,--env", envs,
                 "Set VAR=value in the ranks' environment (VAR alone passes the current value); "
                 "repeatable")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.prefix_command();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help (code 0) or the error
    return {std::nullopt, code == 0 ? 0 : 2};
  }
  opt.command = app.remaining();
  // The launcher's options come before the program: an unrecognised option stops option parsing
  // (prefix_command), so it would be taken for the program. `--` ends the launcher's options.
  if (!opt.command.empty() && opt.command[0] == "--") {
    opt.command.erase(opt.command.begin());
  } else if (!opt.command.empty() && opt.command[0].size() > 1 && opt.command[0][0] == '-') {
    std::cerr << "plexus-run: unknown option '" << opt.command[0]
              << "' (launcher options: -n/--np, --port, --no-prefix, --grace, --timeout, "
                 "-x/--env; they come before the program, or end them with --)\n"
                 "Run with --help for more information.\n";
    return {std::nullopt, 2};
  }
  if (opt.command.empty()) {
    std::cerr << "plexus-run: no program given\nRun with --help for more information.\n";
    return {std::nullopt, 2};
  }
  if (port != 0) opt.port = static_cast<uint16_t>(port);
  opt.prefix = !noPrefix;
  for (const std::string& e : envs) {
    auto kv = parseEnvAssignment(e);
    if (!kv) {
      std::cerr << "plexus-run: -x '" << e
                << "': expected VAR=value (or VAR set in the current environment)\n";
      return {std::nullopt, 2};
    }
    opt.extraEnv.push_back(*kv);
  }
  return {opt, 0};
}

}  // namespace plexus::run
