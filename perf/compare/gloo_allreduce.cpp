// perf/compare peer driver: Gloo's all-reduce (gloo::allreduce, its default ring, with
// gloo::sum<float>, as PyTorch's CPU process group calls it), timed and checked like
// all_reduce_perf (see driver_common.hpp). Ranks meet through a gloo FileStore in a directory
// that the caller makes fresh for each run, and talk over Gloo's TCP transport bound to one
// interface (default lo).
//
//   gloo_allreduce --rank R --size N --store /tmp/dir [--iface lo] [-b 8 -e 64M -f 2 -n 20 -w 5]
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include "driver_common.hpp"

int main(int argc, char** argv) {
  compare::Options o;
  std::vector<std::string> rest;
  if (!compare::parseOptions(argc, argv, o, rest)) return 2;
  int rank = -1, nranks = 0;
  std::string store, iface = "lo";
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (i + 1 >= rest.size()) {
      std::fprintf(stderr, "%s: unknown option or missing value: %s\n", argv[0], a.c_str());
      return 2;
    }
    const std::string& v = rest[++i];
    if (a == "--rank")
      rank = std::stoi(v);
    else if (a == "--size")
      nranks = std::stoi(v);
    else if (a == "--store")
      store = v;
    else if (a == "--iface")
      iface = v;
    else {
      std::fprintf(stderr, "%s: unknown option %s\n", argv[0], a.c_str());
      return 2;
    }
  }
  if (rank < 0 || nranks < 1 || rank >= nranks || store.empty()) {
    std::fprintf(stderr, "%s: need --rank R --size N --store DIR (0 <= R < N)\n", argv[0]);
    return 2;
  }
  try {
    gloo::transport::tcp::attr attr;
    attr.iface = iface;
    auto dev = gloo::transport::tcp::CreateDevice(attr);
    gloo::rendezvous::FileStore fileStore(store);
    gloo::rendezvous::PrefixStore prefixStore("compare", fileStore);
    auto ctx = std::make_shared<gloo::rendezvous::Context>(rank, nranks);
    ctx->setTimeout(std::chrono::seconds(600));
    ctx->connectFullMesh(prefixStore, dev);
    std::shared_ptr<gloo::Context> context = ctx;

    uint32_t tag = 0;  // one tag per operation, as gloo asks of operations that may overlap
    compare::Backend be;
    be.rank = rank;
    be.nranks = nranks;
    be.name = "gloo";
    be.allReduce = [&](const float* in, float* out, size_t count) {
      gloo::AllreduceOptions opts(context);
      if (in != out) opts.setInput(const_cast<float*>(in), count);
      opts.setOutput(out, count);
      opts.setReduceFunction(
          static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
      opts.setTag(tag++);
      gloo::allreduce(opts);
    };
    be.barrier = [&] {
      gloo::BarrierOptions opts(context);
      opts.setTag(tag++);
      gloo::barrier(opts);
    };
    auto reduceOne = [&](double v, bool max) {
      gloo::AllreduceOptions opts(context);
      opts.setOutput(&v, 1);
      if (max)
        opts.setReduceFunction(
            static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::max<double>));
      else
        opts.setReduceFunction(
            static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<double>));
      opts.setTag(tag++);
      gloo::allreduce(opts);
      return v;
    };
    be.maxOverRanks = [&](double v) { return reduceOne(v, true); };
    be.sumOverRanks = [&](double v) { return reduceOne(v, false); };
    return compare::runSweep(be, o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gloo driver rank %d of %d: %s\n", rank, nranks, e.what());
    return 1;
  }
}
