// Plan files (plan_file.hpp, docs/plan-format.md): JSON parsing and writing, template expansion,
// verification at load time, export of built-in algorithms.
#include "algorithms/plan_file.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <fstream>
#include <sstream>

#include "algorithms/build_common.hpp"
#include "algorithms/collective_spec.hpp"
#include "algorithms/partition.hpp"
#include "algorithms/registry.hpp"
#include "algorithms/verifier.hpp"
#include "base/env.hpp"
#include "base/error.hpp"
#include "base/log.hpp"

namespace plexus::algo {
namespace {

using Json = nlohmann::json;
constexpr int kFormatVersion = 1;

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throwError(ErrorCode::kInvalidArgument, "%s: %s", where.c_str(), what.c_str());
}

uint64_t getUnsigned(const Json& j, const char* key, const std::string& where, bool required,
                     uint64_t fallback) {
  if (!j.contains(key)) {
    if (required) bad(where, formatString("missing \"%s\"", key));
    return fallback;
  }
  const Json& v = j.at(key);
  if (!v.is_number_integer() || v.get<int64_t>() < 0) {
    bad(where,
        formatString("\"%s\" must be a non-negative integer, got %s", key, v.dump().c_str()));
  }
  return v.get<uint64_t>();
}

int getPeer(const Json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j.at(key).is_number_integer()) {
    bad(where, formatString("missing integer \"%s\" (the peer rank)", key));
  }
  return j.at(key).get<int>();
}

bool parseBuffer(const std::string& s, Buffer& b) {
  const std::string n = normalizeName(s);
  for (Buffer x : {Buffer::kInput, Buffer::kOutput, Buffer::kScratch}) {
    if (n == bufferName(x)) {
      b = x;
      return true;
    }
  }
  return false;
}

// ["input", offset, count] or {"buffer": "input", "offset": 0, "count": 1}.
Slice parseSlice(const Json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) bad(where, formatString("missing \"%s\"", key));
  const Json& v = j.at(key);
  Slice s;
  std::string buf;
  uint64_t off = 0, cnt = 0;
  if (v.is_array() && v.size() == 3 && v[0].is_string() && v[1].is_number_integer() &&
      v[2].is_number_integer() && v[1].get<int64_t>() >= 0 && v[2].get<int64_t>() >= 0) {
    buf = v[0].get<std::string>();
    off = v[1].get<uint64_t>();
    cnt = v[2].get<uint64_t>();
  } else if (v.is_object() && v.contains("buffer") && v.at("buffer").is_string()) {
    buf = v.at("buffer").get<std::string>();
    off = getUnsigned(v, "offset", where + " " + key, true, 0);
    cnt = getUnsigned(v, "count", where + " " + key, true, 0);
  } else {
    bad(where, formatString("\"%s\" must be [\"input\"|\"output\"|\"scratch\", offset, count], "
                            "got %s",
                            key, v.dump().c_str()));
  }
  if (!parseBuffer(buf, s.buffer)) {
    bad(where,
        formatString("\"%s\" names buffer \"%s\" (input, output or scratch)", key, buf.c_str()));
  }
  s.offset = off;
  s.count = cnt;
  return s;
}

bool parseStepKind(const std::string& text, StepKind& k) {
  const std::string n = normalizeName(text);
  for (int i = 0; i <= static_cast<int>(StepKind::kReduce); ++i) {
    const StepKind x = static_cast<StepKind>(i);
    if (n == normalizeName(stepKindName(x))) {
      k = x;
      return true;
    }
  }
  return false;
}

Step parseStep(const Json& j, const std::string& where) {
  if (!j.is_object()) bad(where, "a step must be an object");
  if (!j.contains("op") || !j.at("op").is_string()) bad(where, "missing \"op\"");
  Step s;
  const std::string op = j.at("op").get<std::string>();
  if (!parseStepKind(op, s.kind)) {
    bad(where, "unknown op \"" + op +
                   "\" (send, recv, recvReduce, recvReduceSend, recvReduceCopySend, "
                   "recvCopySend, copy, reduce)");
  }
  if (stepReceives(s.kind)) s.recvPeer = getPeer(j, "from", where);
  if (stepSends(s.kind)) s.sendPeer = getPeer(j, "to", where);
  if (stepUsesSrc(s.kind)) s.src = parseSlice(j, "src", where);
  if (stepUsesSrc2(s.kind)) s.src2 = parseSlice(j, "src2", where);
  if (stepUsesDst(s.kind)) s.dst = parseSlice(j, "dst", where);
  if (j.contains("finalize")) {
    if (!j.at("finalize").is_boolean()) bad(where, "\"finalize\" must be true or false");
    s.finalize = j.at("finalize").get<bool>();
  }
  return s;
}

