// Writing GGUF v3 files (llama.cpp's format) with typed metadata.
//
// GGUF metadata values are typed (llama.cpp reads e.g. llama.context_length as UINT32
// and tokenizer.ggml.scores as an ARRAY of FLOAT32), so an entry carries its type in
// a std::variant: the alternative chosen is the type written. Integer literals pick
// int32 (`7`) or uint32 (`7u`); write std::uint64_t{7} etc. for the others.
//
// Layout as in gguf_format.h; the alignment is the entry "general.alignment" if given
// (it must be a UINT32 power of two), else 32. Tensor infos list ne[] innermost first
// (the reverse of TensorData::shape); each tensor's data starts at a multiple of the
// alignment, zero padding in between. Q8_0 needs the innermost dimension to be a
// multiple of 32, and ggml limits tensor names to 63 bytes. Written under
// "<file>.partial" and renamed when complete.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "helix/weights/tensor_data.h"

namespace helix {

// A value copied verbatim from another GGUF file: its type and its encoded bytes
// (what follows the type field), so a rewritten file keeps every type exactly.
struct GgufRawValue {
  std::uint32_t type = 0;
  std::string bytes;
};

using GgufValue = std::variant<std::uint8_t, std::int8_t, std::uint16_t, std::int16_t, std::uint32_t, std::int32_t,
                               float, bool, std::string, std::uint64_t, std::int64_t, double,
                               std::vector<std::string>, std::vector<float>, std::vector<std::int32_t>,
                               std::vector<std::uint32_t>, std::vector<std::int64_t>, GgufRawValue>;

struct GgufEntry {
  std::string key;
  GgufValue value;
};

void write_gguf(const std::filesystem::path& file, const std::vector<GgufEntry>& metadata,
                const std::vector<TensorData>& tensors);

}  // namespace helix
