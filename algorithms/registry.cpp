// The table of built-in algorithms and name resolution (registry.hpp).
#include "algorithms/registry.hpp"

#include <algorithm>
#include <cctype>
#include <cinttypes>

#include "algorithms/build_common.hpp"
#include "algorithms/canonical.hpp"
#include "algorithms/plan_file.hpp"
#include "base/error.hpp"

namespace plexus::algo {
namespace {

std::string noConstraint(const BuildRequest&) {
  return {};
}

// Why the hierarchical algorithm cannot use the request's domains (build_common.hpp).
std::string hierConstraint(const BuildRequest& r) {
  return detail::domainsProblem(r);
}

// The chain builders are the ring builder under another name (a chain along the ring from / to
// the root).
Plan buildChain(const BuildRequest& r) {
  Plan p = buildRing(r);
  p.algorithm = "chain";
  return p;
}

std::vector<AlgorithmInfo> makeTable() {
  using C = Collective;
  std::vector<AlgorithmInfo> t;
  auto add = [&](const char* name, C c, std::vector<const char*> aliases, const char* summary,
                 Builder b, bool latency,
                 std::string (*unsupported)(const BuildRequest&) = noConstraint) {
    AlgorithmInfo i;
    i.name = name;
    i.collective = c;
    i.aliases = std::move(aliases);
    i.summary = summary;
    i.build = std::move(b);
    i.unsupported = unsupported;
    i.latency = latency;
    t.push_back(std::move(i));
  };
  add("ring", C::kAllReduce, {}, "reduce-scatter + all-gather around rings, fused steps", buildRing,
      false);
  add("tree", C::kAllReduce, {"doubletree", "dbtree"},
      "double binary tree, reduce up then broadcast down, pipelined", buildTree, true);
  add("rhd", C::kAllReduce, {"rabenseifner", "halvingdoubling"},
      "recursive halving reduce-scatter + recursive doubling all-gather (folds non-powers of two)",
      buildRecursive, true);
  add("oneshot", C::kAllReduce, {"direct"},
      "everyone sends everything to everyone; local reduction in canonical order", buildOneShot,
      true);
  add("twoshot", C::kAllReduce, {"direct"},
      "direct reduce-scatter (owner reduces in canonical order) + direct all-gather", buildTwoShot,
      false);
  add("nvls", C::kAllReduce, {"switch", "sharp", "nvlsharp"},
      "in-switch reduction shape; on hosts each rank reduces its block for the switch", buildNvls,
      false);
  add("hier", C::kAllReduce, {"hierarchical"},
      "reduce-scatter in domains, all-reduce across domains per rail, all-gather in domains",
      buildHier, false, hierConstraint);

  add("ring", C::kAllGather, {}, "blocks circulate around rings", buildRing, false);
  add("recdoubling", C::kAllGather, {"rhd", "recursivedoubling"},
      "recursive doubling (folds non-powers of two)", buildRecursive, true);
  add("bruck", C::kAllGather, {}, "Bruck: ceil(log2 n) steps for any n", buildBruck, true);
  add("direct", C::kAllGather, {}, "every rank sends its block to every rank", buildDirect, true);

  add("ring", C::kReduceScatter, {}, "partial sums circulate around rings", buildRing, false);
  add("rechalving", C::kReduceScatter, {"rhd", "recursivehalving"},
      "recursive halving (folds non-powers of two)", buildRecursive, true);
  add("direct", C::kReduceScatter, {},
      "every rank sends each block to its owner; owners reduce in canonical order", buildDirect,
      true);

  add("chain", C::kBroadcast, {"ring", "pipeline"}, "pipelined chain along the ring", buildChain,
      false);
  add("binomial", C::kBroadcast, {}, "binomial tree, pipelined", buildBinomial, true);
  add("chain", C::kReduce, {"ring", "pipeline"}, "pipelined chain along the ring", buildChain,
      false);
  add("binomial", C::kReduce, {}, "binomial tree, pipelined", buildBinomial, true);
  add("direct", C::kReduce, {"linear"},
      "every rank sends to the root; the root reduces in canonical order", buildDirect, true);

  add("pairwise", C::kAllToAll, {"direct"}, "step s exchanges with r+s and r-s", buildPairwise,
      false);
  add("direct", C::kGather, {"linear"}, "every rank sends to the root", buildDirect, false);
  add("binomial", C::kGather, {}, "binomial tree, subtrees forwarded", buildBinomial, true);
  add("direct", C::kScatter, {"linear"}, "the root sends to every rank", buildDirect, false);
  add("binomial", C::kScatter, {}, "binomial tree, subtrees forwarded", buildBinomial, true);
  add("dissemination", C::kBarrier, {}, "round k: token to r+2^k, from r-2^k", buildDissemination,
      true);
  // The builders whose reductions follow the canonical order (direct.cpp's Accumulate).
  for (AlgorithmInfo& i : t) {
    const std::string n = i.name;
    i.reproducible =
        (i.collective == C::kAllReduce && (n == "oneshot" || n == "twoshot" || n == "nvls")) ||
        (i.collective == C::kReduceScatter && n == "direct") ||
        (i.collective == C::kReduce && n == "direct");
  }
  return t;
}

}  // namespace

std::string normalizeName(std::string_view text) {
  std::string s;
  for (char ch : text) {
    if (ch == '_' || ch == '-' || ch == ' ') continue;
    s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  }
  return s;
}

const std::vector<AlgorithmInfo>& algorithmTable() {
  static const std::vector<AlgorithmInfo> table = makeTable();  // constant after first use
  return table;
}

bool algorithmMatches(const AlgorithmInfo& info, std::string_view name) {
  const std::string n = normalizeName(name);
  if (n == info.name) return true;
  return std::any_of(info.aliases.begin(), info.aliases.end(),
                     [&](const char* a) { return n == a; });
}

std::vector<std::string> algorithmsFor(Collective c, const PlanLibrary* custom) {
  std::vector<std::string> names;
  for (const AlgorithmInfo& i : algorithmTable()) {
    if (i.collective == c) names.push_back(i.name);
  }
  if (custom != nullptr) {
    for (const std::string& n : custom->namesFor(c)) names.push_back(n);
  }
  return names;
}

const AlgorithmInfo* findAlgorithm(Collective c, std::string_view name) {
  for (const AlgorithmInfo& i : algorithmTable()) {
    if (i.collective == c && algorithmMatches(i, name)) return &i;
  }
  return nullptr;
}

bool offeredInReproducibleMode(const AlgorithmInfo& info) {
  return info.reproducible || !reproducibleCollective(info.collective);
}

bool parseCollective(std::string_view text, Collective& out) {
  const std::string n = normalizeName(text);
  for (int i = 0; i <= static_cast<int>(Collective::kBarrier); ++i) {
    const Collective c = static_cast<Collective>(i);
    if (n == collectiveName(c)) {
      out = c;
      return true;
    }
  }
  return false;
}

Plan buildPlan(const std::string& algorithm, const BuildRequest& r, const PlanLibrary* custom) {
  if (custom != nullptr && custom->has(r.collective, algorithm)) return custom->build(algorithm, r);
  if (r.collective == Collective::kAllReduce && normalizeName(algorithm) == "direct") {
    return buildDirect(r);
  }
  const AlgorithmInfo* info = findAlgorithm(r.collective, algorithm);
  if (info == nullptr) {
    std::string names;
    for (const std::string& n : algorithmsFor(r.collective, custom)) {
      names += (names.empty() ? "" : ", ") + n;
    }
    throwError(ErrorCode::kInvalidArgument, "unknown %s algorithm '%s' (known: %s)",
               collectiveName(r.collective), algorithm.c_str(), names.c_str());
  }
  const std::string why = info->unsupported(r);
  if (!why.empty()) {
    throwError(ErrorCode::kInvalidArgument, "%s %s cannot run on %d ranks: %s", info->name,
               collectiveName(r.collective), r.nranks, why.c_str());
  }
  return info->build(r);
}

}  // namespace plexus::algo
