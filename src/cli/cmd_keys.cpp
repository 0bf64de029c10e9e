// `helix keys`: CurveZMQ key pairs for the runtime's nodes. `helix keys NAME...`
// writes NAME.key (secret, mode 0600) and NAME.pub for each name and prints the
// public keys; `helix keys --show FILE` prints the public key of a .key or .pub.
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "helix/core/error.h"
#include "helix/security/curve_keys.h"

namespace helix::cli {
namespace {

struct KeysOptions {
  std::vector<std::string> names;
  std::string dir = ".";
  bool force = false;
  std::string show;
};

// Everything that can be checked before writing, so that one bad name does
// not leave the others half written.
void check_names(const KeysOptions& o) {
  std::set<std::string> seen;
  for (const auto& name : o.names) {
    security::check_peer_name(name);
    if (!seen.insert(name).second) fail("key name '{}' is given twice", name);
    if (o.force) continue;
    const security::KeyFiles files = security::key_files(o.dir, name);
    for (const auto& path : {files.secret_file, files.public_file}) {
      if (std::filesystem::exists(path)) fail("{} exists; not overwriting it without --force", path.string());
    }
  }
}

void show(const std::filesystem::path& file) {
  // A .key file is read whole: that checks its public key belongs to its secret key.
  const std::string key = file.extension() == ".key" ? security::load_keypair(file).public_key
                                                     : security::load_public_key(file);
  fmt::print("{}\n", key);
}

void run_keys(const KeysOptions& o) {
  if (!o.show.empty()) return show(o.show);
  if (o.names.empty()) fail("give the names of the key pairs to write (helix keys NAME...), or --show FILE");
  check_names(o);
  std::error_code error;
  std::filesystem::create_directories(o.dir, error);
  if (error) fail("cannot create directory {}: {}", o.dir, error.message());
  // The output is itself a trusted-peers list ('#' comments, NAME PUBLICKEY lines).
  for (const auto& name : o.names) {
    const security::KeyPair pair = security::generate_keypair();
    const security::KeyFiles files = security::write_keypair(o.dir, name, pair, o.force);
    fmt::print("# wrote {} (secret) and {}\n{} {}\n", files.secret_file.string(), files.public_file.string(), name,
               pair.public_key);
  }
}

}  // namespace

void register_keys(CLI::App& app) {
  auto options = std::make_shared<KeysOptions>();
  CLI::App* cmd = app.add_subcommand(
      "keys", "Write CurveZMQ key pairs that authenticate and encrypt the runtime's connections");
  CLI::Option* names =
      cmd->add_option("names", options->names, "Key pair names: writes NAME.key (secret) and NAME.pub for each");
  cmd->add_option("--dir", options->dir, "Directory to write the key files to")->capture_default_str();
  CLI::Option* force = cmd->add_flag("--force", options->force, "Replace existing key files");
  cmd->add_option("--show", options->show, "Print the public key of a .key or .pub file")
      ->excludes(names)
      ->excludes(force);
  cmd->callback([options] { run_keys(*options); });
}

}  // namespace helix::cli
