// Line splitting with a rank prefix.
#include "line_splitter.hpp"

#include <utility>

namespace plexus::run {

LineSplitter::LineSplitter(std::string prefix, bool terminatePartial, size_t maxLine)
    : prefix_(std::move(prefix)),
      terminatePartial_(terminatePartial),
      maxLine_(maxLine == 0 ? 1 : maxLine) {}

void LineSplitter::emit(std::string_view text, std::string& out) const {
  out += prefix_;
  out += text;
  out += '\n';
}

void LineSplitter::feed(std::string_view data, std::string& out) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view piece = data.substr(0, nl);
    if (pending_.size() + piece.size() >= maxLine_) {
      // Cut an overlong line at maxLine_ bytes.
      size_t take = maxLine_ - pending_.size();
      pending_.append(piece.substr(0, take));
      emit(pending_, out);
      pending_.clear();
      data.remove_prefix(take);
      if (nl == take) data.remove_prefix(1);  // the newline ended the line exactly at the cut
      continue;
    }
    if (nl == std::string_view::npos) {
      pending_.append(piece);
      return;
    }
    if (pending_.empty()) {
      emit(piece, out);
    } else {
      pending_.append(piece);
      emit(pending_, out);
      pending_.clear();
    }
    data.remove_prefix(nl + 1);
  }
}

void LineSplitter::finish(std::string& out) {
  if (pending_.empty()) return;
  if (terminatePartial_) {
    emit(pending_, out);
  } else {
    out += pending_;
  }
  pending_.clear();
}

}  // namespace plexus::run
