// PLEXUS_ALGO parsing and matching (algo_filter.hpp).
#include "algorithms/algo_filter.hpp"

#include <algorithm>

#include "algorithms/plan_file.hpp"
#include "base/env.hpp"
#include "base/error.hpp"

namespace plexus::algo {
namespace {

std::string trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) ++a;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) --b;
  return std::string(s.substr(a, b - a));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  return out;
}

// Whether any algorithm of collective c (or of any collective when all) has this name or alias.
bool known(const std::string& name, const Collective* c, const PlanLibrary* custom) {
  for (const AlgorithmInfo& i : algorithmTable()) {
    if ((c == nullptr || i.collective == *c) && algorithmMatches(i, name)) return true;
  }
  if (custom != nullptr) {
    for (const PlanTemplate& t : custom->templates()) {
      if ((c == nullptr || t.collective == *c) && normalizeName(t.name) == name) return true;
    }
  }
  return false;
}

std::string knownNames(const Collective* c, const PlanLibrary* custom) {
  std::vector<std::string> names;
  for (const AlgorithmInfo& i : algorithmTable()) {
    if (c != nullptr && i.collective != *c) continue;
    if (std::find(names.begin(), names.end(), i.name) == names.end()) names.push_back(i.name);
  }
  if (custom != nullptr) {
    for (const PlanTemplate& t : custom->templates()) {
      if ((c == nullptr || t.collective == *c) &&
          std::find(names.begin(), names.end(), t.name) == names.end()) {
        names.push_back(t.name);
      }
    }
  }
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

AlgoFilter AlgoFilter::parse(std::string_view spec, const PlanLibrary* custom) {
  AlgoFilter f;
  f.spec_ = trim(spec);
  if (f.spec_.empty()) return f;
  for (const std::string& entry : split(f.spec_, ';')) {
    if (entry.empty()) continue;
    std::string list = entry;
    std::optional<Collective> coll;
    const size_t colon = entry.find(':');
    if (colon != std::string::npos) {
      Collective c;
      const std::string cname = trim(std::string_view(entry).substr(0, colon));
      if (!parseCollective(cname, c) || c == Collective::kSendRecv) {
        throwError(ErrorCode::kInvalidArgument,
                   "PLEXUS_ALGO=\"%s\": unknown collective \"%s\" in \"%s\" (allreduce, "
                   "allgather, reducescatter, broadcast, reduce, alltoall, gather, scatter, "
                   "barrier)",
                   f.spec_.c_str(), cname.c_str(), entry.c_str());
      }
      coll = c;
      list = trim(std::string_view(entry).substr(colon + 1));
    }
    Rule rule;
    if (!list.empty() && list[0] == '^') {
      rule.exclude = true;
      list = trim(std::string_view(list).substr(1));
    }
    for (const std::string& raw : split(list, ',')) {
      if (raw.empty()) {
        throwError(ErrorCode::kInvalidArgument,
                   "PLEXUS_ALGO=\"%s\": empty algorithm name in \"%s\"", f.spec_.c_str(),
                   entry.c_str());
      }
      const std::string n = normalizeName(raw);
      const Collective* cp = coll ? &*coll : nullptr;
      if (!known(n, cp, custom)) {
        throwError(ErrorCode::kInvalidArgument,
                   "PLEXUS_ALGO=\"%s\": \"%s\" is not an algorithm%s%s (known: %s)",
                   f.spec_.c_str(), raw.c_str(), coll ? " of " : "",
                   coll ? collectiveName(*coll) : "", knownNames(cp, custom).c_str());
      }
      rule.names.push_back(n);
    }
    if (coll) {
      if (f.per_.count(*coll)) {
        throwError(ErrorCode::kInvalidArgument, "PLEXUS_ALGO=\"%s\": %s is listed twice",
                   f.spec_.c_str(), collectiveName(*coll));
      }
      f.per_[*coll] = std::move(rule);
    } else {
      if (f.all_) {
        throwError(ErrorCode::kInvalidArgument,
                   "PLEXUS_ALGO=\"%s\": two lists without a collective; join them with ','",
                   f.spec_.c_str());
      }
      f.all_ = std::move(rule);
    }
  }
  return f;
}

AlgoFilter AlgoFilter::fromEnv(const PlanLibrary* custom) {
  const std::optional<std::string> v = envGet("ALGO");
  return v ? parse(*v, custom) : AlgoFilter{};
}

const AlgoFilter::Rule* AlgoFilter::ruleFor(Collective c) const {
  auto it = per_.find(c);
  if (it != per_.end()) return &it->second;
  return all_ ? &*all_ : nullptr;
}

bool AlgoFilter::restricts(Collective c) const {
  return ruleFor(c) != nullptr;
}

bool AlgoFilter::allows(Collective c, std::string_view name,
                        const std::vector<const char*>& aliases) const {
  const Rule* rule = ruleFor(c);
  if (rule == nullptr) return true;
  const std::string n = normalizeName(name);
  bool listed = false;
  for (const std::string& x : rule->names) {
    if (x == n ||
        std::any_of(aliases.begin(), aliases.end(), [&](const char* a) { return x == a; }))
      listed = true;
  }
  return rule->exclude ? !listed : listed;
}

}  // namespace plexus::algo
