// Names and text dumps of the plan IR (plan.hpp): used in logs, error messages and the verifier.
#include "plan/plan.hpp"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

namespace plexus::algo {
namespace {

// printf into a std::string (the plan layer uses the standard library only).
__attribute__((format(printf, 1, 2))) std::string formatString(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list again;
  va_copy(again, args);
  int n = std::vsnprintf(nullptr, 0, fmt, args);
  va_end(args);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, fmt, again);
  va_end(again);
  return out;
}

}  // namespace

const char* collectiveName(Collective c) {
  switch (c) {
    case Collective::kAllReduce:
      return "allreduce";
    case Collective::kBroadcast:
      return "broadcast";
    case Collective::kReduce:
      return "reduce";
    case Collective::kAllGather:
      return "allgather";
    case Collective::kReduceScatter:
      return "reducescatter";
    case Collective::kAllToAll:
      return "alltoall";
    case Collective::kGather:
      return "gather";
    case Collective::kScatter:
      return "scatter";
    case Collective::kSendRecv:
      return "sendrecv";
    case Collective::kBarrier:
      return "barrier";
  }
  return "unknown-collective";
}

const char* bufferName(Buffer b) {
  switch (b) {
    case Buffer::kInput:
      return "input";
    case Buffer::kOutput:
      return "output";
    case Buffer::kScratch:
      return "scratch";
  }
  return "unknown-buffer";
}

const char* stepKindName(StepKind k) {
  switch (k) {
    case StepKind::kSend:
      return "send";
    case StepKind::kRecv:
      return "recv";
    case StepKind::kRecvReduce:
      return "recvReduce";
    case StepKind::kRecvReduceSend:
      return "recvReduceSend";
    case StepKind::kRecvReduceCopySend:
      return "recvReduceCopySend";
    case StepKind::kRecvCopySend:
      return "recvCopySend";
    case StepKind::kCopy:
      return "copy";
    case StepKind::kReduce:
      return "reduce";
  }
  return "unknown-step";
}

uint64_t Step::count() const {
  return stepUsesDst(kind) ? dst.count : src.count;
}

std::string describeSlice(const Slice& s) {
  return formatString("%s[%" PRIu64 ",%" PRIu64 ")", bufferName(s.buffer), s.offset,
                      s.offset + s.count);
}

std::string Step::describe() const {
  std::string out = stepKindName(kind);
  out += "(";
  bool first = true;
  auto add = [&](const std::string& part) {
    if (!first) out += ", ";
    out += part;
    first = false;
  };
  if (stepReceives(kind)) add(formatString("from %d", recvPeer));
  if (stepSends(kind)) add(formatString("to %d", sendPeer));
  if (stepUsesSrc(kind)) add("src " + describeSlice(src));
  if (stepUsesSrc2(kind)) add("src2 " + describeSlice(src2));
  if (stepUsesDst(kind)) add("dst " + describeSlice(dst));
  if (finalize) add("finalize");
  out += ")";
  return out;
}

size_t Plan::stepCount() const {
  size_t n = 0;
  for (const Channel& c : channels) n += c.steps.size();
  return n;
}

std::string Plan::describe() const {
  std::string out = formatString(
      "plan %s %s: rank %d of %d, root %d, count %" PRIu64 ", input %" PRIu64 ", output %" PRIu64
      ", scratch %" PRIu64 ", fifo %" PRIu64 " elements, %zu channels, %zu steps\n",
      algorithm.c_str(), collectiveName(collective), rank, nranks, root, count, inputCount,
      outputCount, scratchCount, fifoElems, channels.size(), stepCount());
  for (size_t c = 0; c < channels.size(); ++c) {
    out += formatString("  channel %zu (connection %d): %zu steps\n", c, channels[c].connection,
                        channels[c].steps.size());
    for (size_t s = 0; s < channels[c].steps.size(); ++s) {
      out += formatString("    %zu: %s\n", s, channels[c].steps[s].describe().c_str());
    }
  }
  return out;
}

}  // namespace plexus::algo
