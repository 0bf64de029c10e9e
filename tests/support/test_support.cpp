#include "support/test_support.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace helix::test {

std::filesystem::path shared_data() {
  if (const char* env = std::getenv("HELIX_SHARED_DATA"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef HELIX_SHARED_DATA
  return HELIX_SHARED_DATA;
#else
  return "../shared/data/helix";
#endif
}

std::filesystem::path artifact(const std::string& relative) {
  return shared_data() / "artifact" / relative;
}

std::filesystem::path source_dir() {
#ifdef HELIX_SOURCE_DIR
  return HELIX_SOURCE_DIR;
#else
  return ".";
#endif
}

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = std::filesystem::temp_directory_path() /
                     ("helix-test-" + std::to_string(rd()) + std::to_string(attempt));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& content) const {
  auto file = path_ / name;
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary);
  out << content;
  return file;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CommandResult run_command(const std::string& command) {
  TempDir dir;
  auto out_path = dir.path() / "stdout";
  auto err_path = dir.path() / "stderr";
  std::string full = command + " >" + out_path.string() + " 2>" + err_path.string() + " </dev/null";
  int status = std::system(full.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

}  // namespace helix::test
