// PeerInfo JSON encoding.
#include "runtime/peer_info.hpp"

#include <nlohmann/json.hpp>

#include "base/error.hpp"

namespace plexus::runtime {
namespace {

std::string toHex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string fromHex(const std::string& hex) {
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd hex length");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nib(hex[i]), lo = nib(hex[i + 1]);
    if (hi < 0 || lo < 0) throw std::invalid_argument("bad hex digit");
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

}  // namespace

std::string encodePeerInfo(const PeerInfo& info) {
  nlohmann::json j;
  j["rank"] = info.record.rank;
  j["hostHash"] = info.record.hostHash;
  j["hostName"] = info.record.hostName;
  j["machineHash"] = info.machineHash;
  j["pid"] = info.record.pid;
  j["slotBytes"] = info.slots.slotBytes;
  j["slots"] = info.slots.slots;
  j["shmBudget"] = info.shmBudget;
  j["topology"] = toHex(info.topology);
  j["bootstrap"] = info.bootstrapAddress;
  return j.dump();
}

PeerInfo decodePeerInfo(const std::string& blob, int fromRank) {
  try {
    auto j = nlohmann::json::parse(blob);
    PeerInfo info;
    info.record.rank = j.at("rank").get<int>();
    info.record.hostHash = j.at("hostHash").get<uint64_t>();
    info.record.hostName = j.at("hostName").get<std::string>();
    info.machineHash = j.value("machineHash", info.record.hostHash);
    info.record.pid = j.at("pid").get<int>();
    info.slots.slotBytes = j.at("slotBytes").get<uint32_t>();
    info.slots.slots = j.at("slots").get<uint32_t>();
    info.shmBudget = j.at("shmBudget").get<uint64_t>();
    info.topology = fromHex(j.value("topology", std::string()));
    info.bootstrapAddress = j.value("bootstrap", std::string());
    return info;
  } catch (const std::exception& e) {
    throwError(ErrorCode::kRemote,
               "rank %d sent a malformed peer description during init (%s); are all ranks "
               "running the same Plexus version?",
               fromRank, e.what());
  }
}

std::string encodeAddresses(const std::map<std::string, std::string>& addresses) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, blob] : addresses) j[name] = toHex(blob);
  return j.dump();
}

std::map<std::string, std::string> decodeAddresses(const std::string& blob, int fromRank) {
  try {
    std::map<std::string, std::string> out;
    const nlohmann::json j = nlohmann::json::parse(blob);
    if (!j.is_object()) throw std::invalid_argument("not a JSON object");
    for (const auto& [name, hex] : j.items()) out[name] = fromHex(hex.get<std::string>());
    return out;
  } catch (const std::exception& e) {
    throwError(ErrorCode::kRemote,
               "rank %d sent malformed transport addresses during init (%s); are all ranks "
               "running the same Plexus version?",
               fromRank, e.what());
  }
}

}  // namespace plexus::runtime
