// Helpers shared by the test programs: where the paper's artifact lives, temporary
// files, and running the `helix` binary as a child process.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace helix::test {

// ../shared/data/helix (the paper artifact's data), or $HELIX_SHARED_DATA.
std::filesystem::path shared_data();
// A path inside ../shared/data/helix/artifact.
std::filesystem::path artifact(const std::string& relative);
// The project's source directory.
std::filesystem::path source_dir();

// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to `name` inside the directory and returns the full path.
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);

// Result of running a command through /bin/sh.
struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
CommandResult run_command(const std::string& command);

// A child process started from argv (no shell) with stdout and stderr going to
// `log`, in this process's environment plus `env` ("NAME=value" each). The
// destructor kills it (SIGTERM, then SIGKILL) and reaps it.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log,
               const std::vector<std::string>& env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool running();
  void signal(int sig);
  // Waits up to `timeout_s` for it to exit; its exit code, or -1 if it did not
  // (or died of a signal).
  int wait(double timeout_s);
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_tcp_port();

// A cluster file (helix-cluster/1) of two nodes, a and b, of machine type `type`
// (16 GB, 1 GB/s links) whose layer times are the tables in `layer_times` (a folder
// relative to the file, as `helix profile` writes them).
std::string profiled_pair_cluster_yaml(const std::string& type, const std::string& layer_times);

}  // namespace helix::test
