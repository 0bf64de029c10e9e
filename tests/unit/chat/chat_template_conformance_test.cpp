// Real chat templates (tests/fixtures/chat_templates/*.jinja, sources in the
// README there) rendered over fixed conversations must match, byte for byte,
// what Python jinja2 renders with transformers' settings (the expected/ files,
// written by render_reference.py).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "helix/chat/chat_template.h"
#include "helix/core/error.h"

namespace helix::chat {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(HELIX_SOURCE_DIR) / "tests" / "fixtures" / "chat_templates";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<fs::path> template_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kFixtures)) {
    if (entry.path().extension() == ".jinja") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::tm fixed_time(const std::string& iso) {
  std::tm t{};
  std::istringstream in(iso);
  in >> std::get_time(&t, "%Y-%m-%dT%H:%M:%S");
  std::tm copy = t;
  timegm(&copy);  // fills in the weekday and day of the year
  t.tm_wday = copy.tm_wday;
  t.tm_yday = copy.tm_yday;
  return t;
}

// Where two renderings first differ, for a readable failure.
std::string first_difference(const std::string& expected, const std::string& actual) {
  std::size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
  const std::size_t from = i < 40 ? 0 : i - 40;
  return "at byte " + std::to_string(i) + "\n  expected: " + nlohmann::json(expected.substr(from, 80)).dump() +
         "\n  actual:   " + nlohmann::json(actual.substr(from, 80)).dump();
}

TEST(ChatTemplateConformance, RealTemplatesMatchJinja2ByteForByte) {
  const auto spec = nlohmann::ordered_json::parse(read_file(kFixtures / "conversations.json"));
  const auto files = template_files();
  ASSERT_GE(files.size(), 10U);
  int passed = 0;
  int total = 0;
  for (const fs::path& file : files) {
    const std::string family = file.stem().string();
    const ChatTemplate tmpl = ChatTemplate::parse(read_file(file), file.filename().string());
    for (const auto& conversation : spec["conversations"]) {
      for (const bool gen : {true, false}) {
        const std::string name = family + "." + conversation["name"].get<std::string>() + (gen ? "_gen" : "_nogen");
        RenderOptions options;
        options.add_generation_prompt = gen;
        options.bos_token = spec["bos_token"];
        options.eos_token = spec["eos_token"];
        options.now = fixed_time(spec["now"]);
        if (conversation.contains("extra")) options.extra = conversation["extra"];
        ++total;
        const fs::path raises = kFixtures / "expected" / (name + ".raises.txt");
        if (fs::exists(raises)) {
          try {
            tmpl.render_json(conversation["messages"], options);
            ADD_FAILURE() << name << ": jinja2 raised, helix rendered";
          } catch (const Error& e) {
            const std::string message = read_file(raises);
            EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << name << ": " << e.what();
            ++passed;
          }
          continue;
        }
        const fs::path expected_file = kFixtures / "expected" / (name + ".txt");
        ASSERT_TRUE(fs::exists(expected_file)) << expected_file << " is missing: run render_reference.py";
        const std::string expected = read_file(expected_file);
        std::string actual;
        try {
          actual = tmpl.render_json(conversation["messages"], options);
        } catch (const Error& e) {
          ADD_FAILURE() << name << ": " << e.what();
          continue;
        }
        if (actual == expected) {
          ++passed;
        } else {
          ADD_FAILURE() << name << " differs " << first_difference(expected, actual);
        }
      }
    }
  }
  std::cout << "[ conformance ] " << passed << " of " << total << " renderings of " << files.size()
            << " templates match jinja2\n";
}

// The expected files are jinja2's output, not hand-edited: when python3 with
// jinja2 is here, render them again and compare.
TEST(ChatTemplateConformance, ExpectedFilesAreWhatJinja2Renders) {
  if (std::system("python3 -c 'import jinja2' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 with jinja2 is not installed (apt-get install python3-jinja2)";
  }
  const fs::path out = fs::temp_directory_path() / ("helix_chat_reference_" + std::to_string(::getpid()));
  fs::remove_all(out);
  const std::string command = "python3 '" + (kFixtures / "render_reference.py").string() + "' --out '" + out.string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::size_t compared = 0;
  for (const auto& entry : fs::directory_iterator(out)) {
    const fs::path checked_in = kFixtures / "expected" / entry.path().filename();
    EXPECT_TRUE(fs::exists(checked_in)) << checked_in << " is missing";
    if (fs::exists(checked_in)) {
      EXPECT_EQ(read_file(entry.path()), read_file(checked_in)) << checked_in;
    }
    ++compared;
  }
  for (const auto& entry : fs::directory_iterator(kFixtures / "expected")) {
    EXPECT_TRUE(fs::exists(out / entry.path().filename())) << entry.path() << " is stale: jinja2 no longer writes it";
  }
  EXPECT_GT(compared, 0U);
  fs::remove_all(out);
}

}  // namespace
}  // namespace helix::chat
