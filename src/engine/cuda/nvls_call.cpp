// The nvls call from a flat plan, and statuses in words.
#include "engine/cuda/nvls_call.hpp"

#include "base/error.hpp"
#include "engine/cuda/nvls_share.hpp"
#include "kernels/datatype.hpp"
#include "plan/plan.hpp"

namespace plexus::engine::cuda {

NvlsCall nvlsCallFor(const exec::FlatPlan& plan, const void* input, void* output) {
  const exec::ExecHeader& h = plan.header;
  if (plan.algorithm != "nvls" ||
      h.collective != static_cast<uint8_t>(algo::Collective::kAllReduce))
    throwError(ErrorCode::kInvalidArgument,
               "nvls executor: rank %d was given the '%s' plan of collective %d; it runs only the "
               "nvls all-reduce (use the generic device executor)",
               h.rank, plan.algorithm.c_str(), static_cast<int>(h.collective));
  NvlsCall c;
  c.input = input;
  c.output = output;
  c.count = h.count;
  c.type = static_cast<DataType>(h.type);
  c.op = static_cast<RedOp>(h.op);
  c.rank = h.rank;
  c.nranks = h.nranks;
  c.nchannels = h.nchannels > 0 ? h.nchannels : 1;
  if (!nvlsSupports(c.type, c.op))
    throwError(ErrorCode::kInvalidUsage,
               "nvls executor: rank %d: the switch reduces only f32, f16 and bf16 with sum or avg, "
               "not %s %s; run this plan on the generic device executor",
               h.rank, dataTypeName(c.type), redOpName(c.op));
  return c;
}

std::string describeNvlsStatus(const NvlsCall& call, const exec::ExecStatus& s) {
  if (s.code == exec::kExecOk) return "ok";
  const char* what = s.code == exec::kExecTimeout   ? "timed out"
                     : s.code == exec::kExecAborted ? "was aborted"
                                                    : "failed";
  return formatString(
      "nvls all-reduce, rank %d of %d, channel %d %s at the barrier after %s of chunk %llu "
      "(counter %u of target %u): a peer rank's kernel did not arrive; check that every rank "
      "launched the same call and that no rank failed",
      call.rank, call.nranks, s.channel, what, s.step == 0 ? "copying inputs in" : "storing sums",
      static_cast<unsigned long long>(s.piece), s.gotBytes, static_cast<uint32_t>(s.message));
}

}  // namespace plexus::engine::cuda
