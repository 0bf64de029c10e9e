// Helpers shared by the test programs: where the paper's artifact lives, temporary
// files, and running the `helix` binary as a child process.
#pragma once

#include <filesystem>
#include <string>

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

}  // namespace helix::test
