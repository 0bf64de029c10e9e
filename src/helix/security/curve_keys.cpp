#include "helix/security/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq.h>

#include "helix/core/error.h"
#include "helix/core/text_lines.h"

namespace helix::security {
namespace {

// ZeroMQ RFC 32 (Z85), in encoding order.
constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read {}: {}", path.string(), std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A `field = value` line of a key file, and where it was.
struct Field {
  std::string value;
  int line = 0;
};

// The fields of a key file; only `public` and `secret` exist, each at most once.
std::map<std::string, Field> read_key_fields(const std::filesystem::path& path) {
  const std::string text = read_text(path);
  std::string_view rest = text;
  std::map<std::string, Field> fields;
  for (int line = 1; !rest.empty(); ++line) {
    const std::string_view content = take_line(rest);
    if (content.empty() || content.front() == '#') continue;
    const auto equals = content.find('=');  // the first '=': Z85 values may contain more
    if (equals == std::string_view::npos) fail("{}:{}: expected 'field = value'", path.string(), line);
    const std::string name(trim(content.substr(0, equals)));
    if (name != "public" && name != "secret") {
      fail("{}:{}: unknown field '{}' (expected public or secret)", path.string(), line, name);
    }
    if (const auto seen = fields.find(name); seen != fields.end()) {
      fail("{}:{}: field '{}' repeats the one on line {}", path.string(), line, name, seen->second.line);
    }
    fields[name] = Field{std::string(trim(content.substr(equals + 1))), line};
  }
  return fields;
}

// The checked value of `name`, or an error naming the file (and line).
std::string key_field(const std::filesystem::path& path, const std::map<std::string, Field>& fields,
                      const std::string& name) {
  const auto it = fields.find(name);
  if (it == fields.end()) fail("{}: no '{}' field", path.string(), name);
  in_context(fmt::format("{}:{}: field '{}'", path.string(), it->second.line, name),
             [&] { check_z85_key(it->second.value); });
  return it->second.value;
}

void warn_if_not_private(const std::filesystem::path& path) {
  using std::filesystem::perms;
  std::error_code error;
  const perms p = std::filesystem::status(path, error).permissions();
  if (error) return;
  if ((p & (perms::group_all | perms::others_all)) != perms::none) {
    spdlog::warn("secret key file {} is accessible to group or others (mode {:o}); run chmod 600 on it",
                 path.string(), static_cast<unsigned>(p & perms::mask));
  }
}

void write_all(int fd, const std::string& content, const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write {}: {}", path.string(), std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
}

// Creates `path` (or, with `force`, truncates it) and writes `content`. A secret
// file is made 0600 explicitly: O_TRUNC keeps an existing file's mode.
void write_file(const std::filesystem::path& path, const std::string& content, bool secret, bool force) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
  const int fd = ::open(path.c_str(), flags, secret ? 0600 : 0644);
  if (fd < 0) fail("cannot create {}: {}", path.string(), std::strerror(errno));
  try {
    if (secret && ::fchmod(fd, 0600) != 0) fail("cannot chmod 600 {}: {}", path.string(), std::strerror(errno));
    write_all(fd, content, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) fail("cannot write {}: {}", path.string(), std::strerror(errno));
}

}  // namespace

KeyPair generate_keypair() {
  char public_key[kZ85KeyLength + 1] = {};
  char secret_key[kZ85KeyLength + 1] = {};
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    fail("cannot generate a CURVE key pair: {} (is libzmq built with CURVE?)", zmq_strerror(zmq_errno()));
  }
  return KeyPair{public_key, secret_key};
}

void check_z85_key(std::string_view key) {
  if (key.size() != kZ85KeyLength) fail("expected {} Z85 characters, got {}", kZ85KeyLength, key.size());
  const auto bad = key.find_first_not_of(kZ85Alphabet);
  if (bad != std::string_view::npos) {
    const auto c = static_cast<unsigned char>(key[bad]);
    if (std::isprint(c) != 0) fail("character {} ('{}') is not a Z85 character", bad + 1, key[bad]);
    fail("character {} (byte 0x{:02x}) is not a Z85 character", bad + 1, c);
  }
  std::uint8_t bytes[32];
  const std::string text(key);  // zmq_z85_decode wants a terminated string
  if (zmq_z85_decode(bytes, text.c_str()) == nullptr) fail("not a Z85-encoded key (a group exceeds 32 bits)");
}

void check_peer_name(std::string_view name) {
  if (name.empty()) fail("a peer name must not be empty");
  if (name.front() == '.') fail("peer name '{}' must not start with '.'", name);
  const bool ok = std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '-';
  });
  if (!ok) fail("peer name '{}': use letters, digits, '.', '_' and '-' only", name);
}

