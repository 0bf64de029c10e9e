#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "helix/weights/safetensors_writer.h"
#include "helix/weights/tensor_store.h"
#include "support/test_support.h"
#include "weights_test_util.h"

namespace helix {
namespace {

using nlohmann::json;
using test::error_message;
using test::expect_contains;
using test::tensor_bytes;
using test::test_values;

struct Expected {
  std::string name;
  DType dtype;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

std::vector<Expected> sample_tensors() {
  return {
      {"model.embed_tokens.weight", DType::BF16, {6, 4}, test_values(24, 2.0f, 1)},
      {"model.layers.0.input_layernorm.weight", DType::F16, {5}, test_values(5, 1.0f, 2)},  // odd size
      {"model.layers.0.self_attn.q_proj.weight", DType::F32, {3, 4}, test_values(12, 0.5f, 3)},
      {"model.layers.0.mlp.up_proj.weight", DType::BF16, {2, 3, 4}, test_values(24, 3.0f, 4)},
      {"scalar", DType::F32, {}, {42.5f}},
      {"empty", DType::F16, {0, 4}, {}},
      {"lm_head.weight", DType::F16, {7, 3}, test_values(21, 8.0f, 5)},
  };
}

std::vector<TensorData> to_write(const std::vector<Expected>& expected) {
  std::vector<TensorData> out;
  for (const Expected& e : expected) out.push_back(tensor_from_f32(e.name, e.dtype, e.shape, e.values));
  return out;
}

std::string encoded(const Expected& e) {
  std::string bytes(dtype_row_bytes(e.dtype, static_cast<std::int64_t>(e.values.size())), '\0');
  convert_from_f32(e.dtype, e.values.data(), static_cast<std::int64_t>(e.values.size()),
                   reinterpret_cast<std::byte*>(bytes.data()));
  return bytes;
}

void expect_holds(const TensorStore& store, const std::vector<Expected>& expected) {
  ASSERT_EQ(store.size(), expected.size());
  for (const Expected& e : expected) {
    SCOPED_TRACE(e.name);
    ASSERT_TRUE(store.contains(e.name));
    const TensorRef& t = store.at(e.name);
    EXPECT_EQ(t.name, e.name);
    EXPECT_EQ(t.dtype, e.dtype);
    EXPECT_EQ(t.shape, e.shape);
    EXPECT_EQ(t.elements(), static_cast<std::int64_t>(e.values.size()));
    EXPECT_EQ(t.nbytes, dtype_row_bytes(e.dtype, t.elements()));
    EXPECT_EQ(tensor_bytes(t), encoded(e));
    std::vector<float> back(e.values.size());
    convert_to_f32(t.dtype, t.data, t.elements(), back.data());
    for (std::size_t i = 0; i < back.size(); ++i) {
      float want = e.dtype == DType::F32 ? e.values[i]
                   : e.dtype == DType::F16 ? f16_to_f32(f32_to_f16(e.values[i]))
                                           : bf16_to_f32(f32_to_bf16(e.values[i]));
      EXPECT_EQ(back[i], want) << i;
    }
  }
}

TEST(Safetensors, WriteThenReadRoundTrips) {
  test::TempDir dir;
  auto expected = sample_tensors();
  auto file = dir.path() / "model.safetensors";
  write_safetensors(file, to_write(expected), {{"format", "pt"}, {"note", "written by a test"}});

  TensorStore store = TensorStore::open(file);
  EXPECT_EQ(store.format(), "safetensors");
  EXPECT_EQ(store.metadata(), json({{"format", "pt"}, {"note", "written by a test"}}));
  EXPECT_EQ(store.file_bytes(), std::filesystem::file_size(file));
  EXPECT_EQ(store.names(), (std::vector<std::string>{"empty", "lm_head.weight", "model.embed_tokens.weight",
                                                     "model.layers.0.input_layernorm.weight",
                                                     "model.layers.0.mlp.up_proj.weight",
                                                     "model.layers.0.self_attn.q_proj.weight", "scalar"}));
  expect_holds(store, expected);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "model.safetensors.partial"));
}

TEST(Safetensors, HeaderIsPaddedOrderedAndPointersAreZeroCopy) {
  test::TempDir dir;
  auto expected = sample_tensors();
  auto file = dir.path() / "m.safetensors";
  write_safetensors(file, to_write(expected));
  std::string raw = test::read_file(file);
  std::uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u) << "data section must start 8-byte aligned";
  std::string header = raw.substr(8, n);
  json parsed = json::parse(header);
  EXPECT_FALSE(parsed.contains("__metadata__"));  // none given
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));  // padding is spaces after the JSON
  // Tensors appear in the given order, packed back to back.
  std::size_t last_pos = 0;
  std::uint64_t next_offset = 0;
  for (const Expected& e : expected) {
    std::size_t pos = header.find("\"" + e.name + "\"");
    ASSERT_NE(pos, std::string::npos);
    EXPECT_GT(pos, last_pos);
    last_pos = pos;
    EXPECT_EQ(parsed[e.name]["data_offsets"][0].get<std::uint64_t>(), next_offset);
    next_offset = parsed[e.name]["data_offsets"][1].get<std::uint64_t>();
  }
  EXPECT_EQ(8 + n + next_offset, raw.size());

  TensorStore store = TensorStore::open(file);
  const std::byte* base = store.files().at(0)->data();
  for (const Expected& e : expected) {
    const TensorRef& t = store.at(e.name);
    EXPECT_EQ(t.data, base + 8 + n + parsed[e.name]["data_offsets"][0].get<std::uint64_t>()) << e.name;
    EXPECT_EQ(t.source, file.string());
  }
}

