#include "helix/tokenize/pre_tokenizer.h"

#include <fmt/format.h>

#include "helix/core/error.h"
#include "helix/tokenize/json_fields.h"

namespace helix {
namespace {

using Behavior = PreTokenizer::Behavior;

Behavior parse_behavior(const std::string& name, std::string_view path) {
  if (name == "Removed") return Behavior::kRemoved;
  if (name == "Isolated") return Behavior::kIsolated;
  if (name == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::kMergedWithNext;
  if (name == "Contiguous") return Behavior::kContiguous;
  fail("{}: unknown split behavior \"{}\" (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or "
       "Contiguous)",
       path, name);
}

std::shared_ptr<const PcreRegex> parse_split_pattern(const nlohmann::json& pattern, std::string_view path) {
  json_expect_object(pattern, path);
  if (const auto* regex = json_optional_member(pattern, "Regex", path)) {
    const std::string where = json_path(path, "Regex");
    return std::make_shared<const PcreRegex>(json_string(*regex, where), where);
  }
  if (const auto* literal = json_optional_member(pattern, "String", path)) {
    const std::string where = json_path(path, "String");
    return std::make_shared<const PcreRegex>(json_string(*literal, where), where, PcreRegex::Syntax::kLiteral);
  }
  fail("{}: expected {{\"Regex\": ...}} or {{\"String\": ...}}", path);
}

// A part of a piece: a regex match or the text between two matches.
struct Span {
  std::size_t begin;
  std::size_t end;
  bool is_match;
};

std::vector<Span> matches_and_gaps(const PcreRegex& regex, std::string_view piece, bool invert) {
  std::vector<Span> spans;
  std::size_t cursor = 0;
  for (const auto& [begin, end] : regex.find_all(piece)) {
    if (begin > cursor) spans.push_back({cursor, begin, invert});
    spans.push_back({begin, end, !invert});
    cursor = end;
  }
  if (cursor < piece.size()) spans.push_back({cursor, piece.size(), invert});
  return spans;
}

// Applies the behavior to the spans (the rules of tokenizers' split behaviours).
std::vector<Span> combine(std::vector<Span> spans, Behavior behavior) {
  std::vector<Span> out;
  switch (behavior) {
    case Behavior::kIsolated:
      return spans;
    case Behavior::kRemoved:
      for (const Span& span : spans) {
        if (!span.is_match) out.push_back(span);
      }
      return out;
    case Behavior::kContiguous:
      for (const Span& span : spans) {
        if (!out.empty() && out.back().is_match == span.is_match) {
          out.back().end = span.end;
        } else {
          out.push_back(span);
        }
      }
      return out;
    case Behavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const Span& span : spans) {
        if (span.is_match && !previous_match && !out.empty()) {
          out.back().end = span.end;
        } else {
          out.push_back(span);
        }
        previous_match = span.is_match;
      }
      return out;
    }
    case Behavior::kMergedWithNext: {
      bool next_match = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !next_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back(*it);
        }
        next_match = it->is_match;
      }
      return {out.rbegin(), out.rend()};
    }
  }
  return spans;
}

}  // namespace

PreTokenizer PreTokenizer::from_json(const nlohmann::json& config, std::string_view path) {
  PreTokenizer result;
  if (!config.is_null()) result.add_step(config, path);
  return result;
}

PreTokenizer PreTokenizer::gpt2() {
  PreTokenizer result;
  Step step;
  step.regex = std::make_shared<const PcreRegex>(kGpt2SplitPattern, "ByteLevel pre-tokenizer");
  result.steps_.push_back(std::move(step));
  result.has_byte_level_ = true;
  return result;
}

PreTokenizer PreTokenizer::isolated_splits(const std::vector<std::string>& patterns, std::string_view where) {
  PreTokenizer result;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    Step step;
    step.regex = std::make_shared<const PcreRegex>(patterns[i], fmt::format("{}[{}]", where, i));
    result.steps_.push_back(std::move(step));
  }
  return result;
}

