#include "helix/tokenize/hf_bpe_tokenizer.h"

#include <fstream>
#include <sstream>

#include "helix/core/error.h"
#include "helix/tokenize/json_fields.h"

namespace helix {
namespace {

// Reads the decoder: ByteLevel for a byte-level BPE; for a character BPE the
// SentencePiece-style chain (Replace "▁" -> " ", ByteFallback, Fuse, Strip) or
// Metaspace. Anything else is refused.
void read_decoder(const nlohmann::json& config, std::string_view path, bool byte_level,
                  HfBpeTokenizer::DecoderSteps& steps) {
  if (config.is_null()) {
    if (byte_level) fail("{}: missing; a byte-level BPE needs the ByteLevel decoder", path);
    return;
  }
  const std::string type_path = json_path(path, "type");
  const std::string type = json_string(json_member(config, "type", path), type_path);
  if (type == "Sequence") {
    const std::string list_path = json_path(path, "decoders");
    const nlohmann::json& list = json_member(config, "decoders", path);
    if (!list.is_array() || list.empty()) fail("{}: expected a non-empty array", list_path);
    for (std::size_t i = 0; i < list.size(); ++i) read_decoder(list[i], json_path(list_path, i), byte_level, steps);
    return;
  }
  if (byte_level) {
    if (type != "ByteLevel") fail("{}: decoder \"{}\" is not supported for byte-level BPE (only ByteLevel)", type_path, type);
    return;
  }
  if (type == "ByteFallback" || type == "Fuse") return;  // byte tokens are bytes; tokens are joined anyway
  if (type == "Replace") {
    const std::string pattern_path = json_path(path, "pattern");
    const nlohmann::json& pattern = json_member(config, "pattern", path);
    json_expect_object(pattern, pattern_path);
    if (json_optional_member(pattern, "String", pattern_path) == nullptr) {
      fail("{}: only a {{\"String\": ...}} pattern is supported", pattern_path);
    }
    steps.replacements.emplace_back(json_string(pattern["String"], json_path(pattern_path, "String")),
                                    json_string(json_member(config, "content", path), json_path(path, "content")));
    return;
  }
  if (type == "Strip") {
    if (json_string(json_member(config, "content", path), json_path(path, "content")) != " ") {
      fail("{}: only stripping spaces is supported", json_path(path, "content"));
    }
    const int stop = json_int(json_member(config, "stop", path), json_path(path, "stop"));
    if (stop != 0) fail("{}: stripping at the end is not supported", json_path(path, "stop"));
    steps.strip_leading_spaces = json_int(json_member(config, "start", path), json_path(path, "start"));
    return;
  }
  if (type == "Metaspace") {
    const std::string replacement =
        json_string(json_member(config, "replacement", path), json_path(path, "replacement"));
    steps.replacements.emplace_back(replacement, " ");
    const nlohmann::json* scheme = json_optional_member(config, "prepend_scheme", path);
    const bool prepends = scheme != nullptr ? json_string(*scheme, json_path(path, "prepend_scheme")) != "never"
                                            : json_bool_or(config, "add_prefix_space", path, true);
    if (prepends) steps.strip_leading_spaces = 1;
    return;
  }
  fail("{}: decoder \"{}\" is not supported (supported: Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence)",
       type_path, type);
}

nlohmann::json parse_json_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("{}: cannot open for reading", file.string());
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", file.string(), e.what());
  }
}

}  // namespace

HfBpeTokenizer::HfBpeTokenizer(BpeModel model, PreTokenizer pre_tokenizer, Normalizer normalizer)
    : model_(std::move(model)), pre_tokenizer_(std::move(pre_tokenizer)), normalizer_(std::move(normalizer)) {
  vocab_size_ = model_.id_end();
}