TEST(Safetensors, WriterRefusesWhatSafetensorsCannotHold) {
  test::TempDir dir;
  auto file = dir.path() / "x.safetensors";
  auto q8 = tensor_from_f32("w", DType::Q8_0, {1, 32}, std::vector<float>(32, 1.0f));
  expect_contains(error_message([&] { write_safetensors(file, {q8}); }), {"x.safetensors", "'w'", "Q8_0"});
  auto a = tensor_from_f32("a", DType::F32, {1}, {1.0f});
  expect_contains(error_message([&] { write_safetensors(file, {a, a}); }), {"'a'", "twice"});
  auto meta = tensor_from_f32("__metadata__", DType::F32, {1}, {1.0f});
  expect_contains(error_message([&] { write_safetensors(file, {meta}); }), {"__metadata__", "reserved"});
  expect_contains(error_message([&] { tensor_from_f32("b", DType::F32, {2, 3}, {1.0f}); }),
                  {"'b'", "[2, 3]", "6 values", "got 1"});
  expect_contains(error_message([&] { tensor_from_f32("c", DType::F32, {-2, 3}, {}); }), {"'c'", "negative"});
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST(Safetensors, FailingFillLeavesNoFile) {
  test::TempDir dir;
  auto file = dir.path() / "x.safetensors";
  TensorData bad{"bad", DType::F32, {4}, [](std::span<std::byte>) { fail("no data for this tensor"); }};
  auto good = tensor_from_f32("good", DType::F32, {1}, {1.0f});
  expect_contains(error_message([&] { write_safetensors(file, {good, bad}); }),
                  {"x.safetensors", "tensor 'bad'", "no data"});
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "x.safetensors.partial"));
  expect_contains(error_message([&] { write_safetensors(dir.path() / "no" / "dir.safetensors", {good}); }),
                  {"dir.safetensors.partial", "cannot open for writing", "No such file"});
}

TEST(Safetensors, FillSeesAZeroedBufferOfTheTensorSize) {
  test::TempDir dir;
  std::size_t seen = 0;
  TensorData t{"t", DType::BF16, {3, 5}, [&seen](std::span<std::byte> out) {
                 seen = out.size();
                 for (std::byte b : out) ASSERT_EQ(b, std::byte{0});
                 out[0] = std::byte{0x80};
                 out[1] = std::byte{0x3F};  // 1.0 in bf16
               }};
  write_safetensors(dir.path() / "t.safetensors", {t});
  EXPECT_EQ(seen, 30u);
  TensorStore store = TensorStore::open(dir.path() / "t.safetensors");
  float first = 0;
  convert_to_f32(DType::BF16, store.at("t").data, 1, &first);
  EXPECT_EQ(first, 1.0f);
}

