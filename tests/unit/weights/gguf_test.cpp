#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "helix/weights/gguf_writer.h"
#include "helix/weights/tensor_store.h"
#include "support/test_support.h"
#include "weights_test_util.h"

namespace helix {
namespace {

using nlohmann::json;
using test::error_message;
using test::expect_contains;
using test::gguf_string;
using test::le_u32;
using test::le_u64;
using test::tensor_bytes;
using test::test_values;

std::vector<GgufEntry> every_type() {
  return {
      {"general.architecture", std::string("llama")},
      {"t.u8", std::uint8_t{200}},
      {"t.i8", std::int8_t{-100}},
      {"t.u16", std::uint16_t{60000}},
      {"t.i16", std::int16_t{-30000}},
      {"t.u32", 4000000000u},
      {"t.i32", -2000000000},
      {"t.f32", 0.1f},
      {"t.bool_true", true},
      {"t.bool_false", false},
      {"t.u64", std::uint64_t{1} << 40},
      {"t.i64", std::int64_t{-1} << 40},
      {"t.f64", 0.1},
      {"t.empty_string", std::string()},
      {"t.strings", std::vector<std::string>{"<s>", "</s>", "hello world"}},
      {"t.floats", std::vector<float>{-1.5f, 0.25f, 3.0e-5f}},
      {"t.i32s", std::vector<std::int32_t>{1, -2, 3}},
      {"t.u32s", std::vector<std::uint32_t>{7, 4000000000u}},
      {"t.i64s", std::vector<std::int64_t>{-(std::int64_t{1} << 50)}},
      {"t.no_floats", std::vector<float>{}},
  };
}

json every_type_json() {
  return {{"general.architecture", "llama"},
          {"t.u8", 200},
          {"t.i8", -100},
          {"t.u16", 60000},
          {"t.i16", -30000},
          {"t.u32", 4000000000u},
          {"t.i32", -2000000000},
          {"t.f32", static_cast<double>(0.1f)},
          {"t.bool_true", true},
          {"t.bool_false", false},
          {"t.u64", std::uint64_t{1} << 40},
          {"t.i64", std::int64_t{-1} << 40},
          {"t.f64", 0.1},
          {"t.empty_string", ""},
          {"t.strings", {"<s>", "</s>", "hello world"}},
          {"t.floats", {-1.5, 0.25, static_cast<double>(3.0e-5f)}},
          {"t.i32s", {1, -2, 3}},
          {"t.u32s", {7, 4000000000u}},
          {"t.i64s", {-(std::int64_t{1} << 50)}},
          {"t.no_floats", json::array()}};
}

std::string encoded(DType dtype, const std::vector<float>& values) {
  std::string bytes(dtype_row_bytes(dtype, static_cast<std::int64_t>(values.size())), '\0');
  convert_from_f32(dtype, values.data(), static_cast<std::int64_t>(values.size()),
                   reinterpret_cast<std::byte*>(bytes.data()));
  return bytes;
}

TEST(Gguf, MetadataTypesRoundTripAsJson) {
  test::TempDir dir;
  auto file = dir.path() / "m.gguf";
  write_gguf(file, every_type(), {});
  TensorStore store = TensorStore::open(file);
  EXPECT_EQ(store.format(), "gguf");
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.metadata(), every_type_json()) << store.metadata().dump();
  EXPECT_TRUE(store.metadata()["t.u64"].is_number_unsigned());
  EXPECT_TRUE(store.metadata()["t.bool_true"].is_boolean());
}

TEST(Gguf, WritesTypedValuesAsTheSpecSays) {
  test::TempDir dir;
  auto file = dir.path() / "m.gguf";
  write_gguf(file, {{"a", 7u}, {"b", std::vector<std::string>{"x"}}}, {});
  std::string expected = std::string("GGUF") + le_u32(3) + le_u64(0) + le_u64(2) +  // magic, version, counts
                         gguf_string("a") + le_u32(4) + le_u32(7) +                  // UINT32
                         gguf_string("b") + le_u32(9) + le_u32(8) + le_u64(1) + gguf_string("x");  // ARRAY of STRING
  std::string raw = test::read_file(file);
  EXPECT_EQ(raw.substr(0, expected.size()), expected);
  EXPECT_EQ(raw.size() % 32, 0u);
}

TEST(Gguf, TensorsRoundTripWithShapesReversed) {
  test::TempDir dir;
  auto file = dir.path() / "m.gguf";
  auto w = test_values(4 * 64, 2.0f, 1);
  auto q = test_values(3 * 64, 5.0f, 2);
  auto h = test_values(5, 1.0f, 3);
  auto b = test_values(2 * 3 * 4 * 5, 1.0f, 4);
  write_gguf(file, {{"general.architecture", std::string("llama")}},
             {tensor_from_f32("blk.0.attn_q.weight", DType::F32, {4, 64}, w),
              tensor_from_f32("blk.0.ffn_up.weight", DType::Q8_0, {3, 64}, q),
              tensor_from_f32("blk.0.attn_norm.weight", DType::F16, {5}, h),
              tensor_from_f32("token_embd.weight", DType::BF16, {2, 3, 4, 5}, b)});
  std::string raw = test::read_file(file);
  // On disk ne[] is innermost first: {4, 64} is written as 2 dims, 64 then 4, type F32 = 0.
  EXPECT_NE(raw.find(gguf_string("blk.0.attn_q.weight") + le_u32(2) + le_u64(64) + le_u64(4) + le_u32(0)),
            std::string::npos);
  EXPECT_NE(raw.find(gguf_string("blk.0.ffn_up.weight") + le_u32(2) + le_u64(64) + le_u64(3) + le_u32(8)),
            std::string::npos);
  EXPECT_NE(raw.find(gguf_string("token_embd.weight") + le_u32(4) + le_u64(5) + le_u64(4) + le_u64(3) + le_u64(2) +
                     le_u32(30)),
            std::string::npos);

  TensorStore store = TensorStore::open(file);
  const TensorRef& tw = store.at("blk.0.attn_q.weight");
  EXPECT_EQ(tw.shape, (std::vector<std::int64_t>{4, 64}));
  EXPECT_EQ(tw.dtype, DType::F32);
  EXPECT_EQ(tensor_bytes(tw), encoded(DType::F32, w));
  const TensorRef& tq = store.at("blk.0.ffn_up.weight");
  EXPECT_EQ(tq.shape, (std::vector<std::int64_t>{3, 64}));
  EXPECT_EQ(tq.dtype, DType::Q8_0);
  EXPECT_EQ(tq.nbytes, 3u * 2 * sizeof(BlockQ8_0));
  EXPECT_EQ(tensor_bytes(tq), encoded(DType::Q8_0, q));  // Q8_0 bytes exact
  const TensorRef& th = store.at("blk.0.attn_norm.weight");
  EXPECT_EQ(th.shape, (std::vector<std::int64_t>{5}));
  EXPECT_EQ(tensor_bytes(th), encoded(DType::F16, h));
  const TensorRef& tb = store.at("token_embd.weight");
  EXPECT_EQ(tb.shape, (std::vector<std::int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(tensor_bytes(tb), encoded(DType::BF16, b));
  EXPECT_EQ(store.file_bytes(), raw.size());
}

TEST(Gguf, HandMadeQ8BlocksAreStoredVerbatim) {
  test::TempDir dir;
  std::vector<std::byte> blocks(2 * sizeof(BlockQ8_0));
  for (std::size_t i = 0; i < blocks.size(); ++i) blocks[i] = static_cast<std::byte>(i * 7 + 1);
  write_gguf(dir.path() / "q.gguf", {}, {tensor_from_bytes("q", DType::Q8_0, {1, 64}, blocks)});
  TensorStore store = TensorStore::open(dir.path() / "q.gguf");
  EXPECT_EQ(tensor_bytes(store.at("q")), test::bytes_text(blocks));
}

void expect_aligned(const std::filesystem::path& file, std::size_t alignment) {
  TensorStore store = TensorStore::open(file);
  const std::byte* base = store.files().at(0)->data();
  for (const std::string& name : store.names()) {
    const TensorRef& t = store.at(name);
    EXPECT_EQ(static_cast<std::size_t>(t.data - base) % alignment, 0u) << name;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data) % alignment, 0u) << name;
  }
}

std::vector<TensorData> odd_sized_tensors() {
  return {tensor_from_f32("a", DType::F16, {3}, {1, 2, 3}), tensor_from_f32("b", DType::F32, {5}, {1, 2, 3, 4, 5}),
          tensor_from_f32("c", DType::Q8_0, {32}, test_values(32, 1.0f)),
          tensor_from_f32("d", DType::BF16, {1}, {7})};
}

TEST(Gguf, DataIsAlignedToTheDefault32) {
  test::TempDir dir;
  write_gguf(dir.path() / "a.gguf", {{"k", std::string("an odd-length value")}}, odd_sized_tensors());
  expect_aligned(dir.path() / "a.gguf", 32);
  EXPECT_FALSE(TensorStore::open(dir.path() / "a.gguf").metadata().contains("general.alignment"));
}

TEST(Gguf, CustomAlignmentIsHonoured) {
  test::TempDir dir;
  for (std::uint32_t alignment : {64u, 256u, 8u}) {
    auto file = dir.path() / fmt::format("a{}.gguf", alignment);
    write_gguf(file, {{"general.alignment", alignment}}, odd_sized_tensors());
    expect_aligned(file, alignment);
    TensorStore store = TensorStore::open(file);
    EXPECT_EQ(store.metadata()["general.alignment"], alignment);
    EXPECT_EQ(tensor_bytes(store.at("b")), encoded(DType::F32, {1, 2, 3, 4, 5}));
  }
}

TEST(Gguf, WriterRefusesWhatGgufCannotHold) {
  test::TempDir dir;
  auto file = dir.path() / "x.gguf";
  // 512 elements (a multiple of 32) but an innermost dimension of 16.
  auto q = tensor_from_f32("q", DType::Q8_0, {32, 16}, std::vector<float>(512, 1.0f));
  expect_contains(error_message([&] { write_gguf(file, {}, {q}); }), {"x.gguf", "tensor 'q'", "innermost", "32"});
  auto five = tensor_from_f32("five", DType::F32, {1, 1, 1, 1, 1}, {1.0f});
  expect_contains(error_message([&] { write_gguf(file, {}, {five}); }), {"tensor 'five'", "at most 4 dimensions"});
  auto long_name = tensor_from_f32(std::string(64, 'n'), DType::F32, {1}, {1.0f});
  expect_contains(error_message([&] { write_gguf(file, {}, {long_name}); }), {"longer than ggml's 63 bytes"});
  expect_contains(error_message([&] { write_gguf(file, {{"general.alignment", 32}}, {}); }),
                  {"general.alignment", "UINT32 power of two"});
  expect_contains(error_message([&] { write_gguf(file, {{"general.alignment", 48u}}, {}); }),
                  {"general.alignment", "power of two"});
  expect_contains(error_message([&] { write_gguf(file, {{"k", 1u}, {"k", 2u}}, {}); }), {"'k'", "twice"});
  auto a = tensor_from_f32("a", DType::F32, {1}, {1.0f});
  expect_contains(error_message([&] { write_gguf(file, {}, {a, a}); }), {"tensor 'a'", "twice"});
  EXPECT_FALSE(std::filesystem::exists(file));
}

}  // namespace
}  // namespace helix
