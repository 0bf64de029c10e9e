// CurveZMQ key pairs (libzmq's CURVE mechanism, RFC 26) and the files that hold
// them. Keys are kept as Z85 text (ZeroMQ RFC 32): 40 characters for 32 bytes.
//
// `helix keys NAME` writes two files:
//   NAME.key  the secret file (mode 0600): `public = ...` and `secret = ...`
//   NAME.pub  the public file, safe to share: `public = ...`
// Both are `field = value` lines; blank lines and lines starting with '#' are
// ignored. Comments are whole lines only, because '#' and '=' are Z85 characters.
//
// A node's trusted peers are either a directory of NAME.pub files or a text
// file of `NAME PUBLICKEY` lines; the name becomes the peer's ZAP User-Id.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace helix::security {

inline constexpr std::size_t kZ85KeyLength = 40;  // 32 bytes in Z85

struct KeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// A fresh key pair from libzmq (zmq_curve_keypair). Throws Error if libzmq was
// built without CURVE.
KeyPair generate_keypair();

// Throws Error unless `key` is 40 Z85 characters that zmq_z85_decode accepts;
// the message says what is wrong (not where: callers add that).
void check_z85_key(std::string_view key);

// Key file names must be usable as peer names: [A-Za-z0-9._-], not starting
// with '.'. Throws Error otherwise.
void check_peer_name(std::string_view name);

struct KeyFiles {
  std::filesystem::path secret_file;  // DIR/NAME.key
  std::filesystem::path public_file;  // DIR/NAME.pub
};
KeyFiles key_files(const std::filesystem::path& dir, const std::string& name);

// Writes DIR/NAME.key (0600) and DIR/NAME.pub. Refuses, before writing either,
// if one of them exists, unless `force` (then both are replaced and the secret
// file is set back to 0600).
KeyFiles write_keypair(const std::filesystem::path& dir, const std::string& name, const KeyPair& pair,
                       bool force = false);

// Reads a NAME.key file: both fields, checked, and the public key must be the
// one the secret key derives (zmq_curve_public). Warns (spdlog) when the file
// is accessible to group or others. Errors name the file, line and field.
KeyPair load_keypair(const std::filesystem::path& path);

// The `public` field of a .pub or .key file, checked.
std::string load_public_key(const std::filesystem::path& path);

// Whom a node accepts: peer name by public key (Z85).
struct TrustedPeers {
  std::map<std::string, std::string> name_by_key;

  // The peer's name, or nullptr if the key is not trusted.
  const std::string* name_of(const std::string& public_key_z85) const;
  // Adds a peer; throws Error for a bad name or key, or a name or key already listed.
  void add(const std::string& name, const std::string& public_key_z85);
};

// `path` is a directory (each *.pub in it, named by its stem), a single .pub
// file, or a text file of `NAME PUBLICKEY` lines ('#' comment lines and blank
// lines allowed). Duplicate names or keys are errors; errors name file and line.
TrustedPeers load_trusted(const std::filesystem::path& path);

}  // namespace helix::security