void PreTokenizer::add_step(const nlohmann::json& config, std::string_view path) {
  const std::string type_path = json_path(path, "type");
  const std::string type = json_string(json_member(config, "type", path), type_path);
  if (type == "Sequence") {
    const std::string list_path = json_path(path, "pretokenizers");
    const nlohmann::json& list = json_member(config, "pretokenizers", path);
    if (!list.is_array()) fail("{}: expected an array, found {}", list_path, list.type_name());
    for (std::size_t i = 0; i < list.size(); ++i) add_step(list[i], json_path(list_path, i));
    return;
  }
  if (type == "Metaspace") {
    add_metaspace(config, path);
    return;
  }
  Step step;
  if (type == "ByteLevel") {
    step.add_prefix_space = json_bool_or(config, "add_prefix_space", path, true);
    if (json_bool_or(config, "use_regex", path, true)) {
      step.regex = std::make_shared<const PcreRegex>(kGpt2SplitPattern, path);
    }
    has_byte_level_ = true;
  } else if (type == "Split") {
    step.regex = parse_split_pattern(json_member(config, "pattern", path), json_path(path, "pattern"));
    const std::string behavior_path = json_path(path, "behavior");
    step.behavior = parse_behavior(json_string(json_member(config, "behavior", path), behavior_path), behavior_path);
    step.invert = json_bool_or(config, "invert", path, false);
  } else if (type == "Digits") {
    const bool individual = json_bool_or(config, "individual_digits", path, false);
    step.regex = std::make_shared<const PcreRegex>(individual ? R"(\p{N})" : R"(\p{N}+)", path);
  } else {
    fail("{}: pre-tokenizer \"{}\" is not supported (supported: ByteLevel, Split, Digits, Metaspace, Sequence)",
         type_path,
         type);
  }
  steps_.push_back(std::move(step));
}

void PreTokenizer::add_metaspace(const nlohmann::json& config, std::string_view path) {
  Step step;
  step.metaspace = true;
  step.replacement = json_string(json_member(config, "replacement", path), json_path(path, "replacement"));
  if (step.replacement.empty()) fail("{}: is empty", json_path(path, "replacement"));
  if (const nlohmann::json* scheme = json_optional_member(config, "prepend_scheme", path)) {
    const std::string where = json_path(path, "prepend_scheme");
    const std::string name = json_string(*scheme, where);
    if (name == "always") {
      step.prepend = Step::Prepend::kAlways;
    } else if (name == "first") {
      step.prepend = Step::Prepend::kFirst;
    } else if (name == "never") {
      step.prepend = Step::Prepend::kNever;
    } else {
      fail("{}: unknown scheme \"{}\" (expected always, first or never)", where, name);
    }
  } else {
    // Older files: add_prefix_space (default true) means "always".
    step.prepend = json_bool_or(config, "add_prefix_space", path, true) ? Step::Prepend::kAlways : Step::Prepend::kNever;
  }
  // split: each word, from one replacement to the next, is a piece of its own.
  if (json_bool_or(config, "split", path, true)) {
    step.regex = std::make_shared<const PcreRegex>(step.replacement, path, PcreRegex::Syntax::kLiteral);
    step.behavior = Behavior::kMergedWithNext;
  }
  steps_.push_back(std::move(step));
}

std::string PreTokenizer::apply_metaspace(const Step& step, std::string_view piece, bool at_input_start) {
  // As tokenizers does: spaces are replaced, then the replacement is prepended
  // unless the piece already starts with one (a leading space counts).
  std::string out;
  const bool prepend = step.prepend == Step::Prepend::kAlways || (step.prepend == Step::Prepend::kFirst && at_input_start);
  if (prepend && !piece.empty() && !piece.starts_with(' ') && !piece.starts_with(step.replacement)) {
    out = step.replacement;
  }
  for (char c : piece) {
    if (c == ' ') {
      out += step.replacement;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void PreTokenizer::apply(const Step& step, std::string_view piece, std::vector<std::string>& out) {
  std::string prefixed;
  if (step.add_prefix_space && (piece.empty() || piece.front() != ' ')) {
    prefixed = " ";
    prefixed += piece;
    piece = prefixed;
  }
  if (!step.regex) {
    out.emplace_back(piece);
    return;
  }
  for (const Span& span : combine(matches_and_gaps(*step.regex, piece, step.invert), step.behavior)) {
    if (span.end > span.begin) out.emplace_back(piece.substr(span.begin, span.end - span.begin));
  }
}

std::vector<std::string> PreTokenizer::split(std::string_view segment, bool at_input_start) const {
  std::vector<std::string> pieces;
  if (segment.empty()) return pieces;
  pieces.emplace_back(segment);
  for (const Step& step : steps_) {
    std::vector<std::string> next;
    next.reserve(pieces.size());
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      if (step.metaspace) {
        apply(step, apply_metaspace(step, pieces[i], at_input_start && i == 0), next);
      } else {
        apply(step, pieces[i], next);
      }
    }
    pieces = std::move(next);
  }
  return pieces;
}

}  // namespace helix
