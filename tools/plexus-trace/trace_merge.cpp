// Reading flight-recorder dumps and merging them per communicator.
#include "trace_merge.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>
#include <stdexcept>

namespace plexus::trace {
namespace {

constexpr const char* kMarker = "{\"plexus_flight_recorder\"";

Op parseOp(const nlohmann::json& j) {
  Op o;
  o.id = j.value("id", uint64_t{0});
  o.seq = j.value("seq", uint64_t{0});
  o.collective = j.value("collective", "");
  o.algorithm = j.value("algorithm", "");
  o.type = j.value("type", "");
  o.op = j.value("op", "");
  o.state = j.value("state", "");
  o.count = j.value("count", uint64_t{0});
  o.rootOrPeer = j.contains("peer") ? j.value("peer", int64_t{-1}) : j.value("root", int64_t{-1});
  o.stepsDone = j.value("steps_done", int64_t{0});
  o.stepsTotal = j.value("steps_total", int64_t{0});
  if (j.contains("waits"))
    for (const auto& w : j.at("waits")) {
      ChannelWait cw;
      cw.channel = w.value("channel", 0);
      cw.what = w.value("for", "");
      cw.peer = w.value("peer", -1);
      o.waits.push_back(cw);
    }
  o.startUs = j.value("start_us", int64_t{0});
  o.lastProgressUs = j.value("last_progress_us", int64_t{0});
  o.endUs = j.value("end_us", int64_t{0});
  return o;
}

Dump parseDump(const nlohmann::json& j, const std::string& source) {
  Dump d;
  d.source = source;
  d.host = j.value("host", "");
  d.comm = j.value("comm", "");
  d.context = j.value("context", "");
  d.reason = j.value("reason", "");
  d.pid = j.value("pid", 0);
  d.rank = j.value("rank", 0);
  d.nranks = j.value("nranks", 0);
  d.dumpedUs = j.value("dumped_us", int64_t{0});
  for (const auto& op : j.at("ops")) d.ops.push_back(parseOp(op));
  return d;
}

std::string rankList(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks) out += (out.empty() ? "" : ",") + std::to_string(r);
  return out.empty() ? "none" : out;
}

std::string describeOp(const Op& o) {
  std::ostringstream s;
  s << o.collective << " seq " << o.seq << " (" << o.algorithm << ", " << o.count << " x "
    << o.type;
  if (o.collective == "allreduce" || o.collective == "reduce" || o.collective == "reducescatter")
    s << ", " << o.op;
  if (o.rootOrPeer >= 0)
    s << (o.collective == "send" || o.collective == "recv" ? ", peer " : ", root ") << o.rootOrPeer;
  s << ") " << o.state << " at step " << o.stepsDone << " of " << o.stepsTotal;
  return s.str();
}

}  // namespace

const Op* Dump::current() const {
  for (const Op& o : ops)
    if (o.state != "done") return &o;
  return nullptr;
}

std::vector<Dump> readDumps(std::istream& in, const std::string& source) {
  std::vector<Dump> out;
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    const size_t at = line.find(kMarker);
    if (at == std::string::npos) continue;
    try {
      out.push_back(parseDump(nlohmann::json::parse(line.substr(at)), source));
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(source + ":" + std::to_string(lineNo) +
                               ": not a complete flight-recorder dump: " + e.what());
    }
  }
  return out;
}