TEST(ShardedSafetensors, ShardsIndexAndSameTensorsAsOneFile) {
  test::TempDir dir;
  auto expected = sample_tensors();
  // Sizes in order: 48, 10, 48, 48, 4, 0, 42 bytes. With a 60-byte limit:
  // [48 10] [48] [48 4 0] [42].
  write_sharded_safetensors(dir.path() / "sharded", to_write(expected), 60, {{"format", "pt"}});
  write_safetensors(dir.path() / "single.safetensors", to_write(expected), {{"format", "pt"}});

  std::vector<std::vector<std::string>> shards = {
      {"model.embed_tokens.weight", "model.layers.0.input_layernorm.weight"},
      {"model.layers.0.self_attn.q_proj.weight"},
      {"model.layers.0.mlp.up_proj.weight", "scalar", "empty"},
      {"lm_head.weight"}};
  json index = json::parse(test::read_file(dir.path() / "sharded" / "model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"].get<std::uint64_t>(), 48u + 10 + 48 + 48 + 4 + 0 + 42);
  ASSERT_EQ(index["weight_map"].size(), expected.size());
  for (std::size_t s = 0; s < shards.size(); ++s) {
    std::string shard_name = fmt::format("model-{:05d}-of-00004.safetensors", s + 1);
    EXPECT_EQ(safetensors_shard_name(s, 4), shard_name);
    auto shard = dir.path() / "sharded" / shard_name;
    ASSERT_TRUE(std::filesystem::exists(shard)) << shard_name;
    TensorStore one = TensorStore::open(shard);
    auto names = shards[s];
    std::sort(names.begin(), names.end());
    EXPECT_EQ(one.names(), names) << shard_name;
    for (const std::string& name : shards[s]) EXPECT_EQ(index["weight_map"][name], shard_name);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "sharded" / "model-00005-of-00004.safetensors"));

  TensorStore single = TensorStore::open(dir.path() / "single.safetensors");
  for (const auto& path : {dir.path() / "sharded", dir.path() / "sharded" / "model.safetensors.index.json"}) {
    TensorStore sharded = TensorStore::open(path);
    EXPECT_EQ(sharded.format(), "safetensors");
    EXPECT_EQ(sharded.files().size(), 4u);
    EXPECT_EQ(sharded.names(), single.names());
    EXPECT_EQ(sharded.metadata(), single.metadata());
    for (const std::string& name : single.names()) {
      const TensorRef& a = single.at(name);
      const TensorRef& b = sharded.at(name);
      EXPECT_EQ(a.dtype, b.dtype) << name;
      EXPECT_EQ(a.shape, b.shape) << name;
      EXPECT_EQ(tensor_bytes(a), tensor_bytes(b)) << name;
    }
    expect_holds(sharded, expected);
  }
}

TEST(ShardedSafetensors, ATensorOverTheLimitGetsItsOwnShard) {
  test::TempDir dir;
  std::vector<TensorData> tensors = {tensor_from_f32("small1", DType::F32, {2}, {1, 2}),
                                     tensor_from_f32("big", DType::F32, {100}, test_values(100, 1.0f)),
                                     tensor_from_f32("small2", DType::F32, {2}, {3, 4}),
                                     tensor_from_f32("small3", DType::F32, {2}, {5, 6})};
  write_sharded_safetensors(dir.path(), tensors, 20);
  json index = json::parse(test::read_file(dir.path() / "model.safetensors.index.json"));
  EXPECT_EQ(index["weight_map"]["small1"], "model-00001-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["big"], "model-00002-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["small2"], "model-00003-of-00003.safetensors");
  EXPECT_EQ(index["weight_map"]["small3"], "model-00003-of-00003.safetensors");
  EXPECT_EQ(TensorStore::open(dir.path()).size(), 4u);
  expect_contains(error_message([&] { write_sharded_safetensors(dir.path() / "z", tensors, 0); }),
                  {"max_shard_bytes"});
}

}  // namespace
}  // namespace helix
