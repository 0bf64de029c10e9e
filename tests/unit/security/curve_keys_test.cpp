// Key pairs and key files: generating, writing (0600, no silent overwrite),
// reading back, and errors that name the file, line and field; trusted peers
// from a directory of .pub files or a NAME PUBLICKEY list.
#include "helix/security/curve_keys.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "helix/core/error.h"
#include "support/error_expectations.h"
#include "support/test_support.h"
#include "unit/security/captured_log.h"

namespace helix::security {
namespace {

using helix::test::CapturedLog;
using helix::test::error_message;
using helix::test::expect_contains;
using helix::test::TempDir;
namespace fs = std::filesystem;

std::string key_file_text(const KeyPair& pair) {
  return "# a comment\n\npublic = " + pair.public_key + "\nsecret = " + pair.secret_key + "\n";
}

TEST(CurveKeys, GeneratedPairsAreValidAndDistinct) {
  const KeyPair a = generate_keypair();
  const KeyPair b = generate_keypair();
  EXPECT_EQ(a.public_key.size(), kZ85KeyLength);
  EXPECT_EQ(a.secret_key.size(), kZ85KeyLength);
  EXPECT_NO_THROW(check_z85_key(a.public_key));
  EXPECT_NO_THROW(check_z85_key(a.secret_key));
  EXPECT_NE(a.public_key, b.public_key);
  EXPECT_NE(a.secret_key, b.secret_key);
  EXPECT_NE(a.public_key, a.secret_key);
}

TEST(CurveKeys, Z85CheckSaysWhatIsWrong) {
  const std::string good = generate_keypair().public_key;
  expect_contains(error_message([&] { check_z85_key(good.substr(0, 39)); }), {"40", "got 39"});
  std::string space = good;
  space[4] = ' ';
  expect_contains(error_message([&] { check_z85_key(space); }), {"character 5", "' '"});
  std::string tab = good;
  tab[0] = '\t';
  expect_contains(error_message([&] { check_z85_key(tab); }), {"character 1", "0x09"});
  // Valid characters, but "#####" is 84*85^4+... > 2^32: not decodable.
  expect_contains(error_message([&] { check_z85_key(std::string(40, '#')); }), {"32 bits"});
}

TEST(CurveKeys, WriteAndLoadRoundTrip) {
  TempDir dir;
  const KeyPair pair = generate_keypair();
  const KeyFiles files = write_keypair(dir.path(), "worker-1", pair);
  EXPECT_EQ(files.secret_file, dir.path() / "worker-1.key");
  EXPECT_EQ(files.public_file, dir.path() / "worker-1.pub");
  EXPECT_EQ(fs::status(files.secret_file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  const KeyPair loaded = load_keypair(files.secret_file);
  EXPECT_EQ(loaded.public_key, pair.public_key);
  EXPECT_EQ(loaded.secret_key, pair.secret_key);
  EXPECT_EQ(load_public_key(files.public_file), pair.public_key);
  EXPECT_EQ(load_public_key(files.secret_file), pair.public_key);

  const std::string pub = test::read_file(files.public_file);
  EXPECT_EQ(pub.find(pair.secret_key), std::string::npos) << "the .pub file must not hold the secret key";
  EXPECT_NE(pub.find("public = " + pair.public_key), std::string::npos) << pub;
}

TEST(CurveKeys, RefusesToOverwriteWithoutForce) {
  TempDir dir;
  const KeyPair first = generate_keypair();
  write_keypair(dir.path(), "node", first);
  // Only the .pub exists: still refused, and the .key is not written either.
  fs::remove(dir.path() / "node.key");
  expect_contains(error_message([&] { write_keypair(dir.path(), "node", generate_keypair()); }),
                  {"node.pub", "exists", "--force"});
  EXPECT_FALSE(fs::exists(dir.path() / "node.key"));

  // --force replaces both, and a loosened secret file goes back to 0600.
  write_keypair(dir.path(), "node", first, /*force=*/true);
  fs::permissions(dir.path() / "node.key", fs::perms::group_read | fs::perms::others_read, fs::perm_options::add);
  const KeyPair second = generate_keypair();
  write_keypair(dir.path(), "node", second, /*force=*/true);
  EXPECT_EQ(load_keypair(dir.path() / "node.key").secret_key, second.secret_key);
  EXPECT_EQ(load_public_key(dir.path() / "node.pub"), second.public_key);
  EXPECT_EQ(fs::status(dir.path() / "node.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST(CurveKeys, BadNamesAreRefused) {
  TempDir dir;
  const KeyPair pair = generate_keypair();
  for (const std::string name : {"", ".hidden", "a/b", "with space", "x#y"}) {
    EXPECT_THROW(write_keypair(dir.path(), name, pair), Error) << "'" << name << "'";
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(CurveKeys, BadKeyFilesNameFileLineAndField) {
  TempDir dir;
  const KeyPair pair = generate_keypair();
  const KeyPair other = generate_keypair();

  const auto short_public = dir.write("short.key", "# header\npublic = abc\nsecret = " + pair.secret_key + "\n");
  expect_contains(error_message([&] { load_keypair(short_public); }),
                  {"short.key:2", "field 'public'", "expected 40 Z85 characters, got 3"});

  std::string bad_secret = pair.secret_key;
  bad_secret[10] = '~';
  const auto bad_char = dir.write("badchar.key", "public = " + pair.public_key + "\n\nsecret = " + bad_secret + "\n");
  expect_contains(error_message([&] { load_keypair(bad_char); }),
                  {"badchar.key:3", "field 'secret'", "character 11", "'~'"});

  const auto missing = dir.write("missing.key", "public = " + pair.public_key + "\n");
  expect_contains(error_message([&] { load_keypair(missing); }), {"missing.key", "no 'secret' field"});

  const auto unknown = dir.write("unknown.key", "public = " + pair.public_key + "\nsecrte = x\n");
  expect_contains(error_message([&] { load_keypair(unknown); }), {"unknown.key:2", "unknown field 'secrte'"});

  const auto no_equals = dir.write("noeq.pub", "public\n");
  expect_contains(error_message([&] { load_public_key(no_equals); }), {"noeq.pub:1", "field = value"});

  const auto twice = dir.write("twice.pub", "public = " + pair.public_key + "\npublic = " + pair.public_key + "\n");
  expect_contains(error_message([&] { load_public_key(twice); }), {"twice.pub:2", "'public'", "line 1"});

  const auto mismatched = dir.write("mismatch.key", key_file_text(KeyPair{other.public_key, pair.secret_key}));
  expect_contains(error_message([&] { load_keypair(mismatched); }),
                  {"mismatch.key:3", "field 'public'", "not the public key of the secret key on line 4"});

  expect_contains(error_message([&] { load_keypair(dir.path() / "absent.key"); }), {"absent.key", "cannot read"});
}

TEST(CurveKeys, CrlfAndKeysContainingHashAndEqualsAreRead) {
  TempDir dir;
  // '#' and '=' are Z85 characters: only whole-line comments, split at the first '='.
  KeyPair pair = generate_keypair();
  for (int i = 0; pair.public_key.find_first_of("#=") == std::string::npos && i < 1000; ++i) {
    pair = generate_keypair();
  }
  ASSERT_NE(pair.public_key.find_first_of("#="), std::string::npos);
  const auto path = dir.write("crlf.key", "# header\r\npublic = " + pair.public_key + "\r\nsecret = " +
                                              pair.secret_key + "\r\n");
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(load_keypair(path).public_key, pair.public_key);
}

TEST(CurveKeys, WarnsWhenASecretFileIsReadableByOthers) {
  TempDir dir;
  const KeyFiles files = write_keypair(dir.path(), "n", generate_keypair());
  {
    CapturedLog log;
    load_keypair(files.secret_file);
    EXPECT_EQ(log.text(), "") << "a 0600 file is not worth a warning";
  }
  fs::permissions(files.secret_file, fs::perms::group_read, fs::perm_options::add);
  CapturedLog log;
  load_keypair(files.secret_file);
  expect_contains(log.text(), {"n.key", "group or others", "640", "chmod 600"});
}

TEST(TrustedPeers, FromADirectoryOfPubFiles) {
  TempDir dir;
  const KeyPair alice = generate_keypair();
  const KeyPair bob = generate_keypair();
  write_keypair(dir.path(), "alice", alice);
  write_keypair(dir.path(), "bob", bob);
  dir.write("README", "not a key\n");  // other files are ignored, and so are the .key files

  const TrustedPeers trusted = load_trusted(dir.path());
  ASSERT_EQ(trusted.name_by_key.size(), 2u);
  ASSERT_NE(trusted.name_of(alice.public_key), nullptr);
  EXPECT_EQ(*trusted.name_of(alice.public_key), "alice");
  EXPECT_EQ(*trusted.name_of(bob.public_key), "bob");
  EXPECT_EQ(trusted.name_of(generate_keypair().public_key), nullptr);
  EXPECT_EQ(trusted.name_of(alice.secret_key), nullptr);

  // One .pub file on its own trusts that one peer.
  const TrustedPeers one = load_trusted(dir.path() / "bob.pub");
  ASSERT_EQ(one.name_by_key.size(), 1u);
  EXPECT_EQ(*one.name_of(bob.public_key), "bob");
}

TEST(TrustedPeers, DirectoryWithTheSameKeyTwiceIsAnError) {
  TempDir dir;
  const KeyPair pair = generate_keypair();
  write_keypair(dir.path(), "a", pair);
  write_keypair(dir.path(), "b", pair);
  expect_contains(error_message([&] { load_trusted(dir.path()); }), {"b.pub", "already listed for 'a'"});
}

TEST(TrustedPeers, FromAList) {
  TempDir dir;
  const KeyPair w1 = generate_keypair();
  const KeyPair w2 = generate_keypair();
  const auto list = dir.write("trusted.txt", "# who may connect\n\n  w1 " + w1.public_key + "\n" + "w2\t" +
                                                 w2.public_key + "  \r\n");
  const TrustedPeers trusted = load_trusted(list);
  ASSERT_EQ(trusted.name_by_key.size(), 2u);
  EXPECT_EQ(*trusted.name_of(w1.public_key), "w1");
  EXPECT_EQ(*trusted.name_of(w2.public_key), "w2");
}

TEST(TrustedPeers, ListErrorsNameFileAndLine) {
  TempDir dir;
  const std::string k1 = generate_keypair().public_key;
  const std::string k2 = generate_keypair().public_key;
  expect_contains(error_message([&] { load_trusted(dir.write("a.txt", "# c\nw1\n")); }),
                  {"a.txt:2", "NAME PUBLICKEY", "got 1 fields"});
  expect_contains(error_message([&] { load_trusted(dir.write("b.txt", "w1 " + k1 + " extra\n")); }),
                  {"b.txt:1", "got 3 fields"});
  expect_contains(error_message([&] { load_trusted(dir.write("c.txt", "w1 " + k1 + "\nw1 " + k2 + "\n")); }),
                  {"c.txt:2", "'w1' is listed twice"});
  expect_contains(error_message([&] { load_trusted(dir.write("d.txt", "w1 " + k1 + "\nw2 " + k1 + "\n")); }),
                  {"d.txt:2", "key of 'w2'", "already listed for 'w1'"});
  expect_contains(error_message([&] { load_trusted(dir.write("e.txt", "\n\nw1 " + k1.substr(1) + "\n")); }),
                  {"e.txt:3", "key of 'w1'", "got 39"});
  expect_contains(error_message([&] { load_trusted(dir.path() / "nope"); }), {"nope", "no such file"});
}

}  // namespace
}  // namespace helix::security