std::unique_ptr<HfBpeTokenizer> HfBpeTokenizer::from_json(const nlohmann::json& tokenizer, std::string_view source) {
  return in_context(source, [&] {
    json_expect_object(tokenizer, "");
    const auto optional = [&](std::string_view key) -> const nlohmann::json& {
      static const nlohmann::json null_value;
      const nlohmann::json* value = json_optional_member(tokenizer, key, "");
      return value == nullptr ? null_value : *value;
    };
    BpeModel model = BpeModel::from_json(json_member(tokenizer, "model", ""), "model");
    PreTokenizer pre_tokenizer = PreTokenizer::from_json(optional("pre_tokenizer"), "pre_tokenizer");
    if (model.is_byte_level() && !pre_tokenizer.has_byte_level()) {
      fail("pre_tokenizer: has no ByteLevel step, which a byte-level BPE needs (model.byte_fallback is false)");
    }
    if (!model.is_byte_level() && pre_tokenizer.has_byte_level()) {
      fail("pre_tokenizer: a ByteLevel step does not go with model.byte_fallback (a character BPE)");
    }
    Normalizer normalizer = Normalizer::from_json(optional("normalizer"), "normalizer");
    DecoderSteps decoder;
    read_decoder(optional("decoder"), "decoder", model.is_byte_level(), decoder);
    std::unique_ptr<HfBpeTokenizer> result(
        new HfBpeTokenizer(std::move(model), std::move(pre_tokenizer), std::move(normalizer)));
    result->decoder_ = std::move(decoder);
    if (const nlohmann::json* added = json_optional_member(tokenizer, "added_tokens", "")) {
      result->read_added_tokens(*added);
    }
    SpecialTokenIds special;
    result->read_post_processor(optional("post_processor"), "post_processor", special);
    result->set_special_tokens(special);
    return result;
  });
}

std::unique_ptr<HfBpeTokenizer> HfBpeTokenizer::load(const std::filesystem::path& file) {
  return from_json(parse_json_file(file), file.string());
}

void HfBpeTokenizer::read_added_tokens(const nlohmann::json& list) {
  const std::string path = "added_tokens";
  if (!list.is_array()) fail("{}: expected an array, found {}", path, list.type_name());
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string where = json_path(path, i);
    const nlohmann::json& entry = list[i];
    AddedToken token;
    token.id = json_int(json_member(entry, "id", where), json_path(where, "id"));
    if (token.id >= kMaxTokenId) fail("{}: id {} is implausibly large", json_path(where, "id"), token.id);
    token.content = json_string(json_member(entry, "content", where), json_path(where, "content"));
    if (token.content.empty()) fail("{}: is empty", json_path(where, "content"));
    token.special = json_bool_or(entry, "special", where, false);
    token.lstrip = json_bool_or(entry, "lstrip", where, false);
    token.rstrip = json_bool_or(entry, "rstrip", where, false);
    if (json_bool_or(entry, "single_word", where, false)) {
      fail("{}: true is not supported", json_path(where, "single_word"));
    }
    if (added_by_id_.count(token.id) != 0) fail("{}: id {} is already used by another added token", where, token.id);
    added_.add(token);
    added_by_id_.emplace(token.id, added_list_.size());
    added_by_content_.emplace(token.content, token.id);
    added_list_.push_back(token);
    vocab_size_ = std::max(vocab_size_, token.id + 1);
  }
}

