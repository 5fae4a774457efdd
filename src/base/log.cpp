// Log sink: level/subsystem filter and output file, configured from the environment once.
#include "base/log.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <strings.h>

#include <atomic>
#include <cerrno>
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
    {"INIT", subsys::kInit},      {"COLL", subsys::kColl}, {"P2P", subsys::kP2P},
    {"SHM", subsys::kShm},        {"NET", subsys::kNet},   {"GRAPH", subsys::kGraph},
    {"TUNE", subsys::kTune},      {"ENV", subsys::kEnv},   {"BOOTSTRAP", subsys::kBootstrap},
    {"BOOT", subsys::kBootstrap}, {"ALL", subsys::kAll},
};

bool sameNoCase(const std::string& a, const char* b) {
  return strcasecmp(a.c_str(), b) == 0;
}

// PLEXUS_DEBUG: VERSION, WARN (default), INFO, TRACE, NONE or 0 (any case); anything else means
// WARN, with a warning naming the value (appended to `problems`).
int levelFromEnv(std::string& problems) {
  std::string name;
  try {
    name = envString("DEBUG", "WARN");
  } catch (...) {
  }
  if (sameNoCase(name, "VERSION")) return static_cast<int>(LogLevel::kVersion);
  if (sameNoCase(name, "INFO")) return static_cast<int>(LogLevel::kInfo);
  if (sameNoCase(name, "TRACE")) return static_cast<int>(LogLevel::kTrace);
  if (sameNoCase(name, "NONE") || name == "0") return static_cast<int>(LogLevel::kNone);
  if (!sameNoCase(name, "WARN"))
    problems += "PLEXUS_DEBUG (or NCCL_DEBUG)='" + name +
                "' is not a log level: use VERSION, WARN, INFO, TRACE or NONE; logging at WARN\n";
  return static_cast<int>(LogLevel::kWarn);
}

// PLEXUS_DEBUG_SUBSYS: subsystem names separated by commas (any case; BOOT = BOOTSTRAP); a leading
// ^ selects all but those. An unknown name is reported in `problems` and selects nothing.
uint32_t subsysMaskFromEnv(std::string& problems) {
  std::string spec = envString("DEBUG_SUBSYS", "ALL");
  bool invert = !spec.empty() && spec[0] == '^';
  if (invert) spec.erase(0, 1);
  uint32_t sel = 0;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string tok =
        spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    bool known = tok.empty();
    for (const auto& s : kSubsysNames) {
      if (sameNoCase(tok, s.name)) {
        sel |= s.bit;
        known = true;
      }
    }
    if (!known)
      problems += "PLEXUS_DEBUG_SUBSYS (or NCCL_DEBUG_SUBSYS) names '" + tok +
                  "', not a subsystem: use INIT, COLL, P2P, SHM, NET, GRAPH, TUNE, ENV, BOOT "
                  "(BOOTSTRAP) or ALL, comma-separated, ^ to exclude\n";
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

  // Returns what was wrong with the variables (lines), for the caller to log once unlocked.
  std::string configure() {
    std::lock_guard<std::mutex> lock(mutex);
    std::string problems;
    if (level.load(std::memory_order_acquire) >= 0) return problems;
    gethostname(host, sizeof(host) - 1);
    if (char* dot = std::strchr(host, '.')) *dot = '\0';
    int lv = levelFromEnv(problems);
    uint32_t m = subsysMaskFromEnv(problems);
    if (ownsFile && file != nullptr) std::fclose(file);
    file = stderr;
    ownsFile = false;
    std::string path = envString("DEBUG_FILE", "");
    if (!path.empty()) {
      const std::string expanded = expandFileName(path, host);
      if (FILE* f = std::fopen(expanded.c_str(), "a")) {
        file = f;
        ownsFile = true;
      } else {
        problems += "PLEXUS_DEBUG_FILE (or NCCL_DEBUG_FILE)='" + path + "': cannot open " +
                    expanded + " (" + std::strerror(errno) +
                    "); logging to stderr: check that its folder exists and is writable\n";
      }
    }
    mask.store(m, std::memory_order_relaxed);
    level.store(lv, std::memory_order_release);
    return problems;
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

// Each line of `problems` (from LogSink::configure) as a warning: a variable the sink could not
// use is reported once per configuration instead of ignored.
void reportProblems(const std::string& problems) {
  size_t pos = 0;
  while (pos < problems.size()) {
    size_t nl = problems.find('\n', pos);
    if (nl == std::string::npos) nl = problems.size();
    if (logEnabled(LogLevel::kWarn, subsys::kEnv))
      logMessage(LogLevel::kWarn, subsys::kEnv, "%s", problems.substr(pos, nl - pos).c_str());
    pos = nl + 1;
  }
}

}  // namespace

bool logEnabled(LogLevel level, uint32_t subsystems) {
  LogSink& s = sink();
  int lv = s.level.load(std::memory_order_acquire);
  if (lv < 0) {
    reportProblems(s.configure());
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
  reportProblems(s.configure());
}

LogContext::LogContext(const std::string& context) : previous_(tlsContext) {
  tlsContext = &context;
}
LogContext::~LogContext() {
  tlsContext = previous_;
}

}  // namespace plexus
