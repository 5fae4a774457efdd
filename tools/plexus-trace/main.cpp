// plexus-trace: merges the flight-recorder dumps of all ranks (PLEXUS_DUMP_DIR files, or logs that
// hold the dumps written to stderr) into one report per communicator: the stuck ranks, the
// operation each is in, who waits for whom, and the suspects (docs/reliability.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "trace_merge.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app{
      "plexus-trace: merge flight-recorder dumps (PLEXUS_DUMP_DIR files, or logs with the dumps "
      "Plexus wrote to stderr) into one report per communicator: stuck ranks, the operation each "
      "is in, who waits for whom"};
  app.name("plexus-trace");
  std::vector<std::string> inputs;
  bool json = false;
  app.add_option("inputs", inputs, "dump files, log files, or folders of *.json dumps")
      ->required()
      ->check(CLI::ExistingPath);
  app.add_flag("--json", json, "machine-readable JSON output");
  CLI11_PARSE(app, argc, argv);

  std::vector<plexus::trace::Dump> dumps;
  try {
    auto readFile = [&](const fs::path& p) {
      std::ifstream in(p);
      if (!in) throw std::runtime_error("cannot read " + p.string());
      auto got = plexus::trace::readDumps(in, p.string());
      dumps.insert(dumps.end(), got.begin(), got.end());
    };
    for (const std::string& input : inputs) {
      if (!fs::is_directory(input)) {
        readFile(input);
        continue;
      }
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(input))
        if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) readFile(f);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plexus-trace: %s\n", e.what());
    return 1;
  }
  if (dumps.empty()) {
    std::fprintf(stderr, "plexus-trace: no flight-recorder dump in the inputs\n");
    return 1;
  }
  auto reports = plexus::trace::merge(dumps);
  if (json) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& [comm, r] : reports) all.push_back(plexus::trace::toJson(r));
    std::cout << all.dump(2) << "\n";
  } else {
    for (const auto& [comm, r] : reports) std::cout << plexus::trace::formatText(r);
  }
  return 0;
}
