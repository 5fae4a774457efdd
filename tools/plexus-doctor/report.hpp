// The doctor's output: one line per check (text) or an array of objects (--json), results to and
// from JSON (they travel between ranks), and the merge of every rank's results into one report.
#pragma once

#include <string>
#include <vector>

#include "check.hpp"

namespace plexus::tools::doctor {

// A result and the ranks it holds for (empty: this process only).
struct RankedResult {
  Result result;
  std::vector<int> ranks;
};

// "OK   shm.size            /dev/shm ...", "FAIL ... -> fix: ..."; "[ranks 1,3] " before the
// name when the result holds for some ranks only.
std::string formatLine(const RankedResult& r, bool allRanks);
std::string formatText(const std::vector<RankedResult>& results, int nranks);
std::string formatJson(const std::vector<RankedResult>& results);

std::string resultsToJson(const std::vector<Result>& results);
std::vector<Result> resultsFromJson(const std::string& text);

// Every rank's results (indexed by rank) in check order; results equal on several ranks once.
std::vector<RankedResult> mergeRanks(const std::vector<std::vector<Result>>& perRank);

bool anyFail(const std::vector<RankedResult>& results);

}  // namespace plexus::tools::doctor
