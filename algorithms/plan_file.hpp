// Plan files: custom algorithms as data (docs/plan-format.md). A plan file holds plan templates:
// for one collective and rank count, every rank's channels and steps over *units*, where `chunks`
// units make up one count of elements. At a call with count = chunks * U elements, the template
// runs once per piece of the units (each unit then holds at most fifoElems / fifo_units
// elements), so one verified template serves every count that is a multiple of `chunks`.
//
// Every template is checked by the symbolic verifier when it is loaded: as written (one element
// per unit, FIFO of fifo_units) and expanded to two pieces (which checks that consecutive pieces
// compose). A wrong plan is rejected with the file, the plan, and the verifier's rank / channel /
// step / range (in units).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "algorithms/builders.hpp"
#include "plan/plan.hpp"

namespace plexus::algo {

struct PlanTemplate {
  std::string name;  // algorithm name (PLEXUS_ALGO selects it); not a built-in name
  Collective collective = Collective::kAllReduce;
  int nranks = 1;
  int root = -1;            // rooted collectives: the root it is written for; else -1
  uint64_t chunks = 1;      // units per count
  uint64_t fifoUnits = 1;   // FIFO capacity, in units, the template is verified with
  uint64_t minBytes = 0;    // the tuner uses it for calls of [minBytes, maxBytes] bytes
  uint64_t maxBytes = 0;    // 0: no upper limit
  std::vector<Plan> plans;  // by rank; count = chunks, fifoElems = fifoUnits, sizes in units
  std::string source;       // "FILE: plan 'NAME'" for messages
};

// The custom algorithms of one communicator (loaded at init; read-only afterwards).
class PlanLibrary {
 public:
  // Checks the template (structure, then the verifier) and adds it. Throws Error(kInvalidUsage)
  // with the verifier's report, prefixed by t.source.
  void add(PlanTemplate t);
  bool empty() const { return templates_.empty(); }
  const std::vector<PlanTemplate>& templates() const { return templates_; }

  bool has(Collective c, const std::string& name) const;
  std::vector<std::string> namesFor(Collective c) const;
  // The template for this request's collective, rank count and root with that name; null if none.
  const PlanTemplate* find(const std::string& name, const BuildRequest& r) const;
  // Why the named algorithm cannot build the request (empty when it can): no template for this
  // rank count or root, count not a multiple of chunks, FIFO smaller than fifo_units.
  std::string unsupported(const std::string& name, const BuildRequest& r) const;
  // Expands the template for r (throws Error(kInvalidArgument) with unsupported()'s reason).
  Plan build(const std::string& name, const BuildRequest& r) const;

 private:
  std::vector<PlanTemplate> templates_;
};

// Expands a template for a request (see the file comment); throws when it does not apply.
Plan expandTemplate(const PlanTemplate& t, const BuildRequest& r);

// Parses plan-file JSON text into templates (not yet verified); `source` names the file in errors.
// Throws Error(kInvalidArgument) naming the plan, rank, channel, step and field.
std::vector<PlanTemplate> parsePlanJson(const std::string& text, const std::string& source);

// Loads a plan file and verifies every template in it (all rank counts, so a wrong plan is
// reported even when this job would not use it). Throws Error with a message that names the
// file, the plan, and the rank / channel / step / range of the first problems.
PlanLibrary loadPlanFile(const std::string& path);

// What the communicator calls at init: loads PLEXUS_PLAN_FILE when it is set (empty library
// otherwise) and logs the custom algorithms for `nranks` at INFO.
PlanLibrary loadPlanFileFromEnv(int nranks);

struct ExportOptions {
  Collective collective = Collective::kAllReduce;
  std::string algorithm = "ring";
  int nranks = 8;
  int root = 0;
  int nchannels = 1;
  uint64_t chunks = 0;     // 0: nranks * nchannels for all-reduce, nchannels otherwise
  uint64_t fifoUnits = 0;  // 0: 2 * chunks
  std::vector<std::vector<int>> groups;  // hierarchical algorithms; empty: hosts of 8 ranks
  std::string name;                      // template name; empty: "<algorithm>-export"
};

// A built-in algorithm as a plan file (one template, every rank), verified before it is
// written. `plexus-topo plan --export` prints this.
std::string exportPlanJson(const ExportOptions& options);

// Serializes templates as a plan file.
std::string planFileJson(const std::vector<PlanTemplate>& templates);

}  // namespace plexus::algo
