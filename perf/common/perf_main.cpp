// The perf tools' main (perfMain, runner.hpp): options, placement (the launcher's environment,
// or MPI where the tool has it: mpi_session.hpp), then the run. Built once per MPI variant.
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "common/mpi_session.hpp"
#include "common/runner.hpp"

namespace plexus::perf {

int perfMain(int argc, char** argv, const Collective& coll) {
  const std::string prog = std::string(coll.name) + "_perf";
  ParsedOptions parsed = parseOptions(argc, argv);
  if (!parsed.options) {
    std::FILE* stream = parsed.exitCode == 0 ? stdout : stderr;
    std::fprintf(stream, "%s%s\n", parsed.exitCode == 0 ? "" : (prog + ": ").c_str(),
                 parsed.message.c_str());
    return parsed.exitCode;
  }
  ProcessPlacement where;
  std::unique_ptr<MpiSession> mpi;
  try {
    where = detectPlacement();
    mpi = startMpi(where);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", prog.c_str(), e.what());
    return 2;
  }
  const int code = runPerf(coll, *parsed.options, where, stdout, stderr);
  if (code != 0 && mpi) mpi->abort(code);
  return code;
}

}  // namespace plexus::perf
