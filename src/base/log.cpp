// Log sink: level/subsystem filter and output file, configured from the environment once.
#include "base/log.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "base/env.hpp"

namespace plexus {
namespace {

struct SubsysName {
  const char* name;
  uint32_t bit;
};
constexpr SubsysName kSubsysNames[] = {
    {"INIT", subsys::kInit}, {"COLL", subsys::kColl}, {"P2P", subsys::kP2P},
    {"SHM", subsys::kShm},   {"NET", subsys::kNet},   {"GRAPH", subsys::kGraph},
    {"TUNE", subsys::kTune}, {"ENV", subsys::kEnv},   {"BOOTSTRAP", subsys::kBootstrap},
    {"ALL", subsys::kAll},
};

// PLEXUS_DEBUG: VERSION, WARN (default), INFO, TRACE, NONE or 0; anything else means WARN.
int levelFromEnv() {
  std::string name;
  try {
    name = envString("DEBUG", "WARN");
  } catch (...) {
  }
  if (name == "VERSION") return static_cast<int>(LogLevel::kVersion);
  if (name == "INFO") return static_cast<int>(LogLevel::kInfo);
  if (name == "TRACE") return static_cast<int>(LogLevel::kTrace);
  if (name == "NONE" || name == "0") return static_cast<int>(LogLevel::kNone);
  return static_cast<int>(LogLevel::kWarn);
}

// PLEXUS_DEBUG_SUBSYS: subsystem names separated by commas; a leading ^ selects all but those.
uint32_t subsysMaskFromEnv() {
  std::string spec = envString("DEBUG_SUBSYS", "ALL");
  bool invert = !spec.empty() && spec[0] == '^';
  if (invert) spec.erase(0, 1);
  uint32_t sel = 0;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string tok =
        spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    for (const auto& s : kSubsysNames)
      if (tok == s.name) sel |= s.bit;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return invert ? ~sel : sel;
}

// PLEXUS_DEBUG_FILE with %h replaced by the host name and %p by the process id.
std::string expandFileName(const std::string& path, const char* host) {
  std::string expanded;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 1 < path.size() && path[i + 1] == 'h') {
      expanded += host;
      ++i;
    } else if (path[i] == '%' && i + 1 < path.size() && path[i + 1] == 'p') {
      expanded += std::to_string(getpid());
      ++i;
    } else {
      expanded += path[i];
    }
  }
  return expanded;
}

// Process-wide log configuration (the documented logging registry).
struct LogSink {
  std::mutex mutex;
  std::atomic<int> level{-1};  // -1: not configured yet
  std::atomic<uint32_t> mask{subsys::kAll};
  FILE* file = stderr;
  bool ownsFile = false;
  char host[64] = {};

  void configure() {
    std::lock_guard<std::mutex> lock(mutex);
    if (level.load(std::memory_order_acquire) >= 0) return;
    gethostname(host, sizeof(host) - 1);
    if (char* dot = std::strchr(host, '.')) *dot = '\0';
    int lv = levelFromEnv();
    uint32_t m = subsysMaskFromEnv();
    if (ownsFile && file != nullptr) std::fclose(file);
    file = stderr;
    ownsFile = false;
    std::string path = envString("DEBUG_FILE", "");
    if (!path.empty()) {
      if (FILE* f = std::fopen(expandFileName(path, host).c_str(), "a")) {
        file = f;
        ownsFile = true;
      }
    }
    mask.store(m, std::memory_order_relaxed);
    level.store(lv, std::memory_order_release);
  }

  ~LogSink() {
    if (ownsFile && file != nullptr) std::fclose(file);
  }
};

LogSink& sink() {
  static LogSink s;
  return s;
}

thread_local const std::string* tlsContext = nullptr;

}  // namespace

bool logEnabled(LogLevel level, uint32_t subsystems) {
  LogSink& s = sink();
  int lv = s.level.load(std::memory_order_acquire);
  if (lv < 0) {
    s.configure();
    lv = s.level.load(std::memory_order_acquire);
  }
  if (static_cast<int>(level) > lv) return false;
  return level == LogLevel::kWarn || (s.mask.load(std::memory_order_relaxed) & subsystems) != 0;
}

void logMessage(LogLevel level, uint32_t subsystems, const char* fmt, ...) {
  LogSink& s = sink();
  char body[2048];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(body, sizeof(body), fmt, ap);
  va_end(ap);
  const char* lvName = level == LogLevel::kWarn    ? "WARN"
                       : level == LogLevel::kInfo  ? "INFO"
                       : level == LogLevel::kTrace ? "TRACE"
                                                   : "VERSION";
  long tid = syscall(SYS_gettid);
  std::lock_guard<std::mutex> lock(s.mutex);
  std::fprintf(s.file, "%s:%d:%ld [%s] PLEXUS %s %s\n", s.host, static_cast<int>(getpid()), tid,
               tlsContext == nullptr || tlsContext->empty() ? "-" : tlsContext->c_str(), lvName,
               body);
  std::fflush(s.file);
}

void logReset() {
  LogSink& s = sink();
  s.level.store(-1, std::memory_order_release);
  s.configure();
}

LogContext::LogContext(const std::string& context) : previous_(tlsContext) {
  tlsContext = &context;
}
LogContext::~LogContext() {
  tlsContext = previous_;
}

}  // namespace plexus
