// Fuzz target for the perf tools' command line (perf/common/options.cpp): the input is the
// arguments, separated by NUL bytes.
#include <string>
#include <vector>

#include "common/options.hpp"
#include "fuzz_targets.hpp"

namespace plexus::fuzz {

int perfOptions(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"all_reduce_perf"};
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(data[i]);
    }
  }
  if (!cur.empty()) args.push_back(cur);
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  const perf::ParsedOptions p = perf::parseOptions(static_cast<int>(argv.size()), argv.data());
  if (!p.options) return 0;
  const perf::Options& o = *p.options;
  if (o.minBytes > o.maxBytes) broken("parseOptions accepted -b above -e");
  const std::vector<size_t> sizes = perf::sizeSequence(o);
  if (sizes.empty()) broken("a sweep with no size");
  for (size_t i = 0; i < sizes.size(); ++i)
    if (sizes[i] > o.maxBytes || (i > 0 && sizes[i] <= sizes[i - 1]))
      broken("sizeSequence left [minBytes, maxBytes] or did not grow");
  for (const char* t : {"0", "1K", "4m", "2G", "1.5K", "x"}) (void)perf::parseSize(t);
  return 0;
}

}  // namespace plexus::fuzz
