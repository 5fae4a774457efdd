// How an abort travels: a rank that fails tells its peers the *first* failure (the origin), and a
// rank that fails because a peer aborted passes that origin on unchanged. So on a long ring every
// rank's error still names the rank that was lost, however many ranks relayed it.
#pragma once

#include <string>

namespace plexus::transport {

inline constexpr const char* kFirstFailureMarker = "first failure: ";

// The origin inside `message`: the text after the last marker, or the whole message.
inline std::string abortOrigin(const std::string& message) {
  size_t at = message.rfind(kFirstFailureMarker);
  if (at == std::string::npos) return message;
  return message.substr(at + std::string(kFirstFailureMarker).size());
}

// "<peer> aborted; first failure: <origin>".
inline std::string peerAborted(const std::string& peer, const std::string& origin) {
  return peer + " aborted; " + kFirstFailureMarker + abortOrigin(origin);
}

}  // namespace plexus::transport