bool crossesSegment(const Slice& s, uint64_t k) {
  return s.count > 0 && (s.offset % k) + s.count > k;
}

bool templateCrosses(const PlanTemplate& t) {
  for (const Plan& p : t.plans) {
    for (const Channel& ch : p.channels) {
      for (const Step& s : ch.steps) {
        if ((stepUsesSrc(s.kind) && crossesSegment(s.src, t.chunks)) ||
            (stepUsesSrc2(s.kind) && crossesSegment(s.src2, t.chunks)) ||
            (stepUsesDst(s.kind) && crossesSegment(s.dst, t.chunks))) {
          return true;
        }
      }
    }
  }
  return false;
}

// Channel `ci` of a rank's plan; `rwhere` names the rank for messages.
Channel parseChannel(const Json& jc, size_t ci, const std::string& rwhere) {
  const std::string cwhere = formatString("%s channel %zu", rwhere.c_str(), ci);
  Channel ch;
  ch.connection = static_cast<int>(getUnsigned(jc, "connection", cwhere, false, ci));
  if (ch.connection >= kMaxChannels) {
    bad(cwhere, formatString("connection %d outside 0..%d", ch.connection, kMaxChannels - 1));
  }
  if (!jc.contains("steps") || !jc.at("steps").is_array()) bad(cwhere, "missing \"steps\"");
  size_t si = 0;
  for (const Json& js : jc.at("steps")) {
    ch.steps.push_back(parseStep(js, formatString("%s step %zu", cwhere.c_str(), si)));
    ++si;
  }
  return ch;
}

// Rank `rank`'s plan of template t (its header from t, its channels from jr).
Plan parseRankPlan(const Json& jr, const PlanTemplate& t, int rank, const std::string& rwhere) {
  BuildRequest q;
  q.collective = t.collective;
  q.nranks = t.nranks;
  q.rank = rank;
  q.root = t.root < 0 ? 0 : t.root;
  q.count = t.chunks;
  q.fifoElems = t.fifoUnits;
  Plan p = detail::planHeader(q, t.name.c_str(), 0);
  if (!jr.contains("channels") || !jr.at("channels").is_array())
    bad(rwhere, "missing \"channels\"");
  size_t ci = 0;
  for (const Json& jc : jr.at("channels")) p.channels.push_back(parseChannel(jc, ci++, rwhere));
  return p;
}

