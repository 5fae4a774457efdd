// Logging in the style NCCL users know: "host:pid:tid [rank] PLEXUS INFO message", filtered by
// PLEXUS_DEBUG (level) and PLEXUS_DEBUG_SUBSYS (subsystems), written to PLEXUS_DEBUG_FILE or
// stderr. The log sink is a documented process-wide registry (configuration read once).
#pragma once

#include <cstdint>
#include <string>

namespace plexus {

enum class LogLevel : int { kNone = 0, kVersion = 1, kWarn = 2, kInfo = 3, kTrace = 4 };

namespace subsys {
constexpr uint32_t kInit = 1u << 0;
constexpr uint32_t kColl = 1u << 1;
constexpr uint32_t kP2P = 1u << 2;
constexpr uint32_t kShm = 1u << 3;
constexpr uint32_t kNet = 1u << 4;
constexpr uint32_t kGraph = 1u << 5;
constexpr uint32_t kTune = 1u << 6;
constexpr uint32_t kEnv = 1u << 7;
constexpr uint32_t kBootstrap = 1u << 8;
constexpr uint32_t kAll = ~0u;
}  // namespace subsys

bool logEnabled(LogLevel level, uint32_t subsystems);
void logMessage(LogLevel level, uint32_t subsystems, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
// Re-reads PLEXUS_DEBUG* (ncclResetDebugInit).
void logReset();

// Thread-local context printed in brackets on each line (usually "rank R"); RAII.
class LogContext {
 public:
  // Refers to `context` (no copy: this runs on every API call); it must outlive this object.
  explicit LogContext(const std::string& context);
  explicit LogContext(std::string&&) = delete;  // a temporary would dangle
  ~LogContext();
  LogContext(const LogContext&) = delete;
  LogContext& operator=(const LogContext&) = delete;

 private:
  const std::string* previous_;
};

}  // namespace plexus

#define PLEXUS_LOG(level, sub, ...)                                                      \
  do {                                                                                   \
    if (::plexus::logEnabled(level, sub)) ::plexus::logMessage(level, sub, __VA_ARGS__); \
  } while (0)
#define PLEXUS_WARN(sub, ...) PLEXUS_LOG(::plexus::LogLevel::kWarn, sub, __VA_ARGS__)
#define PLEXUS_INFO(sub, ...) PLEXUS_LOG(::plexus::LogLevel::kInfo, sub, __VA_ARGS__)
#define PLEXUS_TRACE(sub, ...) PLEXUS_LOG(::plexus::LogLevel::kTrace, sub, __VA_ARGS__)
