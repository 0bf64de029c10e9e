#include "helix/tokenize/added_tokens.h"

namespace helix {
namespace {

std::uint64_t edge_key(int node, unsigned char byte) {
  return (static_cast<std::uint64_t>(node) << 8) | byte;
}

bool is_whitespace_byte(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

void AddedTokenMatcher::add(const AddedToken& token) {
  if (token.content.empty()) return;
  int node = 0;
  for (char c : token.content) {
    const std::uint64_t key = edge_key(node, static_cast<unsigned char>(c));
    const auto it = children_.find(key);
    if (it != children_.end()) {
      node = it->second;
    } else {
      nodes_.push_back(Node{});
      const int child = static_cast<int>(nodes_.size() - 1);
      children_.emplace(key, child);
      node = child;
    }
  }
  // A repeated content keeps its first id, as a vocabulary lookup would.
  if (nodes_[static_cast<std::size_t>(node)].token < 0) {
    tokens_.push_back(token);
    nodes_[static_cast<std::size_t>(node)].token = static_cast<int>(tokens_.size() - 1);
  }
}

std::optional<std::pair<std::size_t, std::size_t>> AddedTokenMatcher::longest_at(std::string_view text,
                                                                                 std::size_t pos) const {
  std::optional<std::pair<std::size_t, std::size_t>> best;
  int node = 0;
  for (std::size_t i = pos; i < text.size(); ++i) {
    const auto it = children_.find(edge_key(node, static_cast<unsigned char>(text[i])));
    if (it == children_.end()) break;
    node = it->second;
    const int token = nodes_[static_cast<std::size_t>(node)].token;
    if (token >= 0) best = std::make_pair(static_cast<std::size_t>(token), i + 1 - pos);
  }
  return best;
}

std::vector<AddedTokenMatcher::Segment> AddedTokenMatcher::split(std::string_view text) const {
  std::vector<Segment> segments;
  if (tokens_.empty()) {
    if (!text.empty()) segments.push_back({text, -1});
    return segments;
  }
  std::size_t plain_begin = 0;  // start of the pending plain text
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto match = longest_at(text, pos);
    if (!match) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[match->first];
    std::size_t plain_end = pos;
    if (token.lstrip) {
      while (plain_end > plain_begin && is_whitespace_byte(text[plain_end - 1])) --plain_end;
    }
    if (plain_end > plain_begin) segments.push_back({text.substr(plain_begin, plain_end - plain_begin), -1});
    segments.push_back({text.substr(pos, match->second), token.id});
    pos += match->second;
    if (token.rstrip) {
      while (pos < text.size() && is_whitespace_byte(text[pos])) ++pos;
    }
    plain_begin = pos;
  }
  if (plain_begin < text.size()) segments.push_back({text.substr(plain_begin), -1});
  return segments;
}

}  // namespace helix
