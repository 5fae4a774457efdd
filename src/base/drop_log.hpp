// Warnings about connections a listener drops (strays, floods, foreign jobs), without one line
// per connection: the first drop is logged in full, later ones are counted and summarised at
// most once per interval ("N more dropped since, last from X that ..."), and the destructor
// reports what is left. One instance per listener, used by the thread that owns the listener.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace plexus {

class DropLog {
 public:
  // `where` starts every line ("tcp transport on 127.0.0.1:4000"); `subsystems` as for logging.
  DropLog(std::string where, uint32_t subsystems,
          std::chrono::seconds interval = std::chrono::seconds(10));
  ~DropLog();
  DropLog(const DropLog&) = delete;
  DropLog& operator=(const DropLog&) = delete;

  // A connection from `from` was dropped because it `why` ("sent no introduction in time").
  void dropped(const std::string& from, const std::string& why);
  uint64_t total() const { return total_; }

 private:
  void summarise();
  std::string where_;
  uint32_t subsystems_;
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point lastLine_{};
  uint64_t total_ = 0;
  uint64_t unreported_ = 0;
  std::string last_;  // "from X that Y" of the latest unreported drop
};

}  // namespace plexus
