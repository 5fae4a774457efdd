// End-to-end tests of plexus-topo: the tool runs as a child process; the tests check its output
// (matrix cells, legends, tree lines, paths, exports, JSON) and its errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs plexus-topo with `args`, stdout and stderr to temporary files; at most 120 s.
Result run(const std::vector<std::string>& args, const std::vector<std::string>& extraEnv = {}) {
  char tmpl[] = "/tmp/plexus-topo-cli-XXXXXX";
  EXPECT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, outPath = dir + "/out", errPath = dir + "/err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, outPath.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, errPath.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> argvStore = {PLEXUS_TOPO_BIN};
  argvStore.insert(argvStore.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argvStore) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> envStore;
  for (char** e = environ; *e; ++e) {
    const std::string s = *e;
    if (s.rfind("PLEXUS_TOPO_FILE=", 0) == 0 || s.rfind("NCCL_TOPO_FILE=", 0) == 0) continue;
    envStore.push_back(s);
  }
  envStore.insert(envStore.end(), extraEnv.begin(), extraEnv.end());
  std::vector<char*> envp;
  for (auto& e : envStore) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  Result r;
  if (posix_spawn(&pid, PLEXUS_TOPO_BIN, &fa, nullptr, argv.data(), envp.data()) != 0) {
    ADD_FAILURE() << "cannot start " << PLEXUS_TOPO_BIN;
    return r;
  }
  posix_spawn_file_actions_destroy(&fa);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int status = 0;
  for (;;) {
    const pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "plexus-topo did not finish in 120 s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(outPath);
  r.err = slurp(errPath);
  fs::remove_all(dir);
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> v;
  std::istringstream in(line);
  for (std::string w; in >> w;) v.push_back(w);
  return v;
}

// The row of the matrix that starts with `label`, split into words.
std::vector<std::string> row(const std::string& out, const std::string& label) {
  for (const std::string& l : lines(out))
    if (l.rfind(label + " ", 0) == 0) return words(l);
  return {};
}

std::string data(const char* name) {
  return std::string(PLEXUS_TEST_DATA_DIR) + "/" + name;
}

TEST(PlexusTopo, MatrixDgxH100) {
  const Result r = run({"matrix", "--system", "dgx-h100"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto header = words(lines(r.out).at(0));
  ASSERT_GE(header.size(), 16u);
  EXPECT_EQ(header[0], "GPU0");
  EXPECT_EQ(header[15], "NIC7");
  for (int g = 0; g < 8; ++g) {
    const auto cells = row(r.out, "GPU" + std::to_string(g));
    ASSERT_EQ(cells.size(), 1u + 16u + 2u) << "GPU" << g;
    for (int k = 0; k < 8; ++k)
      EXPECT_EQ(cells[1 + static_cast<size_t>(k)], k == g ? "X" : "NV18") << g << "," << k;
    for (int n = 0; n < 8; ++n) {
      const std::string want = n == g ? "PIX" : (n / 4 == g / 4 ? "PHB" : "SYS");
      EXPECT_EQ(cells[9 + static_cast<size_t>(n)], want) << "GPU" << g << " NIC" << n;
    }
    EXPECT_EQ(cells[18], g < 4 ? "0" : "1");  // NUMA affinity
    EXPECT_EQ(cells[17], g < 4 ? "0-55,112-167" : "56-111,168-223");
  }
  EXPECT_NE(r.out.find("  NV#  = "), std::string::npos);
  EXPECT_NE(r.out.find("  PIX  = "), std::string::npos);
  EXPECT_NE(r.out.find("NIC Legend:"), std::string::npos);
  EXPECT_NE(r.out.find("  NIC7: mlx5_7, 400 Gb/s"), std::string::npos);
}

TEST(PlexusTopo, MatrixAzureFileFollowsPciTree) {
  const Result r = run({"matrix", "--file", data("azure-ndv4-topo.xml")});
  ASSERT_EQ(r.status, 0) << r.err;
  int gpuRows = 0, nicRows = 0;
  for (const std::string& l : lines(r.out)) {
    if (l.rfind("GPU", 0) == 0) ++gpuRows;
    if (l.rfind("NIC", 0) == 0 && l.find(':') == std::string::npos) ++nicRows;
  }
  EXPECT_EQ(gpuRows, 8);
  EXPECT_EQ(nicRows, 8);
  // GPU0/GPU1 and NIC0/NIC1 share the bridge of NUMA node 1; everything else crosses NUMA nodes.
  EXPECT_EQ(
      row(r.out, "GPU0"),
      (std::vector<std::string>{"GPU0", "X", "PIX", "SYS", "SYS", "SYS", "SYS", "SYS", "SYS", "PIX",
                                "PIX", "SYS", "SYS", "SYS", "SYS", "SYS", "SYS", "24-47", "1"}));
  EXPECT_EQ(row(r.out, "NIC7"),
            (std::vector<std::string>{"NIC7", "SYS", "SYS", "SYS", "SYS", "SYS", "SYS", "PIX",
                                      "PIX", "SYS", "SYS", "SYS", "SYS", "SYS", "SYS", "PIX", "X",
                                      "48-71", "2"}));
  EXPECT_NE(r.out.find("no NVLink information"), std::string::npos);
}

TEST(PlexusTopo, MatrixNvl576) {
  const Result r = run({"matrix", "--system", "nvl576"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto first = row(r.out, "node000/GPU0");
  ASSERT_EQ(first.size(), 1u + 1152u + 2u);
  size_t nv18 = 0, net = 0;
  for (const std::string& c : first) {
    nv18 += c == "NV18";
    net += c == "NET";
  }
  EXPECT_EQ(nv18, 575u);  // every other GPU of the domain
  EXPECT_EQ(net, 572u);   // NICs of the other 143 hosts
  EXPECT_NE(r.out.find("N575: node143/NIC3 mlx5_3, 400 Gb/s"), std::string::npos);
}

TEST(PlexusTopo, ShowThisMachine) {
  const Result r = run({"show"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Package "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NUMA 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" cores"), std::string::npos) << r.out;
  for (const auto& e : fs::directory_iterator("/sys/class/net")) {
    const std::string name = e.path().filename();
    if (name == "lo" || !fs::exists(e.path() / "device")) continue;
    const auto pos = r.out.find(name);
    ASSERT_NE(pos, std::string::npos) << "interface " << name << " not shown:\n" << r.out;
    const std::string line = r.out.substr(pos, r.out.find('\n', pos) - pos);
    std::ifstream sp(e.path() / "speed");
    long speed = -1;
    sp >> speed;
    if (speed > 0) {
      char want[32];
      std::snprintf(want, sizeof want, "%g Gb/s", speed / 1000.0);
      EXPECT_NE(line.find(want), std::string::npos) << line;
    } else {
      EXPECT_NE(line.find("speed unknown"), std::string::npos) << line;
    }
  }
  const Result brief = run({"show", "--brief"});
  EXPECT_EQ(brief.status, 0);
  EXPECT_NE(brief.out.find("NICs:"), std::string::npos);
}

TEST(PlexusTopo, ShowSyntheticHosts) {
  const Result r = run({"show", "--system", "gb200-nvl72", "--all"});
  ASSERT_EQ(r.status, 0) << r.err;
  int hosts = 0;
  for (const std::string& l : lines(r.out)) hosts += l.rfind("Host node", 0) == 0;
  EXPECT_EQ(hosts, 18);
  EXPECT_NE(r.out.find("NVSwitch tier 1 group 0: 18 chips"), std::string::npos);
  EXPECT_NE(r.out.find("[C2C, 361 GB/s]"), std::string::npos);
  const Result one = run({"show", "--system", "dgx-h100"});
  EXPECT_NE(one.out.find("GPU0: NVLink4 x18 (370.8 GB/s) to NVS0 x5, NVS1 x4, NVS2 x4, NVS3 x5"),
            std::string::npos)
      << one.out;
  EXPECT_NE(one.out.find("[PCIe Gen5 x16, 48 GB/s]"), std::string::npos);
}

TEST(PlexusTopo, Paths) {
  const Result r = run({"paths", "GPU0", "NIC4", "--system", "dgx-h100"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(lines(r.out).at(0),
            "GPU0 -> NIC4: SYS, bottleneck 22 GB/s, latency 1.50 us, 5 link(s)");
  const Result j = run({"paths", "GPU0", "GPU7", "--system", "dgx-h100", "--json"});
  ASSERT_EQ(j.status, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["class"], "NVL");
  EXPECT_EQ(doc["nvlinks"], 18);
  EXPECT_EQ(doc["hops"].size(), 3u);
  EXPECT_EQ(doc["hops"][1]["members"], 4);
  const Result bus =
      run({"paths", "0001:00:00.0", "0101:00:00.0", "--file", data("azure-ndv4-topo.xml")});
  EXPECT_EQ(bus.status, 0) << bus.err;
  EXPECT_NE(bus.out.find("GPU0 -> NIC0: PIX"), std::string::npos) << bus.out;
  const Result bad = run({"paths", "GPU0", "GPU99", "--system", "dgx-h100"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("no node 'GPU99' in dgx-h100"), std::string::npos) << bad.err;
}

TEST(PlexusTopo, ExportRoundTrip) {
  char tmpl[] = "/tmp/plexus-topo-export-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string xml = std::string(tmpl) + "/h100.xml";
  const Result e = run({"export", "--system", "dgx-h100", "--format", "xml", "-o", xml});
  ASSERT_EQ(e.status, 0) << e.err;
  const Result m = run({"matrix", "--file", xml});
  ASSERT_EQ(m.status, 0) << m.err;
  EXPECT_EQ(row(m.out, "GPU3")[5], "NV18");
  const Result e2 = run({"export", "--file", xml});
  EXPECT_EQ(e2.out, slurp(xml));  // stable round trip
  const Result dot = run({"export", "--system", "dgx-a100", "--format", "dot"});
  EXPECT_EQ(dot.out.rfind("graph \"dgx-a100\" {", 0), 0u);
  const Result json = run({"export", "--system", "dgx-a100", "--json"});
  EXPECT_EQ(nlohmann::json::parse(json.out)["format"], "plexus-topology");
  const Result multi = run({"export", "--system", "dgx-h100:x2", "--format", "xml"});
  EXPECT_EQ(multi.status, 0);
  EXPECT_NE(multi.err.find("writing host 0"), std::string::npos);
  fs::remove_all(tmpl);
}

TEST(PlexusTopo, JsonEverywhere) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"show", "--json", "--system", "dgx-h100"},
        std::vector<std::string>{"matrix", "--json", "--system", "dgx-h100"},
        std::vector<std::string>{"paths", "GPU0", "NIC0", "--json", "--system", "dgx-h100"},
        std::vector<std::string>{"export", "--json", "--system", "dgx-h100"},
        std::vector<std::string>{"systems", "--json"},
        std::vector<std::string>{"--json", "show"}}) {
    const Result r = run(args);
    ASSERT_EQ(r.status, 0) << args[0] << ": " << r.err;
    EXPECT_NO_THROW(nlohmann::json::parse(r.out)) << args[0];
  }
  const auto m = nlohmann::json::parse(run({"matrix", "--json", "--system", "dgx-h100"}).out);
  EXPECT_EQ(m["cells"][0][1], "NV18");
  EXPECT_EQ(m["cells"][0][8], "PIX");
  EXPECT_EQ(m["bw_gbps"][0][8], 48.0);
  EXPECT_EQ(m["endpoints"].size(), 16u);
}

TEST(PlexusTopo, TopoFileEnvironment) {
  const Result r = run({"matrix"}, {"PLEXUS_TOPO_FILE=" + data("aws-p4d-24xl-topo.xml")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(row(r.out, "GPU0").at(2), "PIX");
  EXPECT_EQ(row(r.out, "GPU0").at(5), "SYS");
}

TEST(PlexusTopo, Errors) {
  const Result missing = run({"show", "--file", "/nonexistent/x.xml"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("/nonexistent/x.xml"), std::string::npos) << missing.err;
  const Result unknown = run({"matrix", "--system", "dgx-h900"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("unknown system 'dgx-h900'"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("Syntax"), std::string::npos);
  const Result both =
      run({"show", "--system", "dgx-h100", "--file", data("aws-p4d-24xl-topo.xml")});
  EXPECT_NE(both.status, 0);
  const Result none = run({});
  EXPECT_NE(none.status, 0);
  char tmpl[] = "/tmp/plexus-topo-bad-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string bad = std::string(tmpl) + "/bad.xml";
  std::ofstream(bad) << "<system>\n  <cpu numaid=\"0\">\n    <pci busid=\"nope\"/>\n  </cpu>\n"
                        "</system>\n";
  const Result malformed = run({"matrix", "--file", bad});
  EXPECT_EQ(malformed.status, 1);
  EXPECT_NE(malformed.err.find(bad + ":3: <pci>: busid='nope' is not a PCI address"),
            std::string::npos)
      << malformed.err;
  fs::remove_all(tmpl);
}

TEST(PlexusTopo, SystemsList) {
  const Result r = run({"systems"});
  ASSERT_EQ(r.status, 0);
  for (const char* n : {"cpu", "dgx-a100", "dgx-h100", "gb200-nvl72", "nvl576"})
    EXPECT_NE(r.out.find(std::string("  ") + n + " "), std::string::npos) << n;
  EXPECT_NE(r.out.find("NVLink 4 (per link)"), std::string::npos);
}

}  // namespace
