// DropLog (drop_log.hpp).
#include "base/drop_log.hpp"

#include <utility>

#include "base/log.hpp"

namespace plexus {

DropLog::DropLog(std::string where, uint32_t subsystems, std::chrono::seconds interval)
    : where_(std::move(where)), subsystems_(subsystems), interval_(interval) {}

DropLog::~DropLog() {
  if (unreported_ > 0) summarise();
}

void DropLog::dropped(const std::string& from, const std::string& why) {
  ++total_;
  const auto now = std::chrono::steady_clock::now();
  if (total_ == 1) {
    PLEXUS_WARN(subsystems_,
                "%s: dropped a connection from %s that %s (later drops are counted, one line "
                "per %llds)",
                where_.c_str(), from.c_str(), why.c_str(),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::seconds>(interval_).count()));
    lastLine_ = now;
    return;
  }
  ++unreported_;
  last_ = "from " + from + " that " + why;
  if (now - lastLine_ >= interval_) {
    summarise();
    lastLine_ = now;
  }
}

void DropLog::summarise() {
  PLEXUS_WARN(subsystems_, "%s: dropped %llu more connection%s (%llu in all; the last %s)",
              where_.c_str(), static_cast<unsigned long long>(unreported_),
              unreported_ == 1 ? "" : "s", static_cast<unsigned long long>(total_), last_.c_str());
  unreported_ = 0;
}

}  // namespace plexus
