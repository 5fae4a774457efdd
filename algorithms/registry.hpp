// The algorithms by name: every built-in builder with the collective it implements, its aliases
// and a one-line summary (docs/algorithms.md describes each). This is the documented registry the
// tuner, PLEXUS_ALGO and plan export resolve names against; it is a constant table (no mutable
// global state). Custom algorithms loaded from plan files live in a PlanLibrary (plan_file.hpp)
// that the communicator owns and passes in.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "algorithms/builders.hpp"
#include "algorithms/verifier.hpp"
#include "plan/plan.hpp"

namespace plexus::algo {

class PlanLibrary;

struct AlgorithmInfo {
  const char* name = "";  // canonical, lower case: "ring", "tree", "rhd", ...
  Collective collective = Collective::kAllReduce;
  std::vector<const char*> aliases;  // other names that select it ("chain", "direct", "switch")
  const char* summary = "";
  Builder build;
  // Why this algorithm cannot build the request (missing domains, unequal domains, ...); empty
  // when it can. Shape checks only: bad ranks/roots throw in the builder.
  std::string (*unsupported)(const BuildRequest&) = nullptr;
  // A latency algorithm (few steps, for small messages) rather than a bandwidth one.
  bool latency = false;
  // Offered in reproducible mode (PLEXUS_REPRODUCIBLE=1, canonical.hpp): every element it reduces
  // is combined in the canonical order, whatever channels, chunks, ring orders and placement.
  // Collectives that do not reduce are not constrained by the mode (every algorithm is offered).
  bool reproducible = false;
};

// Whether the mode offers `info` (always for collectives that do not reduce).
bool offeredInReproducibleMode(const AlgorithmInfo& info);

// Every built-in algorithm, grouped by collective.
const std::vector<AlgorithmInfo>& algorithmTable();

// The canonical names of the built-in algorithms for a collective (and of the custom ones in
// `custom` for it), in table order.
std::vector<std::string> algorithmsFor(Collective c, const PlanLibrary* custom = nullptr);

// The built-in algorithm a name (canonical or alias, any case) selects for a collective; null
// when none. A family name that several algorithms share ("direct" for one-shot and two-shot)
// returns the first.
const AlgorithmInfo* findAlgorithm(Collective c, std::string_view name);

// True when `name` (any case) is the canonical name or an alias of `info`.
bool algorithmMatches(const AlgorithmInfo& info, std::string_view name);

// Builds the plan of `request.rank` with the named algorithm: a built-in (canonical name or
// alias; "direct" for all-reduce picks one-shot when one piece carries the whole message, else
// two-shot) or a custom algorithm of `custom`. Throws Error(kInvalidArgument) naming the
// collective and the algorithms it has when the name is unknown for it, or saying why the
// algorithm cannot build this request.
Plan buildPlan(const std::string& algorithm, const BuildRequest& request,
               const PlanLibrary* custom = nullptr);

// Parses a collective name as collectiveName() writes it ("allreduce"); also accepts "all_reduce",
// "all-reduce" and any case. Returns false when unknown.
bool parseCollective(std::string_view text, Collective& out);

// Lower case, without '_' and '-': the form names are compared in.
std::string normalizeName(std::string_view text);

}  // namespace plexus::algo
