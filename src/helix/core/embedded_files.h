// Files compiled into the binary (see cmake/HelixEmbed.cmake): the paper's GPU
// profiles and model constants, so `helix` needs no data directory at run time.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace helix::embedded {

// Path relative to data/profiles (e.g. "llama2_70b/a100/decode_bs2time.csv") -> bytes.
const std::map<std::string, std::string_view>& files();

// Path relative to data/traces (e.g. "length_azure_conv.csv") -> bytes: the
// paper's workload datasets, linked into the simulator module.
const std::map<std::string, std::string_view>& trace_files();

// Path relative to examples/ (e.g. "clusters/single24.yaml") -> bytes. Linked only
// into the `helix` executable, whose built-in defaults they are.
const std::map<std::string, std::string_view>& example_files();

}  // namespace helix::embedded
