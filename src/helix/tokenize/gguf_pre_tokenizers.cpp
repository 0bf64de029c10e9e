#include "helix/tokenize/gguf_pre_tokenizers.h"

#include <array>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "helix/core/error.h"

namespace helix {
namespace {

constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr std::string_view kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kCjk = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";
constexpr std::string_view kDeepseekLetters =
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373"
    "\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f"
    "\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77"
    "\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d"
    "\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4"
    "\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
    "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d"
    "\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a"
    "\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2"
    "\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+";
constexpr std::string_view kDeepseekPunctuation = "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+";

struct Entry {
  std::array<std::string_view, 6> names;
  std::array<std::string_view, 6> patterns;
  bool ignore_merges = false;
  bool add_bos = false;
};

const std::array kEntries = {
    Entry{{"default"}, {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}},
    Entry{{"llama-bpe", "llama3", "llama-v3", "dbrx", "smaug-bpe", "falcon3"}, {kLlama3}, true, true},
    Entry{{"deepseek-llm"},
          {"[\r\n]", kDeepseekLetters, kDeepseekPunctuation, R"(\s+$)", kCjk, R"(\p{N}+)"}},
    Entry{{"deepseek-coder"}, {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjk, R"(\p{N})"}},
    Entry{{"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}},
    Entry{{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone"}, {R"(\p{N})", kGpt2}},
    Entry{{"gpt-2", "phi-2", "mpt", "olmo", "jais", "jina-es"}, {kGpt2}},
    Entry{{"qwen2", "stablelm2", "deepseek-r1-qwen"}, {kQwen2}},
};

// The split patterns of LLaMA-3's and Qwen2's tokenizer.json (case-insensitive
// contractions written as (?i:...), which llama.cpp spells out).
constexpr std::string_view kHfLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kHfQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

bool is_byte_level(const nlohmann::json& step, bool use_regex) {
  return step.is_object() && step.value("type", "") == "ByteLevel" && step.value("use_regex", true) == use_regex &&
         !step.value("add_prefix_space", false);
}

}  // namespace

std::string gguf_pre_name(const nlohmann::json& pre_tokenizer) {
  if (is_byte_level(pre_tokenizer, true)) return "gpt-2";
  if (pre_tokenizer.is_object() && pre_tokenizer.value("type", "") == "Sequence") {
    const nlohmann::json steps = pre_tokenizer.value("pretokenizers", nlohmann::json::array());
    if (steps.size() == 2 && is_byte_level(steps[1], false) && steps[0].value("type", "") == "Split" &&
        steps[0].value("behavior", "") == "Isolated" && !steps[0].value("invert", false)) {
      const std::string pattern = steps[0].value("pattern", nlohmann::json::object()).value("Regex", "");
      if (pattern == kHfLlama3) return "llama-bpe";
      if (pattern == kHfQwen2) return "qwen2";
    }
  }
  fail("pre_tokenizer: {} has no llama.cpp pre-tokenizer name (helix writes GGUF for GPT-2's ByteLevel, "
       "LLaMA-3's and Qwen2's splits)",
       pre_tokenizer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

GgufPreTokenizer gguf_pre_tokenizer(std::string_view pre) {
  // A "gpt2" vocabulary that names no pre-tokenizer gets llama.cpp's default.
  const std::string_view name = pre.empty() ? "default" : pre;
  std::vector<std::string_view> known;
  for (const Entry& entry : kEntries) {
    for (std::string_view candidate : entry.names) {
      if (candidate.empty()) continue;
      known.push_back(candidate);
      if (candidate != name) continue;
      GgufPreTokenizer result;
      for (std::string_view pattern : entry.patterns) {
        if (!pattern.empty()) result.patterns.emplace_back(pattern);
      }
      result.ignore_merges = entry.ignore_merges;
      result.add_bos = entry.add_bos;
      return result;
    }
  }
  fail("tokenizer.ggml.pre: pre-tokenizer \"{}\" is not supported (known: {})", pre, fmt::join(known, ", "));
}

}  // namespace helix
