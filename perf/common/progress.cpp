// Progress of a sweep on stderr (progress.hpp).
#include "common/progress.hpp"

#include <unistd.h>

#include <cstdlib>
#include <utility>

namespace plexus::perf {
namespace {

constexpr double kSizeOverheadBytes = 64 * 1024;
constexpr double kShowAfterSeconds = 1.0;
constexpr double kLongRunSeconds = 3.0;
constexpr double kRepaintSeconds = 0.25;

std::string seconds(double s) {
  char buf[32];
  if (s < 100)
    std::snprintf(buf, sizeof(buf), "%.1f s", s);
  else
    std::snprintf(buf, sizeof(buf), "%d min %02d s", static_cast<int>(s) / 60,
                  static_cast<int>(s) % 60);
  return buf;
}

}  // namespace

std::optional<ProgressMode> progressModeFromEnv(std::string& error) {
  const char* v = std::getenv("PLEXUS_PERF_PROGRESS");
  if (v == nullptr || *v == '\0') return ProgressMode::kAuto;
  const std::string s = v;
  if (s == "0") return ProgressMode::kOff;
  if (s == "1") return ProgressMode::kOn;
  error = "PLEXUS_PERF_PROGRESS='" + s +
          "' is not 0 or 1: set 1 to show progress on stderr, 0 to hide it, or unset it (shown "
          "when stderr is a terminal and the run takes more than a few seconds)";
  return std::nullopt;
}

Progress::Progress(std::FILE* err, std::string prog, ProgressMode mode,
                   const std::vector<size_t>& sizes, uint64_t rounds,
                   std::function<Clock::time_point()> now)
    : err_(err),
      prog_(std::move(prog)),
      mode_(mode),
      total_(rounds * sizes.size()),
      now_(std::move(now)),
      start_(now_()),
      mark_(start_) {
  if (mode_ == ProgressMode::kAuto && (err_ == nullptr || !isatty(fileno(err_))))
    mode_ = ProgressMode::kOff;
  for (size_t b : sizes) {
    weights_.push_back(static_cast<double>(b) + kSizeOverheadBytes);
    roundWeight_ += weights_.back();
  }
}

Progress::~Progress() {
  finish();
}

std::string Progress::line() const {
  if (done_ == 0) return "";
  const double elapsed = std::chrono::duration<double>(now_() - start_).count();
  std::string s = "[" + prog_ + "] sizes " + std::to_string(done_);
  if (total_ > 0) s += "/" + std::to_string(total_);
  s += ", " + seconds(elapsed) + " elapsed";
  if (total_ > 0 && doneWeight_ > 0) {
    const double rounds = static_cast<double>(total_) / static_cast<double>(weights_.size());
    const double left = measured_ * (rounds * roundWeight_ - doneWeight_) / doneWeight_;
    s += ", about " + seconds(left > 0 ? left : 0) + " left";
  }
  return s;
}

void Progress::roundStart() {
  mark_ = now_();
}

void Progress::sizeDone() {
  if (mode_ == ProgressMode::kOff || weights_.empty()) return;
  doneWeight_ += weights_[done_ % weights_.size()];
  ++done_;
  const Clock::time_point t = now_();
  measured_ += std::chrono::duration<double>(t - mark_).count();
  mark_ = t;
  const double elapsed = std::chrono::duration<double>(t - start_).count();
  if (mode_ == ProgressMode::kAuto) {
    if (elapsed < kShowAfterSeconds) return;
    if (std::chrono::duration<double>(t - lastPrint_).count() < kRepaintSeconds) return;
    const double rounds = total_ > 0 ? static_cast<double>(total_) / weights_.size() : 0;
    const double estimate =
        total_ > 0 ? elapsed - measured_ + measured_ * rounds * roundWeight_ / doneWeight_
                   : elapsed;
    if (written_ == 0 && total_ > 0 && estimate < kLongRunSeconds) return;
    if (written_ == 0 && total_ == 0 && elapsed < kLongRunSeconds) return;
  }
  lastPrint_ = t;
  const std::string text = line();
  const size_t pad = written_ > text.size() ? written_ - text.size() : 0;
  std::fprintf(err_, "\r%s%*s", text.c_str(), static_cast<int>(pad), "");
  std::fflush(err_);
  written_ = text.size() + pad;
}

void Progress::finish() {
  if (written_ == 0) return;
  std::fprintf(err_, "\r%*s\r", static_cast<int>(written_), "");
  std::fflush(err_);
  written_ = 0;
}

}  // namespace plexus::perf