PlanTemplate parseTemplate(const Json& j, size_t index, const std::string& file) {
  std::string where = formatString("%s: plan #%zu", file.c_str(), index);
  if (!j.is_object()) bad(where, "a plan must be an object");
  PlanTemplate t;
  if (!j.contains("name") || !j.at("name").is_string() || j.at("name").get<std::string>().empty())
    bad(where, "missing \"name\"");
  t.name = j.at("name").get<std::string>();
  where = formatString("%s: plan '%s'", file.c_str(), t.name.c_str());
  t.source = where;
  if (!j.contains("collective") || !j.at("collective").is_string() ||
      !parseCollective(j.at("collective").get<std::string>(), t.collective) ||
      t.collective == Collective::kSendRecv) {
    bad(where,
        "\"collective\" must be one of allreduce, allgather, reducescatter, broadcast, "
        "reduce, alltoall, gather, scatter, barrier");
  }
  if (findAlgorithm(t.collective, t.name) != nullptr) {
    bad(where, formatString("the name '%s' is a built-in %s algorithm; give the custom one "
                            "another name",
                            t.name.c_str(), collectiveName(t.collective)));
  }
  const uint64_t n = getUnsigned(j, "nranks", where, true, 0);
  if (n < 1 || n >= (1u << 24)) bad(where, "\"nranks\" must be 1..2^24-1");
  t.nranks = static_cast<int>(n);
  if (detail::rootedCollective(t.collective)) {
    const uint64_t root = getUnsigned(j, "root", where, true, 0);
    if (root >= n) bad(where, formatString("\"root\" %" PRIu64 " is not a rank", root));
    t.root = static_cast<int>(root);
  }
  t.chunks = getUnsigned(j, "chunks", where, true, 0);
  if (t.chunks < 1) bad(where, "\"chunks\" must be >= 1");
  t.fifoUnits = getUnsigned(j, "fifo_units", where, true, 0);
  if (t.fifoUnits < 1) bad(where, "\"fifo_units\" must be >= 1");
  const uint64_t scratchUnits = getUnsigned(j, "scratch_units", where, false, 0);
  t.minBytes = getUnsigned(j, "min_bytes", where, false, 0);
  t.maxBytes = getUnsigned(j, "max_bytes", where, false, 0);
  if (!j.contains("ranks") || !j.at("ranks").is_array() || j.at("ranks").size() != n) {
    bad(where, formatString("\"ranks\" must list %" PRIu64 " ranks", n));
  }
  t.plans.resize(n);
  std::vector<char> seen(n, 0);
  for (const Json& jr : j.at("ranks")) {
    const uint64_t rank = getUnsigned(jr, "rank", where + " ranks[]", true, 0);
    if (rank >= n || seen[rank]) {
      bad(where, formatString("rank %" PRIu64 " is not a rank or is listed twice", rank));
    }
    seen[rank] = 1;
    const std::string rwhere = formatString("%s rank %" PRIu64, where.c_str(), rank);
    Plan p = parseRankPlan(jr, t, static_cast<int>(rank), rwhere);
    p.scratchCount = scratchUnits;
    t.plans[rank] = std::move(p);
  }
  return t;
}

nlohmann::ordered_json sliceJson(const Slice& s) {
  return nlohmann::ordered_json::array({bufferName(s.buffer), s.offset, s.count});
}

nlohmann::ordered_json stepJson(const Step& s) {
  nlohmann::ordered_json j;
  j["op"] = stepKindName(s.kind);
  if (stepReceives(s.kind)) j["from"] = s.recvPeer;
  if (stepSends(s.kind)) j["to"] = s.sendPeer;
  if (stepUsesSrc(s.kind)) j["src"] = sliceJson(s.src);
  if (stepUsesSrc2(s.kind)) j["src2"] = sliceJson(s.src2);
  if (stepUsesDst(s.kind)) j["dst"] = sliceJson(s.dst);
  if (s.finalize) j["finalize"] = true;
  return j;
}

std::string templateLabel(const PlanTemplate& t) {
  return formatString("%s (%s, %d ranks%s)", t.source.c_str(), collectiveName(t.collective),
                      t.nranks, t.root >= 0 ? formatString(", root %d", t.root).c_str() : "");
}

}  // namespace

std::vector<PlanTemplate> parsePlanJson(const std::string& text, const std::string& source) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    // parse_error, and out_of_range for a number beyond double's range (1e999; found by the
    // plan_file fuzz target: it ended the process).
    bad(source, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("plexus_plan") || !j.at("plexus_plan").is_number_integer()) {
    bad(source, "not a Plexus plan file (the top level must be an object with \"plexus_plan\": 1)");
  }
  if (j.at("plexus_plan").get<int>() != kFormatVersion) {
    bad(source, formatString("plan format version %d is not supported (this build reads %d)",
                             j.at("plexus_plan").get<int>(), kFormatVersion));
  }
  if (!j.contains("plans") || !j.at("plans").is_array()) bad(source, "missing \"plans\" array");
  std::vector<PlanTemplate> out;
  size_t i = 0;
  for (const Json& jp : j.at("plans")) out.push_back(parseTemplate(jp, i++, source));
  return out;
}

