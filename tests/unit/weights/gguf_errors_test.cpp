// Hand-made and hand-corrupted GGUF files: each must give an Error that names the file
// and the field, key or tensor at fault.
#include <gtest/gtest.h>

#include "helix/weights/gguf_writer.h"
#include "helix/weights/tensor_store.h"
#include "support/test_support.h"
#include "weights_test_util.h"

namespace helix {
namespace {

using test::error_message;
using test::expect_contains;
using test::gguf_string;
using test::le_u32;
using test::le_u64;

// Raw GGUF bytes assembled field by field, so that any field can be made wrong.
struct RawGguf {
  std::string magic = "GGUF";
  std::uint32_t version = 3;
  std::uint64_t kv_count = 0;
  std::string kvs;
  std::uint64_t tensor_count = 0;
  std::string infos;
  std::string data;
  std::size_t alignment = 32;

  RawGguf& kv(const std::string& key, std::uint32_t type, const std::string& value) {
    kvs += gguf_string(key) + le_u32(type) + value;
    ++kv_count;
    return *this;
  }
  RawGguf& tensor(const std::string& name, std::vector<std::uint64_t> ne, std::uint32_t type, std::uint64_t offset) {
    infos += gguf_string(name) + le_u32(static_cast<std::uint32_t>(ne.size()));
    for (std::uint64_t d : ne) infos += le_u64(d);
    infos += le_u32(type) + le_u64(offset);
    ++tensor_count;
    return *this;
  }
  std::string bytes() const {
    std::string out = magic + le_u32(version) + le_u64(tensor_count) + le_u64(kv_count) + kvs + infos;
    out.resize((out.size() + alignment - 1) / alignment * alignment, '\0');
    return out + data;
  }
};

std::string open_error(const RawGguf& raw, std::string* path = nullptr) {
  test::TempDir dir;
  auto file = dir.write("bad.gguf", raw.bytes());
  if (path != nullptr) *path = file.string();
  return error_message([&] { TensorStore::open(file); });
}

// A file with one F32 tensor {2, 4} (ne 4, 2): 32 bytes of data.
RawGguf one_tensor() {
  RawGguf raw;
  raw.kv("general.architecture", 8, gguf_string("llama"));
  raw.tensor("w", {4, 2}, 0, 0);
  raw.data = std::string(32, '\1');
  return raw;
}

TEST(GgufErrors, TheHandMadeFileIsValid) {
  test::TempDir dir;
  auto file = dir.write("ok.gguf", one_tensor().bytes());
  TensorStore store = TensorStore::open(file);
  EXPECT_EQ(store.at("w").shape, (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(store.metadata()["general.architecture"], "llama");
  RawGguf v2 = one_tensor();
  v2.version = 2;
  auto file2 = dir.write("v2.gguf", v2.bytes());
  EXPECT_EQ(TensorStore::open(file2).at("w").nbytes, 32u);
}

TEST(GgufErrors, BadMagic) {
  RawGguf raw = one_tensor();
  raw.magic = "GGUX";
  std::string path;
  expect_contains(open_error(raw, &path), {"bad.gguf", "bad magic", "not a GGUF file"});
  test::TempDir dir;
  auto tiny = dir.write("tiny.gguf", "GG");
  expect_contains(error_message([&] { TensorStore::open(tiny); }), {tiny.string(), "bad magic"});
}

TEST(GgufErrors, UnsupportedVersions) {
  RawGguf raw = one_tensor();
  raw.version = 1;
  expect_contains(open_error(raw), {"bad.gguf", "version 1 is not supported", "32-bit counts"});
  raw.version = 4;
  expect_contains(open_error(raw), {"bad.gguf", "unsupported GGUF version 4", "supported: 2, 3"});
  raw.version = 0x03000000;
  expect_contains(open_error(raw), {"big-endian"});
}

TEST(GgufErrors, TruncatedMetadata) {
  RawGguf raw;
  raw.kvs = gguf_string("general.name") + le_u32(8) + le_u64(1000) + "short";  // string length past the end
  raw.kv_count = 1;
  expect_contains(open_error(raw), {"bad.gguf", "truncated", "key 'general.name'", "needs 1000 bytes"});
  RawGguf key;
  key.kvs = le_u64(5000) + "abc";
  key.kv_count = 1;
  expect_contains(open_error(key), {"bad.gguf", "truncated", "the key of key/value #0"});
  RawGguf counts;
  counts.kv_count = 3;  // none present (the padding is read as an empty key and type 0...)
  expect_contains(open_error(counts), {"bad.gguf", "truncated"});
  // An array whose count cannot fit in the bytes left.
  RawGguf array;
  array.kv("tokenizer.ggml.tokens", 9, le_u32(8) + le_u64(std::uint64_t{1} << 60));
  expect_contains(open_error(array), {"bad.gguf", "key 'tokenizer.ggml.tokens'", "array of 1152921504606846976",
                                      "STRING", "bytes left"});
  RawGguf element;
  element.kv("tokenizer.ggml.tokens", 9, le_u32(8) + le_u64(3) + gguf_string("a") + le_u64(999) + "b");
  expect_contains(open_error(element), {"bad.gguf", "truncated", "key 'tokenizer.ggml.tokens' array element",
                                        "needs 999 bytes", "(element 1 of 3)"});
  // Cut inside the tensor infos.
  RawGguf infos = one_tensor();
  std::string bytes = infos.bytes();
  test::TempDir dir;
  std::size_t cut = 4 + 4 + 16 + gguf_string("general.architecture").size() + 4 + gguf_string("llama").size() + 10;
  auto file = dir.write("cut.gguf", bytes.substr(0, cut));
  expect_contains(error_message([&] { TensorStore::open(file); }), {file.string(), "truncated", "tensor 'w'"});
}

TEST(GgufErrors, UnknownValueTypes) {
  RawGguf raw;
  raw.kv("general.weird", 13, le_u32(0));
  expect_contains(open_error(raw), {"bad.gguf", "key 'general.weird'", "unknown value type 13"});
  RawGguf array;
  array.kv("general.list", 9, le_u32(42) + le_u64(1));
  expect_contains(open_error(array), {"bad.gguf", "key 'general.list'", "unknown array element type 42"});
  RawGguf boolean;
  boolean.kv("general.flag", 7, std::string(1, '\2'));
  expect_contains(open_error(boolean), {"key 'general.flag'", "BOOL must be 0 or 1"});
  RawGguf twice;
  twice.kv("a", 4, le_u32(1)).kv("a", 4, le_u32(2));
  expect_contains(open_error(twice), {"key 'a'", "twice"});
}

TEST(GgufErrors, NestedArraysReadAndAreBounded) {
  RawGguf raw;
  raw.kv("nested", 9, le_u32(9) + le_u64(2) + le_u32(5) + le_u64(1) + le_u32(7) + le_u32(4) + le_u64(0));
  test::TempDir dir;
  auto file = dir.write("n.gguf", raw.bytes());
  EXPECT_EQ(TensorStore::open(file).metadata()["nested"], nlohmann::json::parse("[[7], []]"));
  std::string deep = le_u32(9) + le_u64(1);
  std::string value;
  for (int i = 0; i < 20; ++i) value += deep;
  RawGguf too_deep;
  too_deep.kv("deep", 9, value + le_u32(4) + le_u64(0));
  expect_contains(open_error(too_deep), {"key 'deep'", "nested more than"});
}

TEST(GgufErrors, UnsupportedTensorTypes) {
  RawGguf raw = one_tensor();
  raw.infos.clear();
  raw.tensor_count = 0;
  raw.tensor("blk.0.attn_q.weight", {4, 2}, 10, 0);
  expect_contains(open_error(raw), {"bad.gguf", "tensor 'blk.0.attn_q.weight'", "unsupported ggml type 10 (Q2_K)",
                                    "F32=0, F16=1, Q4_0=2"});
  // A supported block type whose rows are not whole blocks.
  raw.infos.clear();
  raw.tensor_count = 0;
  raw.tensor("blk.0.attn_q.weight", {4, 2}, 2, 0);
  expect_contains(open_error(raw), {"tensor 'blk.0.attn_q.weight'", "Q4_0 needs ne[0]", "multiple of 32, got 4"});
  raw.infos.clear();
  raw.tensor_count = 0;
  raw.tensor("w", {4, 2}, 99, 0);
  expect_contains(open_error(raw), {"tensor 'w'", "unsupported ggml type 99"});
}

TEST(GgufErrors, TensorDataPastTheEnd) {
  RawGguf raw = one_tensor();
  raw.data.resize(31);
  expect_contains(open_error(raw), {"bad.gguf", "tensor 'w'", "goes past the end of the file"});
  RawGguf far = one_tensor();
  far.infos.clear();
  far.tensor_count = 0;
  far.tensor("w", {4, 2}, 0, std::uint64_t{1} << 63);
  expect_contains(open_error(far), {"tensor 'w'", "goes past the end of the file"});

  // A file from the writer, cut inside the last tensor.
  test::TempDir dir;
  auto good = dir.path() / "good.gguf";
  write_gguf(good, {}, {tensor_from_f32("a", DType::F32, {64}, std::vector<float>(64, 1.0f)),
                        tensor_from_f32("b", DType::F32, {64}, std::vector<float>(64, 2.0f))});
  std::string bytes = test::read_file(good);
  auto cut = dir.write("cut.gguf", bytes.substr(0, bytes.size() - 100));
  expect_contains(error_message([&] { TensorStore::open(cut); }), {cut.string(), "tensor 'b'", "past the end"});
}

TEST(GgufErrors, Alignment) {
  RawGguf raw = one_tensor();
  raw.infos.clear();
  raw.tensor_count = 0;
  raw.tensor("w", {4, 2}, 0, 16);
  raw.data = std::string(64, '\0');
  expect_contains(open_error(raw), {"bad.gguf", "tensor 'w'", "offset 16", "not a multiple of the alignment 32"});

  RawGguf custom = raw;  // with general.alignment = 16 the same offset is fine
  custom.kv("general.alignment", 4, le_u32(16));
  custom.alignment = 16;
  test::TempDir dir;
  auto file = dir.write("a16.gguf", custom.bytes());
  TensorStore store = TensorStore::open(file);
  EXPECT_EQ(static_cast<std::size_t>(store.at("w").data - store.files()[0]->data()) % 16, 0u);

  RawGguf odd = one_tensor();
  odd.kv("general.alignment", 4, le_u32(24));
  expect_contains(open_error(odd), {"bad.gguf", "general.alignment", "power of two", "24"});
  RawGguf zero = one_tensor();
  zero.kv("general.alignment", 4, le_u32(0));
  expect_contains(open_error(zero), {"general.alignment", "positive integer"});
  RawGguf text = one_tensor();
  text.kv("general.alignment", 8, gguf_string("32"));
  expect_contains(open_error(text), {"general.alignment", "positive integer"});
}

TEST(GgufErrors, BadDimensions) {
  RawGguf five;
  five.tensor("w", {1, 1, 1, 1, 1}, 0, 0);
  expect_contains(open_error(five), {"bad.gguf", "tensor 'w'", "n_dims is 5", "more than 4"});
  RawGguf q8;
  q8.tensor("q", {16, 2}, 8, 0);
  q8.data = std::string(68, '\0');
  expect_contains(open_error(q8), {"bad.gguf", "tensor 'q'", "Q8_0", "ne[0]", "multiple of 32", "16"});
  RawGguf absurd;
  absurd.tensor("w", {std::uint64_t{1} << 32, std::uint64_t{1} << 32, std::uint64_t{1} << 32}, 0, 0);
  expect_contains(open_error(absurd), {"bad.gguf", "tensor 'w'", "more elements than fit in 64 bits"});
  RawGguf bytes;
  bytes.tensor("w", {std::uint64_t{1} << 62}, 0, 0);  // 2^62 F32 elements: 2^64 bytes
  expect_contains(open_error(bytes), {"tensor 'w'", "do not fit"});
  RawGguf huge;
  huge.tensor("w", {~std::uint64_t{0}}, 0, 0);
  expect_contains(open_error(huge), {"tensor 'w'", "ne[0]", "too large"});
  RawGguf twice;
  twice.tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32);
  twice.data = std::string(64, '\0');
  expect_contains(open_error(twice), {"tensor 'w'", "twice"});
}

}  // namespace
}  // namespace helix
