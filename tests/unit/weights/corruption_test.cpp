// Robustness: every truncation and many single-byte corruptions of small valid files
// must either open (the change hit tensor data or padding) or throw helix::Error —
// never crash, hang, or throw anything else. Run under the sanitizers in CI.
#include <gtest/gtest.h>

#include <exception>

#include "helix/weights/gguf_writer.h"
#include "helix/weights/safetensors_writer.h"
#include "helix/weights/tensor_store.h"
#include "support/test_support.h"
#include "weights_test_util.h"

namespace helix {
namespace {

std::vector<TensorData> small_tensors() {
  return {tensor_from_f32("blk.0.w", DType::F32, {2, 4}, test::test_values(8, 1.0f)),
          tensor_from_f32("blk.0.q", DType::Q8_0, {1, 32}, test::test_values(32, 1.0f)),
          tensor_from_f32("norm", DType::F16, {3}, {1, 2, 3})};
}

// Opens `bytes` as `name`; returns "ok", "error", or a description of what went wrong.
std::string open_outcome(const test::TempDir& dir, const std::string& name, const std::string& bytes) {
  auto file = dir.write(name, bytes);
  try {
    TensorStore store = TensorStore::open(file);
    // What opened must be self-consistent: every tensor inside its file.
    for (const std::string& n : store.names()) {
      const TensorRef& t = store.at(n);
      const MappedFile& f = *store.files().at(0);
      if (t.data < f.data() || t.data + t.nbytes > f.data() + f.size()) return "tensor outside the file: " + n;
      if (t.nbytes != dtype_row_bytes(t.dtype, t.elements())) return "wrong byte count: " + n;
    }
    return "ok";
  } catch (const Error&) {
    return "error";
  } catch (const std::exception& e) {
    return std::string("non-helix exception: ") + e.what();
  }
}

void check_corruptions(const std::string& name, const std::string& good, std::size_t header_end) {
  test::TempDir dir;
  ASSERT_EQ(open_outcome(dir, name, good), "ok");
  for (std::size_t length = 0; length < good.size(); ++length) {
    std::string outcome = open_outcome(dir, name, good.substr(0, length));
    ASSERT_TRUE(outcome == "ok" || outcome == "error") << "truncated to " << length << ": " << outcome;
    if (length < header_end) {
      EXPECT_EQ(outcome, "error") << "truncated to " << length;
    }
  }
  for (std::size_t at = 0; at < header_end; ++at) {
    for (int value : {0x00, 0x01, 0x7F, 0xFF, 0x80}) {
      std::string bad = good;
      bad[at] = static_cast<char>(value);
      std::string outcome = open_outcome(dir, name, bad);
      ASSERT_TRUE(outcome == "ok" || outcome == "error") << "byte " << at << " = " << value << ": " << outcome;
    }
  }
}

TEST(Corruption, SafetensorsNeverCrashes) {
  test::TempDir dir;
  write_safetensors(dir.path() / "g.safetensors",
                    {tensor_from_f32("w", DType::F32, {2, 4}, test::test_values(8, 1.0f)),
                     tensor_from_f32("b", DType::BF16, {3}, {1, 2, 3})},
                    {{"format", "pt"}});
  std::string good = test::read_file(dir.path() / "g.safetensors");
  std::uint64_t n = 0;
  std::memcpy(&n, good.data(), 8);
  check_corruptions("c.safetensors", good, 8 + n);
}

TEST(Corruption, GgufNeverCrashes) {
  test::TempDir dir;
  write_gguf(dir.path() / "g.gguf",
             {{"general.architecture", std::string("llama")},
              {"llama.block_count", 1u},
              {"tokenizer.ggml.tokens", std::vector<std::string>{"a", "b"}},
              {"tokenizer.ggml.scores", std::vector<float>{0.5f, -1.0f}}},
             small_tensors());
  std::string good = test::read_file(dir.path() / "g.gguf");
  // The header ends where the first tensor's data begins (the file's size minus the data).
  TensorStore store = TensorStore::open(dir.path() / "g.gguf");
  auto header_end = static_cast<std::size_t>(store.at("blk.0.w").data - store.files()[0]->data());
  ASSERT_LT(header_end, good.size());
  check_corruptions("c.gguf", good, header_end);
}

}  // namespace
}  // namespace helix
