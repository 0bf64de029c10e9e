#include "helix/weights/mapped_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "helix/weights/safetensors_writer.h"
#include "helix/weights/tensor_store.h"
#include "support/test_support.h"
#include "weights_test_util.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;

constexpr std::size_t kMiB = 1024 * 1024;

TEST(MappedFile, MapsTheWholeFile) {
  test::TempDir dir;
  std::string content = "hello, mapped world";
  auto file = dir.write("f.bin", content);
  auto mapped = MappedFile::open(file);
  EXPECT_EQ(mapped->size(), content.size());
  EXPECT_EQ(mapped->path(), file);
  EXPECT_EQ(std::memcmp(mapped->data(), content.data(), content.size()), 0);
}

TEST(MappedFile, EmptyFileIsAllowed) {
  test::TempDir dir;
  auto mapped = MappedFile::open(dir.write("empty.bin", ""));
  EXPECT_EQ(mapped->size(), 0u);
  EXPECT_EQ(mapped->data(), nullptr);
  EXPECT_EQ(resident_bytes(*mapped), 0u);
}

TEST(MappedFile, MissingOrNotAFileIsAClearError) {
  test::TempDir dir;
  auto missing = dir.path() / "missing.safetensors";
  expect_contains(error_message([&] { MappedFile::open(missing); }),
                  {missing.string(), "cannot open", "No such file"});
  expect_contains(error_message([&] { MappedFile::open(dir.path()); }), {dir.path().string(), "not a regular file"});
}

TEST(MappedFile, OutlivesTheStoreThatOpenedIt) {
  test::TempDir dir;
  auto file = dir.path() / "m.safetensors";
  write_safetensors(file, {tensor_from_f32("w", DType::F32, {2}, {1.5f, -2.0f})});
  std::shared_ptr<const MappedFile> kept;
  const std::byte* data = nullptr;
  {
    TensorStore store = TensorStore::open(file);
    kept = store.files().at(0);
    data = store.at("w").data;
  }
  float values[2];
  std::memcpy(values, data, sizeof values);  // the mapping is still alive through `kept`
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_EQ(values[1], -2.0f);
}

// The engine relies on this: a stage maps the whole file but only the tensors it
// touches become resident in its address space.
TEST(MappedFile, OnlyTouchedTensorsBecomeResident) {
  if (!std::ifstream("/proc/self/smaps")) GTEST_SKIP() << "/proc/self/smaps is not readable";
  test::TempDir dir;
  auto file = dir.path() / "big.safetensors";
  std::vector<TensorData> tensors;
  for (int i = 0; i < 64; ++i) {
    tensors.push_back(TensorData{fmt::format("layer.{:02d}", i), DType::F32, {256, 1024},
                                 [i](std::span<std::byte> out) {
                                   std::memset(out.data(), i + 1, out.size());
                                 }});
  }
  write_safetensors(file, tensors);

  TensorStore store = TensorStore::open(file);
  ASSERT_GE(store.file_bytes(), 64 * kMiB);
  std::size_t before = resident_bytes(store);
  if (before == 0) GTEST_SKIP() << "no Rss for the mapping in /proc/self/smaps";

  const TensorRef& t = store.at("layer.37");
  ASSERT_EQ(t.nbytes, kMiB);
  unsigned sum = 0;
  for (std::size_t i = 0; i < t.nbytes; i += 512) sum += static_cast<unsigned>(t.data[i]);
  EXPECT_EQ(sum, 38u * (kMiB / 512));
  std::size_t after = resident_bytes(store);

  ::testing::Test::RecordProperty("resident_before_kib", static_cast<int>(before / 1024));
  ::testing::Test::RecordProperty("resident_after_kib", static_cast<int>(after / 1024));
  std::printf("mapping of %zu MiB: resident %zu KiB after open, %zu KiB after touching 1 MiB\n",
              store.file_bytes() / kMiB, before / 1024, after / 1024);
  EXPECT_LE(before, 512 * 1024u) << "opening should touch only the header";
  EXPECT_GE(after, kMiB) << "the touched tensor must be resident";
  EXPECT_LE(after, before + 3 * kMiB) << "far more than the touched tensor is resident";
}

}  // namespace
}  // namespace helix
