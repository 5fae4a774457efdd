// Fuzz target for plan files (PLEXUS_PLAN_FILE): parsed, then each template checked and verified as
// loadPlanFile does.
#include <string>

#include "algorithms/plan_file.hpp"
#include "base/error.hpp"
#include "fuzz_targets.hpp"

namespace plexus::fuzz {

int planFile(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<algo::PlanTemplate> templates;
  try {
    templates = algo::parsePlanJson(text, "fuzz.json");
  } catch (const Error&) {
    return 0;
  }
  algo::PlanLibrary library;
  for (auto& t : templates) {
    try {
      library.add(std::move(t));
    } catch (const Error&) {
    }
  }
  if (library.empty()) return 0;
  try {
    (void)algo::parsePlanJson(algo::planFileJson(library.templates()), "fuzz-export.json");
  } catch (const Error&) {
    broken("a verified plan, written as a plan file, does not parse again");
  }
  return 0;
}

}  // namespace plexus::fuzz