std::string planFileJson(const std::vector<PlanTemplate>& templates) {
  // Hand-laid-out JSON: the header fields of a plan on one line each, one step per line, so that
  // files stay readable and diffable.
  using OJson = nlohmann::ordered_json;
  std::string out = "{\n \"plexus_plan\": " + std::to_string(kFormatVersion) + ",\n \"plans\": [";
  for (size_t ti = 0; ti < templates.size(); ++ti) {
    const PlanTemplate& t = templates[ti];
    OJson head;
    head["name"] = t.name;
    head["collective"] = collectiveName(t.collective);
    head["nranks"] = t.nranks;
    if (t.root >= 0) head["root"] = t.root;
    head["chunks"] = t.chunks;
    head["fifo_units"] = t.fifoUnits;
    uint64_t scratch = 0;
    for (const Plan& p : t.plans) scratch = std::max(scratch, p.scratchCount);
    if (scratch > 0) head["scratch_units"] = scratch;
    if (t.minBytes > 0) head["min_bytes"] = t.minBytes;
    if (t.maxBytes > 0) head["max_bytes"] = t.maxBytes;
    out += ti ? ",\n  {\n" : "\n  {\n";
    for (const auto& [key, value] : head.items()) {
      out += "   " + OJson(key).dump() + ": " + value.dump() + ",\n";
    }
    out += "   \"ranks\": [";
    for (size_t ri = 0; ri < t.plans.size(); ++ri) {
      const Plan& p = t.plans[ri];
      out += (ri ? ",\n    {\"rank\": " : "\n    {\"rank\": ") + std::to_string(p.rank) +
             ", \"channels\": [";
      for (size_t ci = 0; ci < p.channels.size(); ++ci) {
        const Channel& ch = p.channels[ci];
        out += (ci ? ",\n     {\"connection\": " : "\n     {\"connection\": ") +
               std::to_string(ch.connection) + ", \"steps\": [";
        for (size_t si = 0; si < ch.steps.size(); ++si) {
          out += (si ? ",\n      " : "\n      ") + stepJson(ch.steps[si]).dump();
        }
        out += ch.steps.empty() ? "]}" : "\n     ]}";
      }
      out += p.channels.empty() ? "]}" : "\n    ]}";
    }
    out += t.plans.empty() ? "]\n  }" : "\n   ]\n  }";
  }
  out += templates.empty() ? "]\n}\n" : "\n ]\n}\n";
  return out;
}

Plan expandTemplate(const PlanTemplate& t, const BuildRequest& r) {
  const uint64_t k = t.chunks;
  const uint64_t U = r.count / k;
  uint64_t uMax = r.fifoElems == 0 ? (U > 0 ? U : 1) : r.fifoElems / t.fifoUnits;
  if (r.chunkElems > 0) uMax = std::max<uint64_t>(1, std::min(uMax, r.chunkElems));
  // A barrier's template runs once (its tokens carry no data); otherwise one run per piece.
  const uint64_t P =
      t.collective == Collective::kBarrier ? 1 : partsOfAtMost(U, std::max<uint64_t>(uMax, 1));
  if (P > 1 && templateCrosses(t)) {
    throwError(
        ErrorCode::kInvalidArgument,
        "%s: its slices cross count boundaries, so it runs in one piece only, and count %" PRIu64
        " needs %" PRIu64 " pieces",
        t.source.c_str(), r.count, P);
  }
  const Plan& tp = t.plans[static_cast<size_t>(r.rank)];
  Plan plan = detail::planHeader(r, t.name.c_str(), 0);
  plan.scratchCount = (tp.scratchCount + k - 1) / k * r.count;
  plan.channels.resize(tp.channels.size());
  for (size_t c = 0; c < tp.channels.size(); ++c)
    plan.channels[c].connection = tp.channels[c].connection;
  for (uint64_t p = 0; p < P; ++p) {
    const auto [u0_, u1_] = evenPart(U, p, P);
    const uint64_t u0 = u0_, u1 = u1_;  // lambdas below use them (clang 14)
    const uint64_t len = u1 - u0;
    auto map = [&](const Slice& s) {
      if (P == 1) return Slice{s.buffer, s.offset * len, s.count * len};
      const uint64_t seg = s.offset / k, t0 = s.offset % k;
      return Slice{s.buffer, seg * r.count + u0 * k + t0 * len, s.count * len};
    };
    for (size_t c = 0; c < tp.channels.size(); ++c) {
      for (const Step& s : tp.channels[c].steps) {
        Step e = s;
        if (stepUsesSrc(s.kind)) e.src = map(s.src);
        if (stepUsesSrc2(s.kind)) e.src2 = map(s.src2);
        if (stepUsesDst(s.kind)) e.dst = map(s.dst);
        // Zero-element steps stay only where the template has them (barrier tokens).
        if (e.count() == 0 && s.count() != 0) continue;
        plan.channels[c].steps.push_back(e);
      }
    }
  }
  return plan;
}

