// PLEXUS_ALGO (and NCCL_ALGO): which algorithms the tuner may pick, in NCCL's list syntax.
//
//   ring,tree                      only these (for every collective)
//   ^tree                          all but these
//   allreduce:tree;allgather:ring  per collective; a collective without an entry is free
//   allreduce:^ring,tree;bruck     a plain list (no "coll:") applies to the collectives without
//                                  their own entry
// Names are compared without case, '-' and '_' ("Ring", "all_reduce"); an algorithm's aliases
// match too ("chain" = the broadcast ring, "direct" = one-shot and two-shot all-reduce). A name
// that no collective knows is an error; so is a name that the named collective does not know
// ("allgather:tree"). A plain list may name algorithms of several collectives ("ring,tree"): for
// each collective only the names it has count.
//
// What happens when the list leaves a collective nothing that can run the call (the tuner, see
// tuner.hpp): it falls back to its own choice among all algorithms and logs a WARN that names
// the filter and the reason. It never fails a call because of PLEXUS_ALGO.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "algorithms/registry.hpp"
#include "plan/plan.hpp"

namespace plexus::algo {

class AlgoFilter {
 public:
  AlgoFilter() = default;  // allows everything

  // Throws Error(kInvalidArgument) naming the bad entry and the known names. `custom` adds the
  // names of custom algorithms (plan files).
  static AlgoFilter parse(std::string_view spec, const PlanLibrary* custom = nullptr);
  // PLEXUS_ALGO / NCCL_ALGO; an empty or unset variable allows everything.
  static AlgoFilter fromEnv(const PlanLibrary* custom = nullptr);

  // Whether the tuner may pick the algorithm called `name` (canonical) with these aliases.
  bool allows(Collective c, std::string_view name,
              const std::vector<const char*>& aliases = {}) const;
  bool allows(const AlgorithmInfo& info) const {
    return allows(info.collective, info.name, info.aliases);
  }
  // True when an entry applies to the collective (it is forced or restricted).
  bool restricts(Collective c) const;
  const std::string& spec() const { return spec_; }

 private:
  struct Rule {
    bool exclude = false;
    std::vector<std::string> names;  // normalized
  };
  const Rule* ruleFor(Collective c) const;
  std::string spec_;
  std::optional<Rule> all_;
  std::map<Collective, Rule> per_;
};

}  // namespace plexus::algo
