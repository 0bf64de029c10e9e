#include "helix/cluster/ini_file.h"

#include <fstream>
#include <sstream>
#include <unordered_map>

#include "helix/core/error.h"

namespace helix {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Accumulates sections while checking for duplicates.
class Builder {
 public:
  explicit Builder(std::string source) : source_(std::move(source)) {}

  void add_line(std::string_view raw, int line) {
    std::string_view s = trim(raw);
    if (s.empty() || s.front() == '#' || s.front() == ';') return;
    if (s.front() == '[') return add_section(s, line);
    add_entry(s, line);
  }

  std::vector<IniSection> take() { return std::move(sections_); }

 private:
  [[noreturn]] void error(int line, std::string_view message) const {
    fail("{}:{}: {}", source_, line, message);
  }

  void add_section(std::string_view s, int line) {
    if (s.back() != ']') error(line, fmt::format("'{}': a section header must end with ']'", s));
    std::string name(trim(s.substr(1, s.size() - 2)));
    if (name.empty()) error(line, "empty section name '[]'");
    auto [it, fresh] = section_lines_.emplace(name, line);
    if (!fresh) error(line, fmt::format("section [{}] is given twice (first at line {})", name, it->second));
    sections_.push_back(IniSection{name, line, {}});
    key_lines_.clear();
  }

  void add_entry(std::string_view s, int line) {
    std::size_t sep = s.find_first_of("=:");
    if (sep == std::string_view::npos) {
      error(line, fmt::format("'{}': expected '[section]', 'key = value' or a '#' comment", s));
    }
    std::string key(trim(s.substr(0, sep)));
    if (key.empty()) error(line, fmt::format("'{}': the key before '{}' is empty", s, s[sep]));
    if (sections_.empty()) error(line, fmt::format("key '{}' comes before any [section]", key));
    auto [it, fresh] = key_lines_.emplace(key, line);
    if (!fresh) {
      error(line, fmt::format("[{}] key '{}' is given twice (first at line {})", sections_.back().name, key,
                              it->second));
    }
    sections_.back().entries.push_back(IniEntry{key, std::string(trim(s.substr(sep + 1))), line});
  }

  std::string source_;
  std::vector<IniSection> sections_;
  std::unordered_map<std::string, int> section_lines_;
  std::unordered_map<std::string, int> key_lines_;  // of the current section
};

}  // namespace

const IniEntry* IniSection::find(std::string_view key) const {
  for (const auto& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

IniFile IniFile::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the file", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path.string());
}

IniFile IniFile::parse(std::string_view text, std::string source_name) {
  Builder builder(source_name);
  int line = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    builder.add_line(text.substr(0, end), ++line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  IniFile file;
  file.source_name_ = std::move(source_name);
  file.sections_ = builder.take();
  return file;
}

const IniSection* IniFile::find(std::string_view name) const {
  for (const auto& s : sections_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const IniSection& IniFile::section(std::string_view name) const {
  const IniSection* s = find(name);
  if (s == nullptr) fail("{}: missing section [{}]", source_name_, name);
  return *s;
}

const IniEntry& IniFile::entry(const IniSection& section, std::string_view key) const {
  const IniEntry* e = section.find(key);
  if (e == nullptr) fail_at(section, fmt::format("missing key '{}'", key));
  return *e;
}

std::string IniFile::where(int line) const { return fmt::format("{}:{}", source_name_, line); }

void IniFile::fail_at(const IniSection& section, const IniEntry& entry, std::string_view message) const {
  fail("{}: [{}] {}: {}", where(entry.line), section.name, entry.key, message);
}

void IniFile::fail_at(const IniSection& section, std::string_view message) const {
  fail("{}: [{}] {}", where(section.line), section.name, message);
}

}  // namespace helix
