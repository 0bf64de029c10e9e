#include "helix/cluster/ini_file.h"

#include <gtest/gtest.h>

#include "cluster_test_util.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;

TEST(IniFile, ReadsSectionsKeysAndLines) {
  IniFile f = IniFile::parse("# header\n\n[A]\nx = 1 * mbps\ny: [0, 'sink']\n; note\n[B]\nz=\n", "f.ini");
  ASSERT_EQ(f.sections().size(), 2u);
  const IniSection& a = f.section("A");
  EXPECT_EQ(a.line, 3);
  ASSERT_EQ(a.entries.size(), 2u);
  EXPECT_EQ(a.entries[0].key, "x");
  EXPECT_EQ(a.entries[0].value, "1 * mbps");
  EXPECT_EQ(a.entries[0].line, 4);
  EXPECT_EQ(f.entry(a, "y").value, "[0, 'sink']");
  EXPECT_EQ(f.entry(f.section("B"), "z").value, "");
  EXPECT_EQ(f.find("C"), nullptr);
  EXPECT_EQ(f.where(7), "f.ini:7");
}

TEST(IniFile, HandlesWindowsLineEndingsAndNoFinalNewline) {
  IniFile f = IniFile::parse("[A]\r\nx = 1\r\ny=2", "f.ini");
  EXPECT_EQ(f.entry(f.section("A"), "x").value, "1");
  EXPECT_EQ(f.entry(f.section("A"), "y").value, "2");
}

TEST(IniFile, BadLineNamesFileAndLine) {
  std::string msg = error_message([] { IniFile::parse("[A]\nx = 1\nbandwidth 1000\n", "c.ini"); });
  expect_contains(msg, {"c.ini:3:", "bandwidth 1000", "expected"});
}

TEST(IniFile, DuplicateSectionAndKeyNameBothLines) {
  std::string msg = error_message([] { IniFile::parse("[A]\nx=1\n[B]\n[A]\n", "c.ini"); });
  expect_contains(msg, {"c.ini:4:", "[A]", "twice", "line 1"});
  msg = error_message([] { IniFile::parse("[A]\nx=1\n\nx=2\n", "c.ini"); });
  expect_contains(msg, {"c.ini:4:", "'x'", "twice", "line 2"});
}

TEST(IniFile, KeyOutsideSectionAndBadHeaderAreErrors) {
  expect_contains(error_message([] { IniFile::parse("x=1\n", "c.ini"); }), {"c.ini:1:", "before any"});
  expect_contains(error_message([] { IniFile::parse("\n[A\n", "c.ini"); }), {"c.ini:2:", "']'"});
  expect_contains(error_message([] { IniFile::parse("[A]\n= 3\n", "c.ini"); }), {"c.ini:2:", "empty"});
}

TEST(IniFile, MissingSectionAndKeyAreNamed) {
  IniFile f = IniFile::parse("[A]\nx=1\n", "c.ini");
  expect_contains(error_message([&] { f.section("B"); }), {"c.ini", "missing section [B]"});
  expect_contains(error_message([&] { f.entry(f.section("A"), "y"); }),
                  {"c.ini:1:", "[A]", "missing key 'y'"});
}

TEST(IniFile, MissingFileIsAnError) {
  expect_contains(error_message([] { IniFile::load("/nonexistent/x.ini"); }),
                  {"/nonexistent/x.ini", "cannot open"});
}

}  // namespace
}  // namespace helix
