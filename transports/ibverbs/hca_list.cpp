// PLEXUS_IB_HCA parsing and matching (see hca_list.hpp).
#include "transports/ibverbs/hca_list.hpp"

#include <cstdlib>
#include <string>

#include "base/error.hpp"

namespace plexus::transport::ib {

HcaFilter HcaFilter::parse(std::string_view spec) {
  HcaFilter f;
  std::string_view s = spec;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  if (!s.empty() && s.front() == '^') {
    f.exclude = true;
    s.remove_prefix(1);
  }
  if (!s.empty() && s.front() == '=') {
    f.exact = true;
    s.remove_prefix(1);
  }
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string_view tok =
        s.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    while (!tok.empty() && tok.front() == ' ') tok.remove_prefix(1);
    while (!tok.empty() && tok.back() == ' ') tok.remove_suffix(1);
    if (!tok.empty()) {
      HcaEntry e;
      size_t colon = tok.find(':');
      e.name = std::string(tok.substr(0, colon));
      if (colon != std::string_view::npos) {
        std::string port(tok.substr(colon + 1));
        char* end = nullptr;
        long p = std::strtol(port.c_str(), &end, 10);
        if (port.empty() || end == nullptr || *end != '\0' || p < 1 || p > 255)
          throwError(ErrorCode::kInvalidArgument,
                     "PLEXUS_IB_HCA='%.*s': '%s' is not a port number (1-255) in entry '%.*s'",
                     static_cast<int>(spec.size()), spec.data(), port.c_str(),
                     static_cast<int>(tok.size()), tok.data());
        e.port = static_cast<int>(p);
      }
      if (e.name.empty())
        throwError(ErrorCode::kInvalidArgument, "PLEXUS_IB_HCA='%.*s': entry '%.*s' has no device",
                   static_cast<int>(spec.size()), spec.data(), static_cast<int>(tok.size()),
                   tok.data());
      f.entries.push_back(std::move(e));
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return f;
}

bool HcaFilter::selects(std::string_view device, int port) const {
  if (entries.empty()) return true;
  bool matched = false;
  for (const HcaEntry& e : entries) {
    bool nameMatches = exact ? device == e.name : device.substr(0, e.name.size()) == e.name;
    if (nameMatches && (e.port == 0 || e.port == port)) {
      matched = true;
      break;
    }
  }
  return exclude ? !matched : matched;
}

}  // namespace plexus::transport::ib