KeyFiles key_files(const std::filesystem::path& dir, const std::string& name) {
  return KeyFiles{dir / (name + ".key"), dir / (name + ".pub")};
}

KeyFiles write_keypair(const std::filesystem::path& dir, const std::string& name, const KeyPair& pair,
                       bool force) {
  check_peer_name(name);
  in_context("public key", [&] { check_z85_key(pair.public_key); });
  in_context("secret key", [&] { check_z85_key(pair.secret_key); });
  const KeyFiles files = key_files(dir, name);
  if (!force) {
    for (const auto& path : {files.secret_file, files.public_file}) {
      std::error_code error;
      if (std::filesystem::exists(std::filesystem::symlink_status(path, error))) {
        fail("{} exists; not overwriting it without --force", path.string());
      }
    }
  }
  write_file(files.secret_file,
             fmt::format("# helix CurveZMQ key pair of '{}'. SECRET: keep this file private;\n"
                         "# give others {}.pub.\npublic = {}\nsecret = {}\n",
                         name, name, pair.public_key, pair.secret_key),
             /*secret=*/true, force);
  write_file(files.public_file,
             fmt::format("# helix CurveZMQ public key of '{}'.\npublic = {}\n", name, pair.public_key),
             /*secret=*/false, force);
  return files;
}

KeyPair load_keypair(const std::filesystem::path& path) {
  const auto fields = read_key_fields(path);
  KeyPair pair{key_field(path, fields, "public"), key_field(path, fields, "secret")};
  char derived[kZ85KeyLength + 1] = {};
  if (zmq_curve_public(derived, pair.secret_key.c_str()) != 0) {
    fail("{}: cannot derive the public key: {}", path.string(), zmq_strerror(zmq_errno()));
  }
  if (pair.public_key != derived) {
    fail("{}:{}: field 'public' is not the public key of the secret key on line {}", path.string(),
         fields.at("public").line, fields.at("secret").line);
  }
  warn_if_not_private(path);
  return pair;
}

std::string load_public_key(const std::filesystem::path& path) {
  return key_field(path, read_key_fields(path), "public");
}

const std::string* TrustedPeers::name_of(const std::string& public_key_z85) const {
  const auto it = name_by_key.find(public_key_z85);
  return it == name_by_key.end() ? nullptr : &it->second;
}

void TrustedPeers::add(const std::string& name, const std::string& public_key_z85) {
  check_peer_name(name);
  in_context(fmt::format("key of '{}'", name), [&] { check_z85_key(public_key_z85); });
  if (const std::string* other = name_of(public_key_z85)) {
    fail("the key of '{}' is already listed for '{}'", name, *other);
  }
  for (const auto& [key, listed] : name_by_key) {
    if (listed == name) fail("peer '{}' is listed twice", name);
  }
  name_by_key.emplace(public_key_z85, name);
}

namespace {

TrustedPeers trusted_from_directory(const std::filesystem::path& dir) {
  std::error_code error;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    if (it->path().extension() == ".pub") files.push_back(it->path());
  }
  if (error) fail("cannot list {}: {}", dir.string(), error.message());
  std::sort(files.begin(), files.end());  // deterministic order for error messages
  TrustedPeers trusted;
  for (const auto& file : files) {
    const std::string key = load_public_key(file);
    in_context(file.string(), [&] { trusted.add(file.stem().string(), key); });
  }
  return trusted;
}

TrustedPeers trusted_from_list(const std::filesystem::path& path) {
  const std::string text = read_text(path);
  std::string_view rest = text;
  TrustedPeers trusted;
  for (int line = 1; !rest.empty(); ++line) {
    const std::string_view content = take_line(rest);
    if (content.empty() || content.front() == '#') continue;
    std::istringstream words{std::string(content)};
    std::vector<std::string> fields;
    for (std::string word; words >> word;) fields.push_back(word);
    const std::string where = fmt::format("{}:{}", path.string(), line);
    if (fields.size() != 2) fail("{}: expected 'NAME PUBLICKEY', got {} fields", where, fields.size());
    in_context(where, [&] { trusted.add(fields[0], fields[1]); });
  }
  return trusted;
}

}  // namespace

TrustedPeers load_trusted(const std::filesystem::path& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) fail("trusted peers {}: no such file or directory", path.string());
  if (std::filesystem::is_directory(status)) return trusted_from_directory(path);
  if (path.extension() == ".pub") {
    TrustedPeers trusted;
    const std::string key = load_public_key(path);
    in_context(path.string(), [&] { trusted.add(path.stem().string(), key); });
    return trusted;
  }
  return trusted_from_list(path);
}

}  // namespace helix::security
