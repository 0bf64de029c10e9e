// The KV-cache options the commands that run a stage share (generate, worker): a
// capacity in tokens (--kv-tokens N) or in memory (--kv-memory SIZE, or
// --kv-memory N%: what is left of N% of the device's memory once the stage's
// weights are in), never both, and what the cache stores (--kv-dtype f32|f16). In
// memory, an f16 cache holds twice the tokens of an f32 one.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "helix/engine/kv_ledger.h"

namespace helix::cli {

struct KvCli {
  long long tokens = 0;
  std::string memory;  // "", a size ("2 GiB") or a share of the device's memory ("90%")
  std::string dtype = "f32";
};

// Adds --kv-tokens, --kv-memory and --kv-dtype; `tokens_default` says what applies
// when neither capacity is given.
void add_kv_options(CLI::App* cmd, KvCli& kv, const std::string& tokens_default);

// The cache's options: the dtype, and the capacity in tokens, bytes or a memory
// share (all 0 when none was given: the caller's default applies). Fails naming
// the option.
KvCacheOptions parse_kv_options(const KvCli& kv);

// Fails when `engine` is not "real" but the options ask for an f16 cache or a
// capacity in memory: emulated workers store no keys or values.
void require_real_engine_for(const KvCacheOptions& kv, const std::string& engine);

}  // namespace helix::cli
