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
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
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
    bool replaced = false;  // extraEnv's value wins
    for (const std::string& x : extraEnv)
      replaced = replaced || s.rfind(x.substr(0, x.find('=') + 1), 0) == 0;
    if (!replaced) envStore.push_back(s);
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

// draw: link widths and the legend; --ring draws every rank and each ring as arrows; on two DGX
// H100 hosts each ring crosses between the hosts exactly twice (the communicator's rail-matched
// rings visit a host's ranks together).
TEST(PlexusTopo, DrawRingsOverTheMachine) {
  const Result r =
      run({"draw", "--system", "dgx-h100:x2", "--ring", "--channels", "2", "--format", "dot"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("cluster_legend"), std::string::npos);
  EXPECT_NE(r.out.find("penwidth="), std::string::npos);
  const std::regex node(R"re("rank (\d+)" \[shape=circle)re");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(r.out.begin(), r.out.end(), node), std::sregex_iterator()),
      16);
  const std::regex arrow(R"re("rank (\d+)" -- "rank (\d+)" \[dir=forward[^\]]*color=(\w+))re");
  std::map<std::string, int> edges, crossings;
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), arrow);
       it != std::sregex_iterator(); ++it) {
    const int a = std::stoi((*it)[1]), b = std::stoi((*it)[2]);
    ++edges[(*it)[3]];
    if (a / 8 != b / 8) ++crossings[(*it)[3]];
  }
  ASSERT_EQ(edges.size(), 2u) << r.out;  // one colour per ring
  for (const auto& [color, n] : edges) {
    EXPECT_EQ(n, 16) << color;
    EXPECT_EQ(crossings[color], 2) << color;
  }
  // Ranks on a host without GPUs sit on its CPU; 4 ranks, one ring of 4 arrows.
  const Result cpu = run({"draw", "--ring", "-n", "4", "--format", "dot"});
  ASSERT_EQ(cpu.status, 0) << cpu.err;
  EXPECT_EQ(std::distance(std::sregex_iterator(cpu.out.begin(), cpu.out.end(), arrow),
                          std::sregex_iterator()),
            4);
  // Binary formats need a file; a missing Graphviz or a bad format is named.
  const Result png = run({"draw", "--system", "dgx-h100", "--format", "png"});
  EXPECT_NE(png.status, 0);
  EXPECT_NE(png.err.find("give a file with -o"), std::string::npos) << png.err;
}

