// Double binary tree all-reduce (builders.hpp: buildTree, binaryTree).
//
// The trees. Number the positions 1..n in order; position p with lowest set bit 2^h (h > 0) has
// the left child p - 2^(h-1) and the right child p + 2^j for the largest j < h with p + 2^j <= n;
// odd positions are leaves; the root is the largest power of two <= n. This is the in-order
// binary tree cut to n nodes, depth ceil(log2(n+1)). Tree 0 puts rank r at position r + 1, tree 1
// at position ((r + 1) mod n) + 1. A rank is inner in tree 0 iff its position there is even (r
// odd) and inner in tree 1 iff r is even and r < n - 1, so no rank is inner in both: the two
// trees' forwarding work falls on different ranks, and each rank's links carry about the same
// load, which is what makes the pair as fast as a ring for large messages with log depth.
//
// The plan. Channels come in pairs; channel c runs tree c % 2 over channelPart(count, c, nch).
// Each channel first reduces all of its chunks up the tree (leaves send their input; an inner node
// reduces its children's messages into its own data and forwards the sum; the root's last
// reduction is the final, finalized value), then broadcasts all chunks down. Up then down over
// all chunks pipelines both passes through the tree; interleaving them per chunk would not (one
// channel runs in order, so a leaf could not send chunk k+1 before chunk k came back down).
// Messages are at most fifoElems: there is no cycle.
#include <algorithm>
#include <bit>

#include "algorithms/build_common.hpp"
#include "base/error.hpp"

namespace plexus::algo {
namespace {

using namespace detail;

// Children of position p (1-based) in the in-order tree over 1..n.
void positionChildren(int p, int n, int& left, int& right) {
  left = right = 0;
  const int h = std::countr_zero(static_cast<unsigned>(p));
  if (h == 0) return;
  left = p - (1 << (h - 1));
  for (int j = h - 1; j >= 0; --j) {
    if (p + (1 << j) <= n) {
      right = p + (1 << j);
      return;
    }
  }
}

}  // namespace

std::vector<TreeNode> binaryTree(int n, int which) {
  if (n < 1) throwError(ErrorCode::kInvalidArgument, "binaryTree: %d ranks", n);
  std::vector<TreeNode> nodes(static_cast<size_t>(n));
  auto rankAt = [&](int pos) { return which == 0 ? pos - 1 : (pos == 1 ? n - 1 : pos - 2); };
  for (int pos = 1; pos <= n; ++pos) {
    int left = 0, right = 0;
    positionChildren(pos, n, left, right);
    const int r = rankAt(pos);
    for (int c : {left, right}) {
      if (c == 0) continue;
      const int cr = rankAt(c);
      nodes[static_cast<size_t>(r)].children.push_back(cr);
      nodes[static_cast<size_t>(cr)].parent = r;
    }
  }
  return nodes;
}

Plan buildTree(const BuildRequest& r) {
  validateRequest(r, "tree", {Collective::kAllReduce});
  int nch = channelsOf(r);
  nch += nch % 2;  // trees come in pairs
  Plan plan = planHeader(r, "tree", nch);
  const uint64_t msg = treeMessage(r);
  const std::vector<TreeNode> trees[2] = {binaryTree(r.nranks, 0), binaryTree(r.nranks, 1)};
  for (int c = 0; c < nch; ++c) {
    Writer w(plan.channels[static_cast<size_t>(c)]);
    const auto [a, b] = channelPart(r.count, c, nch);
    const TreeNode& node = trees[c % 2][static_cast<size_t>(r.rank)];
    const int parent = node.parent;
    const std::vector<int>& kids = node.children;
    const auto parts = pieces(b - a, msg);
    if (r.nranks == 1) {
      if (b > a) w.copy(in(a, b - a), out(a, b - a), true);
      continue;
    }
    // Up: reduce towards the root.
    for (const auto& [pb, pe] : parts) {
      const uint64_t x = a + pb, k = pe - pb;
      if (kids.empty()) {
        w.send(parent, in(x, k));
      } else if (parent < 0) {
        w.recvReduce(kids[0], in(x, k), out(x, k), kids.size() == 1);
        if (kids.size() == 2) w.recvReduce(kids[1], out(x, k), out(x, k), true);
      } else if (kids.size() == 1) {
        w.recvReduceSend(kids[0], parent, in(x, k));
      } else {
        w.recvReduce(kids[0], in(x, k), out(x, k), false);
        w.recvReduceSend(kids[1], parent, out(x, k));
      }
    }
    // Down: broadcast the result from the root.
    for (const auto& [pb, pe] : parts) {
      const uint64_t x = a + pb, k = pe - pb;
      if (parent < 0) {
        for (int kid : kids) w.send(kid, out(x, k));
      } else if (kids.empty()) {
        w.recv(parent, out(x, k));
      } else {
        w.recvCopySend(parent, kids[0], out(x, k));
        if (kids.size() == 2) w.send(kids[1], out(x, k));
      }
    }
  }
  return plan;
}

}  // namespace plexus::algo
