# Bounds for the device script (scripts/gpu-check.sh): reads cuda_copy_bw's output, then
# all_reduce_perf tables, and prints each table's busbw at its largest float size beside the bound
# that the measured copy bandwidths imply for the path that may have carried it:
#
# - staged path (network transports such as tcp, with device buffers): each rank copies its input
#   device -> host and the result host -> device, 1 byte each way over PCIe per all-reduced byte
#   (2 HBM bytes per rank, 2n for the n ranks sharing the one GPU); the reduction itself runs in
#   host memory. The n ranks share one PCIe link, so with both directions overlapped
#   busbw <= 2(n-1)/n * min(H2D, D2H) / n. PCIe (and host memory), not HBM, bounds it.
# - device ring on one GPU (peers mapped through CUDA IPC): per all-reduced byte each rank reads
#   2 and writes 1 byte in each of the n-1 reduce steps and reads 1 and writes 1 in each of the
#   n-1 copy steps, of 1/n of the data: 5(n-1)/n HBM bytes per rank, 5(n-1) for the job, so
#   busbw <= 2(n-1)/n * D2D / (5(n-1)) = 2 D2D / (5n), D2D being the copy rate counting bytes read
#   plus written. An estimate: the executor's plan may move more.
#
# Usage: awk -f gpu-check-bounds.awk COPY_BW_OUTPUT TABLE...
FNR == 1 { file = FILENAME; n = split(file, parts, "/"); tag = parts[n]; sub(/^table_/, "", tag) }
/^copy_bw / {
  for (i = 2; i <= NF; i++) { split($i, kv, "="); bw[kv[1]] = kv[2] + 0 }
  next
}
/^#  Rank/ { ranks[tag]++ }
/^ *[0-9]/ && NF == 13 && $3 == "float" {
  bytes = $1 + 0
  if (bytes >= best[tag]) { best[tag] = bytes; busbw[tag] = $8 + 0; busbwIn[tag] = $12 + 0 }
  if (bytes == 8) { lat[tag] = $6; latIn[tag] = $10 }
  order[tag] = 1
}
END {
  d2d = bw["d2d_memcpy"]; if (bw["d2d_kernel"] > d2d) d2d = bw["d2d_kernel"]
  pcie = bw["h2d_pinned"]; if (bw["d2h_pinned"] < pcie) pcie = bw["d2h_pinned"]
  printf "# --- bounds from the copy bandwidths ---\n"
  printf "# HBM: device-to-device copy %.1f GB/s (memcpy %.1f, kernel %.1f; bytes read + written)\n", d2d, bw["d2d_memcpy"], bw["d2d_kernel"]
  printf "# PCIe: pinned host-to-device %.1f GB/s, device-to-host %.1f GB/s\n", bw["h2d_pinned"], bw["d2h_pinned"]
  printf "# staged path: 1 B D2H + 1 B H2D per rank per all-reduced byte (2n HBM bytes for n ranks on\n"
  printf "#   one GPU): PCIe-bound, busbw <= 2(n-1)/n * min(H2D,D2H) / n\n"
  printf "# device ring on one GPU: 5(n-1) HBM bytes per all-reduced byte: busbw <= 2*D2D/(5n)\n"
  for (t in order) {
    nr = ranks[t]; if (nr < 2) continue
    if (t in lat) printf "# %s (%d ranks): 8 B all-reduce %s us out of place, %s us in place\n", t, nr, lat[t], latIn[t]
    if (best[t] < 1048576) continue
    staged = 2 * (nr - 1) / nr * pcie / nr
    ring = 2 * d2d / (5 * nr)
    printf "# %s (%d ranks): busbw at %d B (float) %.2f GB/s out of place, %.2f in place;", t, nr, best[t], busbw[t], busbwIn[t]
    fs = (staged > 0) ? 100 * busbw[t] / staged : 0
    fr = (ring > 0) ? 100 * busbw[t] / ring : 0
    printf " staged bound %.2f GB/s (%.0f%%), device-ring bound %.1f GB/s (%.0f%%)\n", staged, fs, ring, fr
  }
}
