// Encodings and pure decisions of the ibverbs transport (see ib_wire.hpp).
#include "transports/ibverbs/ib_wire.hpp"

#include <cstring>

#include "base/error.hpp"

namespace plexus::transport::ib {
namespace {

class Writer {
 public:
  template <typename T>
  void put(T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof(v));
  }
  void bytes(const uint8_t* p, size_t n) { out.append(reinterpret_cast<const char*>(p), n); }
  std::string out;
};

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  template <typename T>
  bool get(T* v) {
    if (pos_ > s_.size() || s_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, s_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool bytes(uint8_t* p, size_t n) {
    if (pos_ > s_.size() || s_.size() - pos_ < n) return false;
    std::memcpy(p, s_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

bool validLinkLayer(uint8_t v) {
  return v == static_cast<uint8_t>(LinkLayer::kInfiniBand) ||
         v == static_cast<uint8_t>(LinkLayer::kEthernet);
}

}  // namespace

std::string encodePorts(const std::vector<PortAddress>& ports) {
  Writer w;
  w.put(static_cast<uint16_t>(ports.size()));
  for (const PortAddress& p : ports) {
    w.put(p.subnetPrefix);
    w.put(p.lid);
    w.put(p.port);
    w.put(static_cast<uint8_t>(p.linkLayer));
    w.bytes(p.gid.data(), p.gid.size());
  }
  return w.out;
}

std::vector<PortAddress> decodePorts(const std::string& blob, const std::string& who) {
  Reader r(blob);
  uint16_t n = 0;
  std::vector<PortAddress> out;
  bool ok = r.get(&n);
  for (uint16_t i = 0; ok && i < n; ++i) {
    PortAddress p;
    uint8_t ll = 0;
    ok = r.get(&p.subnetPrefix) && r.get(&p.lid) && r.get(&p.port) && r.get(&ll) &&
         r.bytes(p.gid.data(), p.gid.size()) && validLinkLayer(ll);
    p.linkLayer = static_cast<LinkLayer>(ll);
    out.push_back(p);
  }
  if (!ok || !r.done())
    throwError(ErrorCode::kInvalidUsage,
               "%s published a damaged ibverbs port list (%zu bytes); check that every rank runs "
               "the same Plexus build",
               who.c_str(), blob.size());
  return out;
}

std::string encodeConnInfo(const ConnInfo& c) {
  Writer w;
  w.put(c.version);
  w.put(c.slots);
  w.put(c.slotBytes);
  w.put(c.lid);
  w.put(c.port);
  w.put(c.mtu);
  w.put(static_cast<uint8_t>(c.linkLayer));
  w.bytes(c.gid.data(), c.gid.size());
  w.put(c.fifoAddr);
  w.put(c.fifoRkey);
  w.put(c.creditAddr);
  w.put(c.creditRkey);
  w.put(static_cast<uint16_t>(c.qpn.size()));
  for (size_t i = 0; i < c.qpn.size(); ++i) {
    w.put(c.qpn[i]);
    w.put(i < c.psn.size() ? c.psn[i] : 0u);
  }
  return w.out;
}

ConnInfo decodeConnInfo(const std::string& blob, const std::string& who) {
  Reader r(blob);
  ConnInfo c;
  if (!r.get(&c.version))
    throwError(ErrorCode::kRemote, "%s sent an empty ibverbs connection record", who.c_str());
  if (c.version != ConnInfo::kVersion)
    throwError(ErrorCode::kRemote,
               "%s speaks ibverbs connection record version %u, this rank version %u: run the same "
               "Plexus version on every rank",
               who.c_str(), c.version, ConnInfo::kVersion);
  uint8_t ll = 0;
  uint16_t nqp = 0;
  bool ok = r.get(&c.slots) && r.get(&c.slotBytes) && r.get(&c.lid) && r.get(&c.port) &&
            r.get(&c.mtu) && r.get(&ll) && r.bytes(c.gid.data(), c.gid.size()) &&
            r.get(&c.fifoAddr) && r.get(&c.fifoRkey) && r.get(&c.creditAddr) &&
            r.get(&c.creditRkey) && r.get(&nqp) && validLinkLayer(ll) && nqp >= 1 && nqp <= 64;
  c.linkLayer = static_cast<LinkLayer>(ll);
  for (uint16_t i = 0; ok && i < nqp; ++i) {
    uint32_t qpn = 0, psn = 0;
    ok = r.get(&qpn) && r.get(&psn);
    c.qpn.push_back(qpn);
    c.psn.push_back(psn);
  }
  if (!ok || !r.done())
    throwError(ErrorCode::kRemote,
               "%s sent a damaged ibverbs connection record (%zu bytes); check that every rank "
               "runs the same Plexus build",
               who.c_str(), blob.size());
  return c;
}

double portRateGbps(uint8_t activeWidth, uint8_t activeSpeed) {
  int lanes = 0;
  switch (activeWidth) {
    case 1:
      lanes = 1;
      break;
    case 2:
      lanes = 4;
      break;
    case 4:
      lanes = 8;
      break;
    case 8:
      lanes = 12;
      break;
    case 16:
      lanes = 2;
      break;
    default:
      return 0;
  }
  double perLane = 0;
  switch (activeSpeed) {
    case 1:
      perLane = 2.5;
      break;  // SDR
    case 2:
      perLane = 5.0;
      break;  // DDR
    case 4:
      perLane = 10.0;
      break;  // QDR
    case 8:
      perLane = 10.0;
      break;  // FDR10
    case 16:
      perLane = 14.0;
      break;  // FDR
    case 32:
      perLane = 25.0;
      break;  // EDR
    case 64:
      perLane = 50.0;
      break;  // HDR
    case 128:
      perLane = 100.0;
      break;  // NDR
    default:
      return 0;
  }
  return lanes * perLane;
}

std::optional<int> chooseGidIndex(const std::vector<GidEntry>& table, LinkLayer linkLayer,
                                  std::optional<int> forced) {
  auto zero = [](const GidEntry& e) {
    for (uint8_t b : e.gid)
      if (b != 0) return false;
    return true;
  };
  if (forced) {
    for (const GidEntry& e : table)
      if (e.index == *forced && !zero(e)) return forced;
    return std::nullopt;
  }
  if (linkLayer == LinkLayer::kInfiniBand) {
    for (const GidEntry& e : table)
      if (e.index == 0 && !zero(e)) return 0;
    return std::nullopt;
  }
  auto v4mapped = [](const GidEntry& e) {
    for (int i = 0; i < 10; ++i)
      if (e.gid[static_cast<size_t>(i)] != 0) return false;
    return e.gid[10] == 0xff && e.gid[11] == 0xff;
  };
  auto linkLocal = [](const GidEntry& e) { return e.gid[0] == 0xfe && (e.gid[1] & 0xc0) == 0x80; };
  for (const GidEntry& e : table)
    if (e.type == GidType::kRoceV2 && !zero(e) && v4mapped(e)) return e.index;
  for (const GidEntry& e : table)
    if (e.type == GidType::kRoceV2 && !zero(e) && !linkLocal(e)) return e.index;
  for (const GidEntry& e : table)
    if (e.type == GidType::kRoceV2 && !zero(e)) return e.index;
  for (const GidEntry& e : table)
    if (!zero(e)) return e.index;
  return std::nullopt;
}

}  // namespace plexus::transport::ib