void PlanLibrary::add(PlanTemplate t) {
  if (has(t.collective, t.name)) {
    for (const PlanTemplate& o : templates_) {
      if (o.collective == t.collective && o.name == t.name && o.nranks == t.nranks &&
          o.root == t.root) {
        throwError(ErrorCode::kInvalidUsage,
                   "%s: a %s plan '%s' for %d ranks is already loaded (%s)", t.source.c_str(),
                   collectiveName(t.collective), t.name.c_str(), t.nranks, o.source.c_str());
      }
    }
  }
  const std::string label = templateLabel(t);
  VerifyReport rep = verifyPlanSet(t.plans);
  if (!rep.ok) {
    throwError(ErrorCode::kInvalidUsage,
               "%s is wrong (ranges are in units, one element per unit):\n%s", label.c_str(),
               rep.text().c_str());
  }
  if (!templateCrosses(t)) {
    // Two pieces one after the other: the form every larger count runs in.
    std::vector<Plan> expanded;
    BuildRequest q;
    q.collective = t.collective;
    q.nranks = t.nranks;
    q.root = t.root < 0 ? 0 : t.root;
    q.count = 2 * t.chunks;
    q.fifoElems = t.fifoUnits;
    for (int r = 0; r < t.nranks; ++r) {
      q.rank = r;
      expanded.push_back(expandTemplate(t, q));
    }
    rep = verifyPlanSet(expanded);
    if (!rep.ok) {
      throwError(ErrorCode::kInvalidUsage,
                 "%s is correct for one piece but wrong when run twice in a row (count = 2 x "
                 "chunks, pieces of one element per unit):\n%s",
                 label.c_str(), rep.text().c_str());
    }
  }
  templates_.push_back(std::move(t));
}

bool PlanLibrary::has(Collective c, const std::string& name) const {
  const std::string n = normalizeName(name);
  for (const PlanTemplate& t : templates_) {
    if (t.collective == c && normalizeName(t.name) == n) return true;
  }
  return false;
}

std::vector<std::string> PlanLibrary::namesFor(Collective c) const {
  std::vector<std::string> names;
  for (const PlanTemplate& t : templates_) {
    if (t.collective == c && std::find(names.begin(), names.end(), t.name) == names.end())
      names.push_back(t.name);
  }
  return names;
}

const PlanTemplate* PlanLibrary::find(const std::string& name, const BuildRequest& r) const {
  const std::string n = normalizeName(name);
  for (const PlanTemplate& t : templates_) {
    if (t.collective == r.collective && normalizeName(t.name) == n && t.nranks == r.nranks &&
        (t.root < 0 || t.root == r.root)) {
      return &t;
    }
  }
  return nullptr;
}

std::string PlanLibrary::unsupported(const std::string& name, const BuildRequest& r) const {
  const PlanTemplate* t = find(name, r);
  if (t == nullptr) {
    return formatString(
        "no plan '%s' for %s on %d ranks%s", name.c_str(), collectiveName(r.collective), r.nranks,
        detail::rootedCollective(r.collective) ? formatString(" with root %d", r.root).c_str()
                                               : "");
  }
  if (r.count % t->chunks != 0) {
    return formatString("count %" PRIu64 " is not a multiple of the plan's %" PRIu64 " chunks",
                        r.count, t->chunks);
  }
  if (r.fifoElems > 0 && r.fifoElems < t->fifoUnits) {
    return formatString("the FIFO holds %" PRIu64 " elements, the plan needs %" PRIu64 " units",
                        r.fifoElems, t->fifoUnits);
  }
  if (templateCrosses(*t) && r.fifoElems > 0 && r.count / t->chunks > r.fifoElems / t->fifoUnits) {
    return formatString(
        "its slices cross count boundaries, so it runs in one piece, which needs "
        "count / chunks <= fifoElems / fifo_units (%" PRIu64 " > %" PRIu64 ")",
        r.count / t->chunks, r.fifoElems / t->fifoUnits);
  }
  return {};
}

