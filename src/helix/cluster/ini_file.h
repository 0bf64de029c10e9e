// IniFile: a small reader for the INI files of the paper's artifact (cluster
// topologies, machine profiles, simulator_cluster.ini). It keeps the line number of
// every section and key so that importers can say "cluster24.ini:45: [Link-0-5]
// bandwidth: ..." when a value is wrong.
//
// Syntax accepted (the subset of Python's ConfigParser the paper's files use):
//   [Section]        a section header; names are case-sensitive
//   key = value      or "key: value"; key and value are trimmed, keys case-sensitive
//   # comment        or "; comment", whole lines only (a '#' inside a value is kept)
//   blank lines
// Anything else is an error naming file:line, and so is a key outside any section,
// a section given twice and a key given twice in one section. Values are kept as
// text; paper_expr.h turns them into numbers, lists and strings.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace helix {

struct IniEntry {
  std::string key;
  std::string value;
  int line = 0;  // 1-based
};

struct IniSection {
  std::string name;
  int line = 0;  // line of the "[name]" header
  std::vector<IniEntry> entries;

  // The entry `key`, or nullptr.
  const IniEntry* find(std::string_view key) const;
};

class IniFile {
 public:
  // Reads and parses a file; messages name the path as given.
  static IniFile load(const std::filesystem::path& path);
  // Parses `text`; `source_name` is the file name used in messages.
  static IniFile parse(std::string_view text, std::string source_name);

  const std::string& source_name() const { return source_name_; }
  const std::vector<IniSection>& sections() const { return sections_; }

  // The section `name`, or nullptr.
  const IniSection* find(std::string_view name) const;
  // The section `name`; throws Error "file: missing section [name]" if absent.
  const IniSection& section(std::string_view name) const;
  // The entry `key` of `section`; throws Error "file:line: [section] missing key 'key'".
  const IniEntry& entry(const IniSection& section, std::string_view key) const;

  // "file:line" for messages.
  std::string where(int line) const;
  // Throws Error "file:line: [section] key: message" (the entry's place).
  [[noreturn]] void fail_at(const IniSection& section, const IniEntry& entry, std::string_view message) const;
  // Throws Error "file:line: [section] message" (the section header's place).
  [[noreturn]] void fail_at(const IniSection& section, std::string_view message) const;

 private:
  std::string source_name_;
  std::vector<IniSection> sections_;
};

}  // namespace helix
