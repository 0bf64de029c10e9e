// The key/values of a GGUF file with their GGUF types kept, for tools that
// rewrite a file (helix model quantize): each value is copied as its encoded
// bytes, so llama.cpp, which checks the type of every key it reads, reads the
// new file as it read the old one. (open_gguf turns values into JSON and keeps
// no types.)
#pragma once

#include <filesystem>
#include <vector>

#include "helix/weights/gguf_writer.h"

namespace helix {

// Throws Error naming the file and key for a truncated or malformed header.
std::vector<GgufEntry> read_gguf_raw_metadata(const std::filesystem::path& file);

}  // namespace helix
