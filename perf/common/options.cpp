// Parsing of the nccl-tests flags with CLI11.
#include "common/options.hpp"

#include <CLI/CLI.hpp>
#include <cctype>
#include <cmath>
#include <sstream>

#include "common/datatypes.hpp"

namespace plexus::perf {

std::optional<size_t> parseSize(std::string_view text) {
  std::string s(text);
  if (s.empty()) return std::nullopt;
  size_t pos = 0;
  double value;
  try {
    value = std::stod(s, &pos);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::string unit = s.substr(pos);
  double mult = 1;
  if (unit.size() == 1) {
    switch (std::toupper(static_cast<unsigned char>(unit[0]))) {
      case 'K':
        mult = 1024.0;
        break;
      case 'M':
        mult = 1024.0 * 1024;
        break;
      case 'G':
        mult = 1024.0 * 1024 * 1024;
        break;
      default:
        return std::nullopt;
    }
  } else if (!unit.empty()) {
    return std::nullopt;
  }
  double bytes = value * mult;
  if (!(bytes >= 0) || bytes > 1e18) return std::nullopt;
  return static_cast<size_t>(bytes);
}

std::vector<size_t> sizeSequence(const Options& o) {
  std::vector<size_t> sizes;
  for (size_t size = o.minBytes; size <= o.maxBytes;) {
    sizes.push_back(size);
    size_t next;
    if (o.stepFactor > 1)
      next = size == 0 ? 1 : size * o.stepFactor;
    else
      next = size + o.stepBytes;
    if (next <= size) break;  // overflow (or a zero step, refused by the parser)
    size = next;
  }
  return sizes;
}

ParsedOptions parseOptions(int argc, const char* const* argv) {
  Options o;
  std::string minB, maxB, stepB, op = "sum", type = "float", root = "0", buffers = "auto";
  bool hostFlag = false;
  int64_t factor = 1;
  CLI::App app{
      "Plexus collective benchmark, compatible with nccl-tests (flags and output).\n"
      "Each process is one rank (-t/-g: more ranks per process); rank and world size\n"
      "come from plexus-run (PLEXUS_RANK/PLEXUS_WORLD_SIZE), Open MPI, Slurm or\n"
      "RANK/WORLD_SIZE. Example: plexus-run -n 4 all_reduce_perf -b 8 -e 64M -f 4"};
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.add_option("-t,--nthreads", o.nThreads, "Threads per process (default 1)")
      ->check(CLI::Range(1, 1024));
  app.add_option("-g,--ngpus", o.nGpus,
                 "Ranks per thread, one GPU each on device buffers (default 1)")
      ->check(CLI::Range(1, 1024));
  app.add_option("-b,--minbytes", minB, "Minimum size in bytes, K/M/G suffixes (default 32M)");
  app.add_option("-e,--maxbytes", maxB, "Maximum size in bytes (default 32M)");
  app.add_option("-i,--stepbytes", stepB, "Fixed increment between sizes (default 1M)");
  app.add_option("-f,--stepfactor", factor, "Multiplication factor between sizes (default: off)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("-n,--iters", o.iters, "Timed iterations (default 20)")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("-m,--agg_iters", o.aggIters,
                 "Operations aggregated in one group per iteration (default 1)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("-w,--warmup_iters", o.warmupIters, "Warm-up iterations (default 5)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("-N,--run_cycles", o.runCycles, "Run the sweep this many times; 0: forever")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("-p,--parallel_init", o.parallelInit,
                 "Accepted (local ranks are always initialised in parallel)");
  app.add_option("-c,--check", o.check,
                 "Check the results this many times per size (default 1; 0: no check)")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("-o,--op", op, "Reduction: sum, prod, max, min, avg or all (default sum)");
  app.add_option("-d,--datatype", type,
                 "Type: int8 uint8 int32 uint32 int64 uint64 half float double bfloat16 "
                 "f8e4m3 f8e5m2 or all (default float)");
  app.add_option("-r,--root", root, "Root rank, or all (default 0)");
  app.add_option("-z,--blocking", o.blocking,
                 "Wait for each call's stream before the next (device buffers; host calls always "
                 "complete before they return)");
  app.add_option("-y,--stream_null", o.streamNull,
                 "Use the legacy default stream instead of one stream per rank (device buffers)");
  app.add_option("-T,--timeout", o.timeoutSeconds,
                 "Fail when one test (type, op, root) runs longer than this (seconds; 0: off)")
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("-G,--cudagraph", o.cudaGraph,
                 "Capture the timed iterations in a CUDA graph and launch it this many times "
                 "(device buffers; 0: off)")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("-C,--report_cputime", o.reportCpuTime,
                 "Report host time instead of CUDA event time (host buffers: always host time)");
  app.add_option("-a,--average", o.average,
                 "Time across ranks: 0 rank 0, 1 mean, 2 min, 3 max (default 1)")
      ->check(CLI::Range(0, 3));
  app.add_option("-R,--local_register", o.localRegister,
                 "1 or 2: host buffers from ncclMemAlloc (as nccl-tests takes registered "
                 "buffers; on one host Plexus then reduces straight from the peers' buffers); "
                 "device buffers: accepted and ignored (default 0)")
      ->check(CLI::Range(0, 2));
  app.add_option("-M,--memory", o.memoryReport, "Accepted and ignored (no memory report)");
  app.add_option("--buffers", buffers,
                 "Where the buffers live: auto (device memory when built with CUDA and a device "
                 "is usable, else host memory), device or host (default auto)");
  app.add_flag("--host", hostFlag, "Host buffers (same as --buffers host)");

  ParsedOptions out;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out.message = app.help();
    out.exitCode = 0;
    return out;
  } catch (const CLI::ParseError& e) {
    out.message = std::string(e.what()) + "\nRun with -h for the list of options.";
    out.exitCode = 2;
    return out;
  }
  auto fail = [&](const std::string& msg) {
    out.message = msg;
    out.exitCode = 2;
    return out;
  };
  for (auto [text, dst, name] :
       {std::tuple{&minB, &o.minBytes, "-b"}, std::tuple{&maxB, &o.maxBytes, "-e"},
        std::tuple{&stepB, &o.stepBytes, "-i"}}) {
    if (text->empty()) continue;
    auto v = parseSize(*text);
    if (!v)
      return fail(std::string(name) + " '" + *text + "': expected a size such as 8, 64K, 1M or 2G");
    *dst = *v;
  }
  o.stepFactor = static_cast<uint64_t>(factor);
  if (o.minBytes > o.maxBytes)
    return fail("-b (" + std::to_string(o.minBytes) + ") is larger than -e (" +
                std::to_string(o.maxBytes) + ")");
  if (o.stepFactor <= 1 && o.stepBytes == 0 && o.minBytes != o.maxBytes)
    return fail("-i 0 without -f would repeat the same size forever");
  // Counted without building the list: -b 0 -e 1G -i 1 would need a billion sizes (found by the
  // perf_options fuzz target: the list alone did not fit in memory).
  if (o.stepFactor <= 1 && o.stepBytes > 0 && (o.maxBytes - o.minBytes) / o.stepBytes >= kMaxSizes)
    return fail("-b " + std::to_string(o.minBytes) + " -e " + std::to_string(o.maxBytes) + " -i " +
                std::to_string(o.stepBytes) + " makes more than " + std::to_string(kMaxSizes) +
                " sizes: use a larger -i, or -f");
  if (op == "all") {
    o.ops = allOps();
  } else if (auto p = parseOpName(op)) {
    o.ops = {*p};
  } else {
    return fail("-o '" + op + "': expected sum, prod, max, min, avg or all");
  }
  if (type == "all") {
    o.types.clear();
    for (const TypeInfo& t : allTypes()) o.types.push_back(t.type);
  } else if (auto t = parseTypeName(type)) {
    o.types = {*t};
  } else {
    return fail("-d '" + type +
                "': expected int8, uint8, int32, uint32, int64, uint64, half, float, double, "
                "bfloat16, f8e4m3, f8e5m2 or all");
  }
  if (hostFlag || buffers == "host") {
    o.buffers = BufferKind::kHost;
  } else if (buffers == "device") {
    o.buffers = BufferKind::kDevice;
  } else if (buffers != "auto") {
    return fail("--buffers '" + buffers + "': expected auto, device or host");
  }
  if (hostFlag && buffers == "device") return fail("--host contradicts --buffers device");
  if (root == "all") {
    o.root = -1;
  } else {
    try {
      size_t pos = 0;
      o.root = std::stoi(root, &pos);
      if (pos != root.size() || o.root < 0) throw std::invalid_argument(root);
    } catch (const std::exception&) {
      return fail("-r '" + root + "': expected a rank (0, 1, ...) or all");
    }
  }
  out.options = o;
  return out;
}

}  // namespace plexus::perf
