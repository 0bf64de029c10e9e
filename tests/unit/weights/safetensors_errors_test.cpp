// Hand-corrupted safetensors files and indexes: each must give an Error that names
// the file and the field or tensor at fault.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "helix/weights/safetensors_writer.h"
#include "helix/weights/tensor_store.h"
#include "support/test_support.h"
#include "weights_test_util.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;
using test::safetensors_bytes;

// The message of opening a safetensors file with `header` and `data`.
std::string open_error(const std::string& header, const std::string& data, std::string* path = nullptr) {
  test::TempDir dir;
  auto file = dir.write("bad.safetensors", safetensors_bytes(header, data));
  if (path != nullptr) *path = file.string();
  return error_message([&] { TensorStore::open(file); });
}

std::string entry(const std::string& dtype, const std::string& shape, const std::string& offsets) {
  return R"({"w": {"dtype": )" + dtype + R"(, "shape": )" + shape + R"(, "data_offsets": )" + offsets + "}}";
}

TEST(SafetensorsErrors, FileShorterThanTheHeaderLength) {
  test::TempDir dir;
  auto file = dir.write("short.safetensors", "abc");
  expect_contains(error_message([&] { TensorStore::open(file); }),
                  {file.string(), "3 bytes", "shorter than the 8-byte header length"});
  auto empty = dir.write("empty.safetensors", "");
  expect_contains(error_message([&] { TensorStore::open(empty); }), {empty.string(), "0 bytes"});
}

TEST(SafetensorsErrors, HeaderLengthBeyondTheFile) {
  test::TempDir dir;
  auto file = dir.write("long.safetensors", test::le_u64(1000) + "{}");
  expect_contains(error_message([&] { TensorStore::open(file); }),
                  {file.string(), "header length 1000", "beyond the end of the file"});

  // A valid file with its header length flipped to all ones.
  auto good = dir.path() / "good.safetensors";
  write_safetensors(good, {tensor_from_f32("w", DType::F32, {2}, {1, 2})});
  std::string raw = test::read_file(good);
  auto flipped = dir.write("flipped.safetensors", test::le_u64(~std::uint64_t{0}) + raw.substr(8));
  expect_contains(error_message([&] { TensorStore::open(flipped); }),
                  {flipped.string(), "header length 18446744073709551615"});
}

TEST(SafetensorsErrors, HeaderNotJsonOrNotAnObject) {
  std::string path;
  expect_contains(open_error("{not json", "", &path), {"bad.safetensors", "header", "not valid JSON"});
  expect_contains(open_error("[1, 2]", ""), {"bad.safetensors", "must be a JSON object", "array"});
  expect_contains(open_error(R"({"w": 3})", ""), {"bad.safetensors", "tensor 'w'", "expected an object"});
}

