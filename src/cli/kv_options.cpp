#include "kv_options.h"

#include <charconv>
#include <cmath>
#include <optional>

#include "helix/core/error.h"
#include "helix/core/units.h"

namespace helix::cli {

void add_kv_options(CLI::App* cmd, KvCli& kv, const std::string& tokens_default) {
  cmd->add_option("--kv-tokens", kv.tokens, "KV cache capacity in tokens (default: " + tokens_default + ")");
  cmd->add_option("--kv-memory", kv.memory,
                  "KV cache capacity in memory, e.g. '2 GiB', or what is left of a share of the device's memory once "
                  "the weights are in, e.g. '90%' (on the CPU, of the host's memory within the process's cgroup limit; "
                  "instead of --kv-tokens; f16 holds twice the tokens)");
  cmd->add_option("--kv-dtype", kv.dtype, "What the KV cache stores: f32, or f16 (half the bytes per token)")
      ->capture_default_str();
}

namespace {

// --kv-memory as a share of the device's memory ("90%"); nullopt for a size.
std::optional<double> parse_kv_memory_share(const std::string& text) {
  if (text.empty() || text.back() != '%') return std::nullopt;
  const std::string number = text.substr(0, text.size() - 1);
  double percent = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), percent);
  if (ec != std::errc{} || end != number.data() + number.size() || !(percent > 0 && percent <= 100)) {
    fail("--kv-memory: '{}' is not a share of the device's memory (a percentage in (0, 100])", text);
  }
  return percent / 100;
}

// --kv-memory's bytes ("" gives 0).
std::size_t parse_kv_memory(const std::string& text) {
  if (text.empty()) return 0;
  double bytes = 0;
  try {
    bytes = parse_size_bytes(text);
  } catch (const Error& e) {
    fail("--kv-memory: {}", e.what());
  }
  if (!(bytes >= 1) || !std::isfinite(bytes)) fail("--kv-memory: '{}' is not a capacity (at least 1 B)", text);
  return static_cast<std::size_t>(bytes);
}

}  // namespace

KvCacheOptions parse_kv_options(const KvCli& kv) {
  KvCacheOptions o;
  o.dtype = parse_kv_dtype(kv.dtype, "--kv-dtype");
  if (kv.tokens < 0) fail("--kv-tokens {}: must be positive", kv.tokens);
  if (const auto share = parse_kv_memory_share(kv.memory)) {
    o.memory_share = *share;
  } else {
    o.capacity_bytes = parse_kv_memory(kv.memory);
  }
  if (kv.tokens > 0 && !kv.memory.empty()) fail("--kv-tokens and --kv-memory: give one of the two");
  o.capacity_tokens = kv.tokens;
  return o;
}

void require_real_engine_for(const KvCacheOptions& kv, const std::string& engine) {
  if (engine != "real" && (kv.dtype != KvDtype::F32 || kv.capacity_bytes > 0 || kv.memory_share > 0)) {
    fail("--kv-dtype and --kv-memory need --engine real (emulated workers store no KV)");
  }
}

}  // namespace helix::cli