std::map<std::string, Report> merge(const std::vector<Dump>& dumps) {
  std::map<std::string, Report> reports;
  for (const Dump& d : dumps) {
    Report& r = reports[d.comm];
    r.comm = d.comm;
    r.nranks = std::max(r.nranks, d.nranks);
    auto it = r.ranks.find(d.rank);
    if (it == r.ranks.end() || d.dumpedUs < it->second.dumpedUs) r.ranks[d.rank] = d;
  }
  for (auto& [comm, r] : reports) {
    std::map<int, std::set<int>> waitedBy;
    for (int rank = 0; rank < r.nranks; ++rank)
      if (r.ranks.count(rank) == 0) r.missing.push_back(rank);
    for (const auto& [rank, d] : r.ranks) {
      const Op* op = d.current();
      if (op == nullptr) continue;
      r.stuck.push_back(rank);
      for (const ChannelWait& w : op->waits) {
        r.waits.push_back(Wait{rank, w.peer, w.what});
        if (w.peer != rank) waitedBy[w.peer].insert(rank);
      }
    }
    // Suspects: the ranks others wait for, missing ones (they could not dump: stopped, killed)
    // first, then by how many wait for them, then by how long ago they last made progress.
    std::vector<int> suspects;
    for (const auto& [peer, by] : waitedBy) suspects.push_back(peer);
    auto lastProgress = [&](int rank) -> int64_t {
      auto it = r.ranks.find(rank);
      if (it == r.ranks.end() || it->second.current() == nullptr) return 0;
      return it->second.current()->lastProgressUs;
    };
    std::sort(suspects.begin(), suspects.end(), [&](int a, int b) {
      const bool ma = r.ranks.count(a) == 0, mb = r.ranks.count(b) == 0;
      if (ma != mb) return ma;
      if (waitedBy[a].size() != waitedBy[b].size()) return waitedBy[a].size() > waitedBy[b].size();
      return lastProgress(a) < lastProgress(b);
    });
    r.suspects = suspects;
  }
  return reports;
}

std::string formatText(const Report& r) {
  std::ostringstream s;
  s << "communicator " << r.comm << ": " << r.nranks << " ranks, " << r.ranks.size()
    << " dumps; missing: " << rankList(r.missing) << "\n";
  s << "stuck ranks: " << rankList(r.stuck) << "\n";
  for (const auto& [rank, d] : r.ranks) {
    s << "  rank " << rank << " (host " << d.host << ", pid " << d.pid << "): ";
    const Op* op = d.current();
    if (op == nullptr) {
      s << "no unfinished operation";
      if (!d.ops.empty()) s << " (last: " << describeOp(d.ops.back()) << ")";
    } else {
      s << describeOp(*op);
      for (const ChannelWait& w : op->waits)
        s << "; channel " << w.channel << " waits for " << w.what << " rank " << w.peer;
      if (d.dumpedUs > 0 && op->lastProgressUs > 0) {
        char secs[32];
        std::snprintf(secs, sizeof(secs), "%.3f",
                      static_cast<double>(d.dumpedUs - op->lastProgressUs) / 1e6);
        s << "; last progress " << secs << " s before the dump";
      }
    }
    s << "\n    dump: " << d.reason.substr(0, 300) << "\n";
  }
  for (int rank : r.missing) s << "  rank " << rank << ": no dump\n";
  s << "who waits for whom:";
  if (r.waits.empty()) s << " nobody";
  for (const Wait& w : r.waits)
    s << "\n  rank " << w.rank << " -> rank " << w.peer << " (" << w.what << ")";
  s << "\n";
  if (!r.suspects.empty()) {
    const int top = r.suspects.front();
    s << "suspect: rank " << top;
    auto it = r.ranks.find(top);
    if (it == r.ranks.end())
      s << " (no dump: stopped, killed or hung outside Plexus)";
    else if (const Op* op = it->second.current())
      s << " (in " << describeOp(*op) << ")";
    std::vector<int> by;
    for (const Wait& w : r.waits)
      if (w.peer == top && std::find(by.begin(), by.end(), w.rank) == by.end())
        by.push_back(w.rank);
    s << ", waited for by ranks " << rankList(by) << "\n";
  }
  return s.str();
}

nlohmann::json toJson(const Report& r) {
  nlohmann::json j;
  j["comm"] = r.comm;
  j["nranks"] = r.nranks;
  j["missing"] = r.missing;
  j["stuck"] = r.stuck;
  j["suspects"] = r.suspects;
  j["ranks"] = nlohmann::json::array();
  for (const auto& [rank, d] : r.ranks) {
    nlohmann::json e{{"rank", rank}, {"host", d.host}, {"pid", d.pid}, {"reason", d.reason}};
    if (const Op* op = d.current()) {
      e["op"] = {
          {"seq", op->seq},     {"collective", op->collective}, {"algorithm", op->algorithm},
          {"state", op->state}, {"steps_done", op->stepsDone},  {"steps_total", op->stepsTotal}};
    }
    j["ranks"].push_back(e);
  }
  j["waits"] = nlohmann::json::array();
  for (const Wait& w : r.waits)
    j["waits"].push_back({{"rank", w.rank}, {"peer", w.peer}, {"for", w.what}});
  return j;
}

}  // namespace plexus::trace