Plan PlanLibrary::build(const std::string& name, const BuildRequest& r) const {
  const std::string why = unsupported(name, r);
  if (!why.empty()) {
    throwError(ErrorCode::kInvalidArgument, "custom algorithm '%s' cannot run this %s: %s",
               name.c_str(), collectiveName(r.collective), why.c_str());
  }
  return expandTemplate(*find(name, r), r);
}

PlanLibrary loadPlanFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    throwError(ErrorCode::kInvalidArgument, "plan file %s: cannot open it: %s", path.c_str(),
               std::strerror(errno));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  PlanLibrary lib;
  for (PlanTemplate& t : parsePlanJson(ss.str(), path)) lib.add(std::move(t));
  return lib;
}

PlanLibrary loadPlanFileFromEnv(int nranks) {
  const std::optional<std::string> path = envGet("PLAN_FILE");
  if (!path) return {};
  PlanLibrary lib;
  try {
    lib = loadPlanFile(*path);
  } catch (const Error& e) {
    throwError(e.code(),
               "PLEXUS_PLAN_FILE='%s' is not a usable plan file: %s (it must name a Plexus plan "
               "JSON file, docs/plan-format.md; `plexus-topo plan --check FILE` checks one)",
               path->c_str(), e.what());
  }
  std::string names;
  for (const PlanTemplate& t : lib.templates()) {
    if (t.nranks != nranks) continue;
    names += formatString("%s%s %s", names.empty() ? "" : ", ", collectiveName(t.collective),
                          t.name.c_str());
  }
  if (names.empty()) {
    const size_t held = lib.templates().size();
    PLEXUS_WARN(subsys::kTune, "PLEXUS_PLAN_FILE=%s holds %zu plan%s, none for %d rank%s",
                path->c_str(), held, held == 1 ? "" : "s", nranks, nranks == 1 ? "" : "s");
  } else {
    PLEXUS_INFO(subsys::kTune, "PLEXUS_PLAN_FILE=%s: custom algorithms for %d ranks: %s",
                path->c_str(), nranks, names.c_str());
  }
  return lib;
}

std::string exportPlanJson(const ExportOptions& o) {
  PlanTemplate t;
  t.collective = o.collective;
  t.nranks = o.nranks;
  t.root = detail::rootedCollective(o.collective) ? o.root : -1;
  const uint64_t nch = static_cast<uint64_t>(std::max(1, o.nchannels));
  t.chunks =
      o.chunks > 0
          ? o.chunks
          : (o.collective == Collective::kAllReduce ? static_cast<uint64_t>(o.nranks) * nch : nch);
  t.fifoUnits = o.fifoUnits > 0 ? o.fifoUnits : 2 * t.chunks;
  const AlgorithmInfo* info = findAlgorithm(o.collective, o.algorithm);
  if (info == nullptr) {
    BuildRequest probe;
    probe.collective = o.collective;
    probe.nranks = o.nranks;
    (void)buildPlan(o.algorithm, probe);  // throws with the known names
  }
  t.name =
      o.name.empty() ? std::string(info ? info->name : o.algorithm.c_str()) + "-export" : o.name;
  t.source = "export of " + o.algorithm;
  BuildRequest q;
  q.collective = o.collective;
  q.nranks = o.nranks;
  q.root = o.root;
  q.count = t.chunks;
  q.fifoElems = t.fifoUnits;
  q.nchannels = o.nchannels;
  if (o.groups.empty() && normalizeName(o.algorithm).rfind("hier", 0) == 0) {
    int g = 1;  // the largest divisor of nranks up to 8: hosts of up to 8 ranks
    for (int d = 1; d <= 8 && d <= o.nranks; ++d) {
      if (o.nranks % d == 0) g = d;
    }
    q.groups = contiguousGroups(o.nranks, g);
  } else {
    q.groups = o.groups;
  }
  for (int r = 0; r < o.nranks; ++r) {
    q.rank = r;
    Plan p = buildPlan(o.algorithm, q);
    p.algorithm = t.name;
    t.plans.push_back(std::move(p));
  }
  requireVerified(verifyPlanSet(t.plans), "export of " + o.algorithm);
  return planFileJson({t});
}

}  // namespace plexus::algo
