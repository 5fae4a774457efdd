// `dot` as a child process (graphviz.hpp).
#include "graphviz.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "base/error.hpp"

extern char** environ;

namespace plexus::tools::topo {
namespace {

// A temporary file holding the DOT text, removed when this goes out of scope.
class TempDot {
 public:
  explicit TempDot(const std::string& text) {
    const char* dir = std::getenv("TMPDIR");
    std::string pattern =
        std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/plexus-topo-XXXXXX.dot";
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    const int fd = ::mkstemps(name.data(), 4);
    if (fd < 0) throwSystemError(errno, "plexus-topo draw: cannot create %s", pattern.c_str());
    ::close(fd);
    path_ = name.data();
    std::ofstream out(path_);
    out << text;
    if (!out.flush())
      throwError(ErrorCode::kSystem, "plexus-topo draw: cannot write %s", path_.c_str());
  }
  ~TempDot() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempDot(const TempDot&) = delete;
  TempDot& operator=(const TempDot&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

void renderWithGraphviz(const std::string& dotText, const std::string& format,
                        const std::string& outputPath, std::chrono::seconds limit) {
  const TempDot input(dotText);
  std::vector<std::string> args = {"dot", "-T" + format};
  if (!outputPath.empty() && outputPath != "-") {
    args.push_back("-o");
    args.push_back(outputPath);
  }
  args.push_back(input.path());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "dot", nullptr, nullptr, argv.data(), environ);
  if (rc != 0)
    throwSystemError(rc,
                     "plexus-topo draw: cannot run Graphviz's `dot` (install it: apt-get install "
                     "graphviz; or write the DOT text itself with --format dot)");
  const auto until = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (true) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR)
      throwSystemError(errno, "plexus-topo draw: waiting for `dot` (pid %d)", pid);
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throwError(ErrorCode::kSystem,
                 "plexus-topo draw: `dot` did not finish within %lld s (a very large graph?); "
                 "write --format dot and render it yourself, e.g. with sfdp",
                 static_cast<long long>(limit.count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throwError(ErrorCode::kSystem,
               "plexus-topo draw: `dot -T%s` failed (%s %d); its message is above; check that "
               "this Graphviz supports -T%s (dot -T?)",
               format.c_str(), WIFEXITED(status) ? "exit status" : "signal",
               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), format.c_str());
}

}  // namespace plexus::tools::topo