TEST(SafetensorsErrors, EntryMissingAField) {
  expect_contains(open_error(R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", std::string(4, '\0')),
                  {"bad.safetensors", "tensor 'w'", "missing field 'dtype'"});
  expect_contains(open_error(R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", std::string(4, '\0')),
                  {"bad.safetensors", "tensor 'w'", "missing field 'shape'"});
  expect_contains(open_error(R"({"w": {"dtype": "F32", "shape": [1]}})", std::string(4, '\0')),
                  {"bad.safetensors", "tensor 'w'", "missing field 'data_offsets'"});
}

TEST(SafetensorsErrors, UnknownOrUnsupportedDtype) {
  std::string data(4, '\0');
  expect_contains(open_error(entry(R"("I8")", "[4]", "[0, 4]"), data),
                  {"bad.safetensors", "tensor 'w'", "dtype 'I8' is not supported", "F32, F16, BF16"});
  expect_contains(open_error(entry(R"("F64")", "[1]", "[0, 8]"), std::string(8, '\0')), {"'F64' is not supported"});
  expect_contains(open_error(entry(R"("U8")", "[4]", "[0, 4]"), data), {"'U8' is not supported"});
  expect_contains(open_error(entry(R"("Q8_0")", "[4]", "[0, 4]"), data), {"tensor 'w'", "unknown dtype 'Q8_0'"});
  expect_contains(open_error(entry(R"("f32")", "[1]", "[0, 4]"), data), {"unknown dtype 'f32'"});
  expect_contains(open_error(entry("7", "[1]", "[0, 4]"), data), {"field 'dtype' must be a string"});
}

TEST(SafetensorsErrors, BadOffsets) {
  std::string data(8, '\0');
  expect_contains(open_error(entry(R"("F32")", "[4]", "[0, 16]"), data),
                  {"bad.safetensors", "tensor 'w'", "data_offsets", "[0, 16]", "past the end of the data section",
                   "8 bytes"});
  expect_contains(open_error(entry(R"("F32")", "[1]", "[8, 4]"), data),
                  {"tensor 'w'", "data_offsets", "end 4 is before begin 8"});
  expect_contains(open_error(entry(R"("F32")", "[3]", "[0, 8]"), data),
                  {"tensor 'w'", "data_offsets", "holds 8 bytes", "shape [3] of F32 needs 12"});
  expect_contains(open_error(entry(R"("F32")", "[1]", "[0]"), data), {"tensor 'w'", "must be [begin, end]"});
  expect_contains(open_error(entry(R"("F32")", "[1]", "[-4, 0]"), data),
                  {"tensor 'w'", "data_offsets", "begin must be a non-negative integer"});
}

TEST(SafetensorsErrors, BadShapes) {
  std::string data(8, '\0');
  expect_contains(open_error(entry(R"("F32")", "[-1, 2]", "[0, 8]"), data),
                  {"bad.safetensors", "tensor 'w'", "shape", "negative dimension -1"});
  expect_contains(open_error(entry(R"("F32")", "[2.5]", "[0, 8]"), data),
                  {"tensor 'w'", "shape", "non-negative integers", "2.5"});
  expect_contains(open_error(entry(R"("F32")", "2", "[0, 8]"), data), {"tensor 'w'", "'shape' must be an array"});
  // Absurd products must not wrap around to a small size that happens to match.
  expect_contains(open_error(entry(R"("F32")", "[4294967296, 4294967296, 16]", "[0, 0]"), data),
                  {"tensor 'w'", "[4294967296, 4294967296, 16]", "more elements than fit in 64 bits"});
  expect_contains(open_error(entry(R"("F32")", "[4611686018427387904]", "[0, 0]"), data),
                  {"tensor 'w'", "do not fit"});
  expect_contains(open_error(entry(R"("F32")", "[18446744073709551615]", "[0, 0]"), data),
                  {"tensor 'w'", "too large"});
}

TEST(SafetensorsErrors, MetadataMustBeStrings) {
  expect_contains(open_error(R"({"__metadata__": {"format": 3}})", ""),
                  {"bad.safetensors", "__metadata__", "'format'", "must be a string"});
  expect_contains(open_error(R"({"__metadata__": []})", ""), {"'__metadata__' must be an object"});
}

TEST(SafetensorsErrors, TruncatedFile) {
  test::TempDir dir;
  auto good = dir.path() / "good.safetensors";
  write_safetensors(good, {tensor_from_f32("a", DType::F32, {4}, {1, 2, 3, 4}),
                           tensor_from_f32("b", DType::F32, {4}, {5, 6, 7, 8})});
  std::string raw = test::read_file(good);
  auto cut = dir.write("cut.safetensors", raw.substr(0, raw.size() - 3));
  expect_contains(error_message([&] { TensorStore::open(cut); }),
                  {cut.string(), "tensor 'b'", "past the end of the data section"});
}

class ShardedErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    write_sharded_safetensors(dir_.path(), {tensor_from_f32("a", DType::F32, {4}, {1, 2, 3, 4}),
                                            tensor_from_f32("b", DType::F32, {4}, {5, 6, 7, 8})},
                              16);
    index_ = dir_.path() / "model.safetensors.index.json";
  }
  std::string open_with_index(const std::string& text) {
    dir_.write("model.safetensors.index.json", text);
    return error_message([&] { TensorStore::open(dir_.path()); });
  }
  test::TempDir dir_;
  std::filesystem::path index_;
};

TEST_F(ShardedErrors, TheWrittenIndexOpens) { EXPECT_EQ(TensorStore::open(dir_.path()).size(), 2u); }

TEST_F(ShardedErrors, WeightMapMissing) {
  expect_contains(open_with_index(R"({"metadata": {"total_size": 32}})"), {index_.string(), "missing 'weight_map'"});
  expect_contains(open_with_index(R"({"weight_map": {"a": 3}})"), {index_.string(), "weight_map['a']", "shard file"});
  expect_contains(open_with_index("{oops"), {index_.string(), "index is not valid JSON"});
}

TEST_F(ShardedErrors, ShardFileMissing) {
  std::filesystem::remove(dir_.path() / "model-00002-of-00002.safetensors");
  expect_contains(error_message([&] { TensorStore::open(dir_.path()); }),
                  {index_.string(), "shard 'model-00002-of-00002.safetensors'", "tensor 'b'", "does not exist"});
}

TEST_F(ShardedErrors, TensorListedButAbsentFromItsShard) {
  std::string msg = open_with_index(
      R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}})");
  expect_contains(msg, {index_.string(), "tensor 'c'", "model-00001-of-00002.safetensors", "does not contain it"});
}

TEST_F(ShardedErrors, CorruptShardIsNamed) {
  auto shard = dir_.write("model-00002-of-00002.safetensors", "junk");
  expect_contains(error_message([&] { TensorStore::open(index_); }), {shard.string(), "shorter than"});
}

}  // namespace
}  // namespace helix
