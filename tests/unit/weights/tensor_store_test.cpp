#include "helix/weights/tensor_store.h"

#include <gtest/gtest.h>

#include "helix/weights/gguf_writer.h"
#include "helix/weights/safetensors_writer.h"
#include "support/test_support.h"
#include "weights_test_util.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;

std::vector<TensorData> two_tensors() {
  return {tensor_from_f32("a", DType::F32, {2}, {1, 2}), tensor_from_f32("b", DType::F16, {1, 2}, {3, 4})};
}

TEST(TensorStore, AtNamesTheMissingTensorAndTheSource) {
  test::TempDir dir;
  auto file = dir.path() / "model.safetensors";
  write_safetensors(file, two_tensors());
  TensorStore store = TensorStore::open(file);
  EXPECT_EQ(store.find("zzz"), nullptr);
  EXPECT_NE(store.find("a"), nullptr);
  EXPECT_FALSE(store.contains("zzz"));
  EXPECT_EQ(error_message([&] { store.at("zzz"); }), fmt::format("tensor 'zzz' not in {}", file.string()));
  EXPECT_EQ(store.source(), file.string());
}

TEST(TensorStore, OpensADirectoryWithOneEntryPoint) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "single");
  write_safetensors(dir.path() / "single" / "model.safetensors", two_tensors());
  EXPECT_EQ(TensorStore::open(dir.path() / "single").format(), "safetensors");
  std::filesystem::create_directories(dir.path() / "gguf");
  write_gguf(dir.path() / "gguf" / "tiny-q8.gguf", {}, two_tensors());
  dir.write("gguf/config.json", "{}");  // other files do not matter
  TensorStore g = TensorStore::open(dir.path() / "gguf");
  EXPECT_EQ(g.format(), "gguf");
  EXPECT_EQ(g.names(), (std::vector<std::string>{"a", "b"}));
}

TEST(TensorStore, DirectoryWithNoneOrSeveralIsAnError) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "empty");
  expect_contains(error_message([&] { TensorStore::open(dir.path() / "empty"); }),
                  {"empty", "no weights found", "model.safetensors.index.json", "model.safetensors", "*.gguf",
                   "no .safetensors/.gguf/.json files"});
  dir.write("other/consolidated.safetensors", "x");
  dir.write("other/config.json", "{}");
  expect_contains(error_message([&] { TensorStore::open(dir.path() / "other"); }),
                  {"no weights found", "found: config.json, consolidated.safetensors"});
  std::filesystem::create_directories(dir.path() / "both");
  std::filesystem::create_directories(dir.path() / "two");
  write_safetensors(dir.path() / "both" / "model.safetensors", two_tensors());
  write_gguf(dir.path() / "both" / "model.gguf", {}, two_tensors());
  expect_contains(error_message([&] { TensorStore::open(dir.path() / "both"); }),
                  {"both", "ambiguous", "model.safetensors", "model.gguf"});
  write_gguf(dir.path() / "two" / "a.gguf", {}, two_tensors());
  write_gguf(dir.path() / "two" / "b.gguf", {}, two_tensors());
  expect_contains(error_message([&] { TensorStore::open(dir.path() / "two"); }), {"ambiguous", "a.gguf, b.gguf"});
  expect_contains(error_message([&] { TensorStore::open(dir.path() / "nowhere"); }),
                  {"nowhere", "no such file or directory"});
}

TEST(TensorStore, FileOfOtherExtensionIsSniffed) {
  test::TempDir dir;
  write_gguf(dir.path() / "weights.bin", {}, two_tensors());
  EXPECT_EQ(TensorStore::open(dir.path() / "weights.bin").format(), "gguf");
  write_safetensors(dir.path() / "weights.st", two_tensors());
  EXPECT_EQ(TensorStore::open(dir.path() / "weights.st").format(), "safetensors");
}

TEST(TensorStore, SafetensorsAndGgufOfTheSameTensorsAgree) {
  test::TempDir dir;
  write_safetensors(dir.path() / "m.safetensors", two_tensors());
  write_gguf(dir.path() / "m.gguf", {}, two_tensors());
  TensorStore s = TensorStore::open(dir.path() / "m.safetensors");
  TensorStore g = TensorStore::open(dir.path() / "m.gguf");
  ASSERT_EQ(s.names(), g.names());
  for (const std::string& name : s.names()) {
    EXPECT_EQ(s.at(name).shape, g.at(name).shape) << name;
    EXPECT_EQ(s.at(name).dtype, g.at(name).dtype) << name;
    EXPECT_EQ(test::tensor_bytes(s.at(name)), test::tensor_bytes(g.at(name))) << name;
  }
}

}  // namespace
}  // namespace helix