void HfBpeTokenizer::read_post_processor(const nlohmann::json& config, std::string_view path,
                                         SpecialTokenIds& special) const {
  if (config.is_null()) return;
  const std::string type_path = json_path(path, "type");
  const std::string type = json_string(json_member(config, "type", path), type_path);
  if (type == "ByteLevel") return;  // only adjusts offsets
  if (type == "Sequence") {
    const std::string list_path = json_path(path, "processors");
    const nlohmann::json& list = json_member(config, "processors", path);
    if (!list.is_array()) fail("{}: expected an array, found {}", list_path, list.type_name());
    for (std::size_t i = 0; i < list.size(); ++i) read_post_processor(list[i], json_path(list_path, i), special);
    return;
  }
  if (type != "TemplateProcessing") {
    fail("{}: post-processor \"{}\" is not supported (supported: ByteLevel, TemplateProcessing, Sequence)",
         type_path, type);
  }
  const std::string single_path = json_path(path, "single");
  const nlohmann::json& single = json_member(config, "single", path);
  if (!single.is_array()) fail("{}: expected an array, found {}", single_path, single.type_name());
  bool seen_sequence = false;
  for (std::size_t i = 0; i < single.size(); ++i) {
    const std::string where = json_path(single_path, i);
    json_expect_object(single[i], where);
    if (single[i].contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    const nlohmann::json& piece = json_member(single[i], "SpecialToken", where);
    const std::string name = json_string(json_member(piece, "id", json_path(where, "SpecialToken")),
                                         json_path(where, "SpecialToken.id"));
    if (seen_sequence) {
      fail("{}: a special token after the sequence (\"{}\") is not supported; only a leading bos is", where, name);
    }
    if (i != 0) fail("{}: more than one leading special token is not supported", where);
    // The id comes from the template's own table, else from the vocabulary.
    std::optional<int> id;
    const std::string table_path = json_path(path, "special_tokens");
    if (const nlohmann::json* table = json_optional_member(config, "special_tokens", path);
        table != nullptr && table->contains(name)) {
      const std::string entry_path = json_path(table_path, name);
      const nlohmann::json& ids = json_member((*table)[name], "ids", entry_path);
      if (!ids.is_array() || ids.size() != 1) fail("{}: expected exactly one id", json_path(entry_path, "ids"));
      id = json_int(ids[0], json_path(entry_path, "ids[0]"));
    } else {
      id = find_piece(name);
    }
    if (!id || *id >= vocab_size_) fail("{}: special token \"{}\" is not in the vocabulary", where, name);
    special.bos_id = *id;
    special.add_bos = true;
  }
}

std::vector<std::string> HfBpeTokenizer::pre_tokens(std::string_view text, bool at_input_start) const {
  return pre_tokenizer_.split(normalizer_.apply(text), at_input_start);
}

std::vector<int> HfBpeTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + 1);
  for (const AddedTokenMatcher::Segment& segment : added_.split(text)) {
    if (segment.token_id >= 0) {
      ids.push_back(segment.token_id);
      continue;
    }
    const bool at_input_start = segment.text.data() == text.data();
    for (const std::string& piece : pre_tokens(segment.text, at_input_start)) model_.encode_word(piece, ids);
  }
  return ids;
}

void HfBpeTokenizer::append_token_bytes(int id, std::string& out) const {
  check_id(id);
  if (const auto it = added_by_id_.find(id); it != added_by_id_.end()) {
    const AddedToken& token = added_list_[it->second];
    if (!token.special) out += token.content;
    return;
  }
  if (id >= model_.id_end()) return;
  if (decoder_.replacements.empty() || model_.is_byte_token(id)) {
    out += model_.id_bytes(id);
    return;
  }
  std::string text = model_.id_bytes(id);
  for (const auto& [from, to] : decoder_.replacements) {
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
  }
  out += text;
}

std::string HfBpeTokenizer::decode(std::span<const int> ids) const {
  std::string out;
  // Strip removes the leading spaces of the first text decoded (the "▁" the
  // encoder prepended), as SentencePiece does.
  int strip = decoder_.strip_leading_spaces;
  for (int id : ids) {
    const std::size_t before = out.size();
    append_token_bytes(id, out);
    while (strip > 0 && out.size() > before && out[before] == ' ') {
      out.erase(before, 1);
      --strip;
    }
    if (out.size() > before) strip = 0;
  }
  return out;
}

std::string HfBpeTokenizer::token_bytes(int id) const {
  std::string out;
  append_token_bytes(id, out);
  return out;
}

std::optional<int> HfBpeTokenizer::find_piece(std::string_view piece) const {
  if (const auto it = added_by_content_.find(std::string(piece)); it != added_by_content_.end()) return it->second;
  return model_.find_text(piece);
}

}  // namespace helix
