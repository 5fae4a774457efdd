// Text and JSON output, and the merge of the ranks' results.
#include "report.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace plexus::tools::doctor {

namespace {

std::string rankList(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks) out += (out.empty() ? "" : ",") + std::to_string(r);
  return out;
}

nlohmann::json toJson(const Result& r) {
  return nlohmann::json{
      {"name", r.name}, {"verdict", verdictName(r.verdict)}, {"found", r.found}, {"fix", r.fix}};
}

Verdict parseVerdict(const std::string& s) {
  if (s == "WARN") return Verdict::kWarn;
  if (s == "FAIL") return Verdict::kFail;
  if (s == "SKIP") return Verdict::kSkip;
  return Verdict::kOk;
}

}  // namespace

std::string formatLine(const RankedResult& r, bool allRanks) {
  char head[64];
  std::snprintf(head, sizeof(head), "%-4s %-20s ", verdictName(r.result.verdict),
                r.result.name.c_str());
  std::string line = head;
  if (!allRanks && !r.ranks.empty())
    line += std::string(r.ranks.size() == 1 ? "[rank " : "[ranks ") + rankList(r.ranks) + "] ";
  line += r.result.found;
  if (!r.result.fix.empty() &&
      (r.result.verdict == Verdict::kFail || r.result.verdict == Verdict::kWarn))
    line += " -> fix: " + r.result.fix;
  return line + "\n";
}

std::string formatText(const std::vector<RankedResult>& results, int nranks) {
  std::string out;
  for (const auto& r : results)
    out += formatLine(r, static_cast<int>(r.ranks.size()) == nranks || r.ranks.empty());
  return out;
}

std::string formatJson(const std::vector<RankedResult>& results) {
  nlohmann::json array = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json o = toJson(r.result);
    if (!r.ranks.empty()) o["ranks"] = r.ranks;
    array.push_back(std::move(o));
  }
  return array.dump(2) + "\n";
}

std::string resultsToJson(const std::vector<Result>& results) {
  nlohmann::json array = nlohmann::json::array();
  for (const auto& r : results) array.push_back(toJson(r));
  return array.dump();
}

std::vector<Result> resultsFromJson(const std::string& text) {
  std::vector<Result> out;
  for (const auto& o : nlohmann::json::parse(text))
    out.push_back(Result{o.at("name").get<std::string>(),
                         parseVerdict(o.at("verdict").get<std::string>()),
                         o.at("found").get<std::string>(), o.at("fix").get<std::string>()});
  return out;
}

std::vector<RankedResult> mergeRanks(const std::vector<std::vector<Result>>& perRank) {
  std::vector<RankedResult> out;
  std::vector<std::string> names;  // check order: as the ranks ran them
  for (const auto& results : perRank)
    for (const auto& r : results)
      if (std::find(names.begin(), names.end(), r.name) == names.end()) names.push_back(r.name);
  for (const std::string& name : names) {
    const size_t first = out.size();
    for (size_t rank = 0; rank < perRank.size(); ++rank)
      for (const auto& r : perRank[rank]) {
        if (r.name != name) continue;
        bool merged = false;
        for (size_t i = first; i < out.size() && !merged; ++i)
          if (out[i].result.verdict == r.verdict && out[i].result.found == r.found) {
            out[i].ranks.push_back(static_cast<int>(rank));
            merged = true;
          }
        if (!merged) out.push_back(RankedResult{r, {static_cast<int>(rank)}});
      }
  }
  return out;
}

bool anyFail(const std::vector<RankedResult>& results) {
  for (const auto& r : results)
    if (r.result.verdict == Verdict::kFail) return true;
  return false;
}

}  // namespace plexus::tools::doctor
