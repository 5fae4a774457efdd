// Turns the byte stream of one rank's stdout or stderr into whole lines, each with the rank
// prefix ("[3] "). plexus-run writes only whole lines, so lines of different ranks never mix.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace plexus::run {

class LineSplitter {
 public:
  // `prefix` is put before every line ("" for --no-prefix). A line longer than `maxLine` bytes is
  // cut there and forwarded as a line of its own (plexus-run then adds the newline), so that a
  // rank printing without newlines cannot make the launcher buffer without bound.
  // `terminatePartial`: at end of stream, end an unfinished line with a newline (so that it
  // cannot run into another rank's next line); false passes the bytes on unchanged.
  explicit LineSplitter(std::string prefix, bool terminatePartial = true,
                        size_t maxLine = size_t{1} << 20);

  // Appends to `out` every line completed by `data` (prefix + text + '\n').
  void feed(std::string_view data, std::string& out);
  // End of stream: appends the unfinished line, if any (see terminatePartial).
  void finish(std::string& out);

  bool hasPartial() const { return !pending_.empty(); }

 private:
  void emit(std::string_view text, std::string& out) const;

  std::string prefix_;
  std::string pending_;
  bool terminatePartial_;
  size_t maxLine_;
};

}  // namespace plexus::run