TEST(PlexusTopo, DrawRendersSvgWithGraphviz) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "Graphviz's dot is not installed (apt-get install graphviz)";
  char tmpl[] = "/tmp/plexus-topo-draw-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string svg = std::string(tmpl) + "/dgx.svg";
  const Result r = run({"draw", "--system", "dgx-h100", "-o", svg});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string text = slurp(svg);
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_NE(text.find("GPU7"), std::string::npos);
  const Result none = run({"draw", "--system", "dgx-h100", "-o", svg}, {"PATH=/nonexistent"});
  EXPECT_NE(none.status, 0);
  EXPECT_NE(none.err.find("apt-get install graphviz"), std::string::npos) << none.err;
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

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Issue 11 point 5: these died with SIGFPE (element size 0: a division by it).
TEST(PlexusTopo, TuneElementSizeZeroIsRefusedNotACrash) {
  const Result r = run({"--system", "dgx-h100", "tune", "--elem-size", "0"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(has(r.err, "--elem-size: 0 not in {1,2,4,8}")) << r.err;
  for (const char* coll : {"allreduce", "allgather", "reducescatter", "broadcast", "reduce",
                           "alltoall", "gather", "scatter", "barrier"}) {
    for (const char* es : {"1", "2", "4", "8"}) {
      const Result ok = run({"--system", "dgx-h100", "tune", "-c", coll, "--elem-size", es});
      EXPECT_EQ(ok.status, 0) << coll << " " << es << ": " << ok.err;
      EXPECT_TRUE(has(ok.out, std::string("# ") + coll + ", 8 ranks")) << ok.out;
    }
  }
}

// Issue 11 point 11: bad values of tune are refused, naming the value and the valid range.
TEST(PlexusTopo, TuneRejectsBadValues) {
  struct Case {
    std::vector<std::string> args;
    int status;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{"-n", "0"}, 2, "--ranks: Value 0 not in range 1 to 65536"},
      {{"-n", "-3"}, 2, "--ranks: Value -3 not in range 1 to 65536"},
      {{"-f", "0"}, 2, "--factor: Value 0 not in range 2 to 1024"},
      {{"-f", "1"}, 2, "--factor: Value 1 not in range 2 to 1024"},
      {{"-f", "-2"}, 2, "--factor: Value -2 not in range 2 to 1024"},
      {{"-e", "2T"}, 2, "--max-bytes: '2T' is not a size from 0 to 1T"},
      {{"-b", "lots"}, 2, "--min-bytes: 'lots' is not a size"},
      {{"-b", "1G", "-e", "8"},
       1,
       "--min-bytes 1G (1073741824 bytes) is larger than --max-bytes 8 (8 bytes)"},
      {{"-c", "allgather", "-e", "16"},
       1,
       "no size from 8 to 16 bytes holds a whole 4-byte element per rank; the smallest "
       "allgather of 8 ranks is 32 bytes"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--system", "dgx-h100", "tune"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const Result r = run(args);
    EXPECT_EQ(r.status, c.status) << c.args[0] << " " << c.args[1] << ": " << r.err;
    EXPECT_TRUE(has(r.err, c.error)) << r.err;
    EXPECT_EQ(r.out, "") << c.args[0] << " " << c.args[1];
  }
}

// A barrier moves no data: tune shows its time, not a size, algbw or busbw.
TEST(PlexusTopo, TuneBarrierShowsTimeOnly) {
  const Result r = run({"--system", "dgx-h100", "tune", "-c", "barrier"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(has(r.out, "algbw")) << r.out;
  EXPECT_FALSE(has(r.out, "size(B)")) << r.out;
  EXPECT_TRUE(has(r.out, "dissemination us")) << r.out;
  const auto ls = lines(r.out);
  ASSERT_EQ(ls.size(), 4u) << r.out;  // title, costs, header, one row
  // 3 exchange rounds, each a send, the partner's receive and one latency (the cost model of the
  // exchange-round algorithms, as the simulator executes them).
  EXPECT_EQ(words(ls[3]), (std::vector<std::string>{"dissemination", "(1,", "0)", "|", "23.90"}));
  const Result j = run({"--system", "dgx-h100", "--json", "tune", "-c", "barrier"});
  ASSERT_EQ(j.status, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  ASSERT_EQ(doc["rows"].size(), 1u);
  EXPECT_FALSE(doc["rows"][0].contains("bytes"));
  EXPECT_TRUE(doc["rows"][0]["candidates"][0].contains("time_us"));
  EXPECT_FALSE(doc["rows"][0]["candidates"][0].contains("algbw_gbps"));
}

// Issue 11 point 12: files, system names, plan file errors, --json plan, the size of plan.
TEST(PlexusTopo, FileThatIsADirectory) {
  char tmpl[] = "/tmp/plexus-topo-dir-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const Result r = run({"--file", tmpl, "show"});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(has(r.err, std::string("--file ") + tmpl +
                             ": is a directory; give an NCCL topology XML or Plexus JSON file"))
      << r.err;
  const Result c = run({"plan", "--check", tmpl});
  EXPECT_EQ(c.status, 1);
  EXPECT_TRUE(has(c.err, std::string("--check ") + tmpl + ": is a directory")) << c.err;
  fs::remove_all(tmpl);
}

TEST(PlexusTopo, EmptySystemOrFileIsAnError) {
  const Result s = run({"--system", "", "show"});
  EXPECT_EQ(s.status, 2);
  EXPECT_TRUE(has(s.err, "--system: empty value: give a synthetic system")) << s.err;
  EXPECT_EQ(s.out, "");
  const Result f = run({"show", "--file", ""});
  EXPECT_EQ(f.status, 2);
  EXPECT_TRUE(has(f.err, "--file: empty value: give an NCCL topology XML")) << f.err;
}

TEST(PlexusTopo, PlanCheckOfAMissingFileNamesNoVariable) {
  const Result r = run({"plan", "--check", "/nonexistent/plexus-plans.json"});
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(has(r.err, "plan file /nonexistent/plexus-plans.json: cannot open it: No such file"))
      << r.err;
  EXPECT_FALSE(has(r.err, "PLEXUS_PLAN_FILE")) << r.err;
}

TEST(PlexusTopo, PlanJson) {
  const Result r = run({"--json", "plan"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["algorithm"], "ring");
  EXPECT_EQ(doc["nranks"], 8);
  EXPECT_EQ(doc["ok"], true);
  EXPECT_GT(doc["steps"].get<int>(), 0);
  const Result steps = run({"plan", "--json", "--rank", "1", "-n", "3"});
  ASSERT_EQ(steps.status, 0) << steps.err;
  EXPECT_EQ(nlohmann::json::parse(steps.out)["rank"], 1);
  const Result list = run({"plan", "--list", "--json", "-c", "allgather"});
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out)["algorithms"][0], "ring");
  char tmpl[] = "/tmp/plexus-topo-plan-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string file = std::string(tmpl) + "/ring4.json";
  ASSERT_EQ(run({"plan", "-n", "4", "--export", "--name", "myring", "-o", file}).status, 0);
  const Result check = run({"plan", "--check", file, "--json"});
  ASSERT_EQ(check.status, 0) << check.err;
  const auto c = nlohmann::json::parse(check.out);
  EXPECT_EQ(c["plans"][0]["name"], "myring");
  EXPECT_EQ(c["plans"][0]["nranks"], 4);
  fs::remove_all(tmpl);
}

TEST(PlexusTopo, PlanRefusesWorkThatTakesMinutes) {
  const auto start = std::chrono::steady_clock::now();
  const Result huge = run({"plan", "-n", "100000"});
  EXPECT_EQ(huge.status, 2);
  EXPECT_TRUE(has(huge.err, "--ranks: Value 100000 not in range 1 to 65536")) << huge.err;
  const Result wide = run({"plan", "-n", "65536"});
  EXPECT_EQ(wide.status, 1);
  EXPECT_TRUE(has(wide.err, "verifying ring allreduce on 65536 ranks x 1 channels")) << wide.err;
  EXPECT_TRUE(has(wide.err, "more than the 268435456 this tool verifies")) << wide.err;
  const Result steps = run({"plan", "-n", "2048", "-c", "alltoall", "-a", "pairwise"});
  EXPECT_EQ(steps.status, 1);
  EXPECT_TRUE(has(steps.err, "verifying pairwise alltoall on 2048 ranks means about")) << steps.err;
  EXPECT_TRUE(has(steps.err, "more than the 2097152 this tool verifies")) << steps.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  for (const auto& [arg, value, error] :
       {std::tuple{"-n", "0", "--ranks: Value 0 not in range 1 to 65536"},
        std::tuple{"--channels", "33", "--channels: Value 33 not in range 1 to 32"},
        std::tuple{"--root", "-1", "--root: Value -1 not in range 0 to 65535"}}) {
    const Result r = run({"plan", arg, value});
    EXPECT_EQ(r.status, 2) << arg << " " << value;
    EXPECT_TRUE(has(r.err, error)) << r.err;
  }
  const Result root = run({"plan", "-n", "4", "--root", "4"});
  EXPECT_EQ(root.status, 1);
  EXPECT_TRUE(has(root.err, "--root 4: the ranks are 0..3 (--ranks 4)")) << root.err;
}

// Issue 11 point 15: what the display says when a source does not give a number.
TEST(PlexusTopo, ShowNcclXmlLeavesOutCoresItDoesNotKnow) {
  const Result r = run({"--file", data("azure-ndv4-topo.xml"), "show"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(has(r.out, " 0 cores")) << r.out;
  EXPECT_TRUE(has(r.out, "4 NUMA node(s), 96 threads, 8 GPUs, 8 NICs")) << r.out;
}

TEST(PlexusTopo, SyntheticNetworkLinkShowsNoUnknownSpeed) {
  const Result r = run({"--system", "dgx-h100:x2", "paths", "node00/GPU0", "node01/GPU0"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(has(r.out, "speed unknown network")) << r.out;
  EXPECT_TRUE(has(r.out, "|  network, 47 GB/s")) << r.out;
}

}  // namespace
