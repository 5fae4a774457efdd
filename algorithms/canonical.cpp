// The canonical reduction order of reproducible mode (canonical.hpp).
#include "algorithms/canonical.hpp"

#include <algorithm>
#include <bit>

#include "base/error.hpp"

namespace plexus::algo {

int canonicalSplit(int lo, int hi) {
  const unsigned len = static_cast<unsigned>(hi - lo);
  if (hi - lo < 2)
    throwError(ErrorCode::kInternal, "canonicalSplit: [%d, %d) has no split", lo, hi);
  return lo + static_cast<int>(std::bit_floor(len - 1));
}

bool reproducibleCollective(Collective c) {
  return c == Collective::kAllReduce || c == Collective::kReduceScatter || c == Collective::kReduce;
}

namespace {

// Builds the schedule: values on a stack by subtree level, scratch slots from a free list.
class ScheduleWriter {
 public:
  explicit ScheduleWriter(int own) : own_(own) {}

  void leaf(int j) {
    CanonicalOp op;
    op.leaf = j;
    int level = 0;
    if (!stack_.empty() && stack_.back().level == 0) {  // completes a pair: fuse the receive
      op.a = pop();
      level = 1;
    }
    op.slot = (op.a < 0 && j == own_) ? -1 : alloc();
    push(op, level);
    while (stack_.size() >= 2 && stack_[stack_.size() - 2].level == stack_.back().level) {
      const int lv = stack_.back().level;
      combine(lv + 1);
    }
  }

  // After the last leaf: the pending subtrees, combined from the right.
  CanonicalSchedule finish() {
    while (stack_.size() >= 2) combine(stack_[stack_.size() - 2].level + 1);
    CanonicalSchedule s;
    s.ops = std::move(ops_);
    for (size_t i = 0; i + 1 < s.ops.size(); ++i) s.slots = std::max(s.slots, s.ops[i].slot + 1);
    return s;
  }

 private:
  struct Pending {
    int id;
    int level;
  };

  void combine(int level) {
    CanonicalOp op;
    op.b = pop();
    op.a = pop();
    op.slot = alloc();
    push(op, level);
  }
  int pop() {
    const int id = stack_.back().id;
    stack_.pop_back();
    if (ops_[static_cast<size_t>(id)].slot >= 0)
      free_.push_back(ops_[static_cast<size_t>(id)].slot);
    return id;
  }
  int alloc() {
    if (free_.empty()) return next_++;
    std::sort(free_.begin(), free_.end());
    const int s = free_.front();
    free_.erase(free_.begin());
    return s;
  }
  void push(const CanonicalOp& op, int level) {
    ops_.push_back(op);
    stack_.push_back({static_cast<int>(ops_.size()) - 1, level});
  }

  int own_;
  int next_ = 0;
  std::vector<int> free_;
  std::vector<Pending> stack_;
  std::vector<CanonicalOp> ops_;
};

}  // namespace

CanonicalSchedule canonicalSchedule(int n, int own) {
  if (n < 1) throwError(ErrorCode::kInternal, "canonicalSchedule: %d contributions", n);
  ScheduleWriter w(own);
  for (int j = 0; j < n; ++j) w.leaf(j);
  return w.finish();
}

}  // namespace plexus::algo
