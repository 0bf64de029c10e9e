// Reading GGUF files (llama.cpp's format, v2 and v3) into a TensorStore.
//
// Every key/value becomes JSON metadata (integers and floats as numbers, bools,
// strings, arrays as JSON arrays — the GGUF value types themselves are not kept).
// Strings are kept byte for byte and need not be valid UTF-8: dump() such metadata
// with nlohmann::json::error_handler_t::replace.
// Tensors of type F32, F16, Q8_0 and BF16 are supported; any other ggml type is an
// Error naming the tensor and the type number. Shapes are reversed from GGUF's
// innermost-first ne[] to outermost first. The alignment is general.alignment (a power
// of two; default 32); every tensor offset must be a multiple of it, and its data must
// lie inside the file. Counts, lengths and dimension products are checked before use.
#pragma once

#include <filesystem>

#include "helix/weights/tensor_store.h"

namespace helix {

TensorStore open_gguf(const std::filesystem::path& file);

}  // namespace helix
