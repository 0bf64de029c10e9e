#include "helix/tokenize/normalizer.h"

#include "helix/core/error.h"
#include "helix/tokenize/json_fields.h"
#include "helix/tokenize/unicode_nfc.h"

namespace helix {
namespace {

std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content) {
  std::string out;
  out.reserve(text.size());
  std::size_t cursor = 0;
  for (std::size_t found = text.find(pattern); found != std::string_view::npos;
       found = text.find(pattern, cursor)) {
    out.append(text.substr(cursor, found - cursor));
    out.append(content);
    cursor = found + pattern.size();
  }
  out.append(text.substr(cursor));
  return out;
}

}  // namespace

Normalizer Normalizer::from_json(const nlohmann::json& config, std::string_view path) {
  Normalizer result;
  if (!config.is_null()) result.add_step(config, path);
  return result;
}

void Normalizer::add_step(const nlohmann::json& config, std::string_view path) {
  const std::string type_path = json_path(path, "type");
  const std::string type = json_string(json_member(config, "type", path), type_path);
  if (type == "Sequence") {
    const std::string list_path = json_path(path, "normalizers");
    const nlohmann::json& list = json_member(config, "normalizers", path);
    if (!list.is_array()) fail("{}: expected an array, found {}", list_path, list.type_name());
    for (std::size_t i = 0; i < list.size(); ++i) add_step(list[i], json_path(list_path, i));
    return;
  }
  Step step;
  if (type == "NFC") {
    step.kind = Step::Kind::kNfc;
  } else if (type == "Prepend") {
    step.kind = Step::Kind::kPrepend;
    step.text = json_string(json_member(config, "prepend", path), json_path(path, "prepend"));
  } else if (type == "Replace") {
    step.kind = Step::Kind::kReplace;
    const std::string pattern_path = json_path(path, "pattern");
    const nlohmann::json& pattern = json_member(config, "pattern", path);
    json_expect_object(pattern, pattern_path);
    if (json_optional_member(pattern, "String", pattern_path) == nullptr) {
      fail("{}: only a {{\"String\": ...}} pattern is supported", pattern_path);
    }
    step.text = json_string(pattern["String"], json_path(pattern_path, "String"));
    if (step.text.empty()) fail("{}: is empty", json_path(pattern_path, "String"));
    step.content = json_string(json_member(config, "content", path), json_path(path, "content"));
  } else {
    fail("{}: normalizer \"{}\" is not supported (supported: null, NFC, Prepend, Replace of a string, Sequence)",
         type_path, type);
  }
  steps_.push_back(std::move(step));
}

std::string Normalizer::apply(std::string_view text) const {
  std::string out(text);
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::Kind::kNfc:
        out = to_nfc(out);
        break;
      case Step::Kind::kPrepend:
        // As tokenizers does: an empty segment stays empty.
        if (!out.empty()) out.insert(0, step.text);
        break;
      case Step::Kind::kReplace:
        out = replace_all(out, step.text, step.content);
        break;
    }
  }
  return out;
}

}  // namespace helix
