// The statements of a template (jinja_parser.h), around the expressions
// ExpressionParser parses.
#include "helix/chat/jinja_parser.h"

#include <initializer_list>

#include "helix/chat/jinja_expression_parser.h"

namespace helix::chat {
namespace {

class TemplateParser : public ExpressionParser {
 public:
  using ExpressionParser::ExpressionParser;

  Body parse() {
    std::string end_tag;
    return parse_body({}, end_tag);
  }

 private:
  // Nodes up to a `{% tag %}` whose name is in `end_tags`; consumes the
  // `{%` and the tag name and stores it in `found`. Empty `end_tags`: to the end.
  Body parse_body(std::initializer_list<std::string_view> end_tags, std::string& found);
  Body parse_body_until(std::initializer_list<std::string_view> end_tags, std::string& found);
  NodePtr text_node(const Token& t);
  NodePtr output_node();
  void parse_statement(Body& body);
  NodePtr parse_if(const Token& begin);
  NodePtr parse_for(const Token& begin);
  std::vector<std::string> parse_target_names();
  NodePtr parse_set(const Token& begin);
  NodePtr parse_macro(const Token& begin);
  NodePtr parse_filter_block(const Token& begin);

  int loop_depth_ = 0;
  std::string expected_end_tags_;  // of the innermost open block, for error messages
};

Body TemplateParser::parse_body(std::initializer_list<std::string_view> end_tags, std::string& found) {
  const std::string saved = expected_end_tags_;
  expected_end_tags_.clear();
  for (auto tag : end_tags) expected_end_tags_ += (expected_end_tags_.empty() ? "'" : ", '") + std::string(tag) + "'";
  Body body = parse_body_until(end_tags, found);
  expected_end_tags_ = saved;
  return body;
}

Body TemplateParser::parse_body_until(std::initializer_list<std::string_view> end_tags, std::string& found) {
  Body body;
  while (true) {
    const Token& t = current();
    if (t.type == TokenType::End) {
      if (end_tags.size() == 0) return body;
      fail_at(t, "unexpected end of template: expected one of {}", expected_end_tags_);
    }
    if (t.type == TokenType::Text) {
      body.push_back(text_node(t));
      advance();
    } else if (t.type == TokenType::VariableBegin) {
      body.push_back(output_node());
    } else if (t.type == TokenType::BlockBegin) {
      const Token& tag = peek(1);
      if (tag.type == TokenType::Name && is_one_of(tag.text, end_tags)) {
        found = tag.text;
        advance();
        advance();
        return body;
      }
      parse_statement(body);
    } else {
      fail_at(t, "unexpected '{}'", t.text);
    }
  }
}

NodePtr TemplateParser::text_node(const Token& t) {
  auto n = make_node(Node::Kind::Text, t);
  n->text = t.text;
  return n;
}

NodePtr TemplateParser::output_node() {
  auto n = make_node(Node::Kind::Output, current());
  advance();
  n->expr = parse_tuple(true);
  expect(TokenType::VariableEnd, "'}}'");
  return n;
}

void TemplateParser::parse_statement(Body& body) {
  const Token& begin = current();
  advance();
  const Token& tag = current();
  if (tag.type != TokenType::Name) fail_at(tag, "expected a tag name after '{{%'");
  NestingGuard guard(*this, tag);
  advance();
  const std::string& name = tag.text;
  if (name == "if") {
    body.push_back(parse_if(begin));
  } else if (name == "for") {
    body.push_back(parse_for(begin));
  } else if (name == "set") {
    body.push_back(parse_set(begin));
  } else if (name == "macro") {
    body.push_back(parse_macro(begin));
  } else if (name == "filter") {
    body.push_back(parse_filter_block(begin));
  } else if (name == "break" || name == "continue") {
    if (loop_depth_ == 0) fail_at(tag, "'{}' outside a for loop", name);
    body.push_back(make_node(name == "break" ? Node::Kind::Break : Node::Kind::Continue, begin));
    expect_block_end();
  } else if (name == "generation") {
    expect_block_end();
    std::string found;
    for (auto& n : parse_body({"endgeneration"}, found)) body.push_back(std::move(n));
    expect_block_end();
  } else if (name.rfind("end", 0) == 0 || name == "else" || name == "elif") {
    if (expected_end_tags_.empty()) fail_at(tag, "unexpected '{}': no block is open", name);
    fail_at(tag, "unexpected '{}': the innermost open block expects one of {}", name, expected_end_tags_);
  } else {
    fail_at(tag, "unknown or unsupported tag '{}'", name);
  }
}

NodePtr TemplateParser::parse_if(const Token& begin) {
  auto n = make_node(Node::Kind::If, begin);
  ExprPtr condition = parse_expression(true);
  while (true) {
    expect_block_end();
    std::string found;
    Body branch = parse_body({"elif", "else", "endif"}, found);
    n->branches.emplace_back(std::move(condition), std::move(branch));
    if (found == "elif") {
      condition = parse_expression(true);
      continue;
    }
    if (found == "else") {
      expect_block_end();
      n->else_body = parse_body({"endif"}, found);
    }
    expect_block_end();
    return n;
  }
}

NodePtr TemplateParser::parse_for(const Token& begin) {
  auto n = make_node(Node::Kind::For, begin);
  n->targets = parse_target_names();
  expect_name("in");
  n->expr = parse_tuple(false);
  if (at_name("if")) {
    advance();
    n->condition = parse_expression(true);
  }
  if (at_name("recursive")) fail_at(current(), "recursive for loops are not supported");
  expect_block_end();
  std::string found;
  ++loop_depth_;
  n->body = parse_body({"else", "endfor"}, found);
  --loop_depth_;
  if (found == "else") {
    expect_block_end();
    n->else_body = parse_body({"endfor"}, found);
  }
  expect_block_end();
  return n;
}

std::vector<std::string> TemplateParser::parse_target_names() {
  std::vector<std::string> names;
  const bool parenthesized = at_operator("(");
  if (parenthesized) advance();
  do {
    if (!names.empty()) advance();  // the ','
    if (current().type != TokenType::Name) fail_at(current(), "expected a variable name, got '{}'", current().text);
    names.push_back(current().text);
    advance();
  } while (at_operator(","));
  if (parenthesized) expect_operator(")");
  return names;
}

NodePtr TemplateParser::parse_set(const Token& begin) {
  auto n = make_node(Node::Kind::Set, begin);
  if (current().type == TokenType::Name && peek(1).type == TokenType::Operator && peek(1).text == ".") {
    n->targets.push_back(current().text);
    advance();
    advance();
    if (current().type != TokenType::Name) fail_at(current(), "expected an attribute name after '.'");
    n->name = current().text;
    advance();
  } else {
    n->targets = parse_target_names();
  }
  if (at_operator("=")) {
    advance();
    n->expr = parse_tuple(true);
    expect_block_end();
    return n;
  }
  if (n->targets.size() != 1 || !n->name.empty()) fail_at(begin, "a block 'set' takes one variable name");
  n->kind = Node::Kind::SetBlock;
  if (at_operator("|")) n->filter = parse_filters(nullptr);
  expect_block_end();
  std::string found;
  n->body = parse_body({"endset"}, found);
  expect_block_end();
  return n;
}

NodePtr TemplateParser::parse_macro(const Token& begin) {
  auto n = make_node(Node::Kind::Macro, begin);
  if (current().type != TokenType::Name) fail_at(current(), "expected a macro name");
  n->name = current().text;
  advance();
  expect_operator("(");
  while (!at_operator(")")) {
    if (!n->params.empty()) expect_operator(",");
    if (current().type != TokenType::Name) fail_at(current(), "expected a parameter name");
    std::string param = current().text;
    advance();
    ExprPtr fallback;
    if (at_operator("=")) {
      advance();
      fallback = parse_expression(true);
    }
    n->params.emplace_back(std::move(param), std::move(fallback));
  }
  advance();
  expect_block_end();
  std::string found;
  const int saved = loop_depth_;
  loop_depth_ = 0;
  n->body = parse_body({"endmacro"}, found);
  loop_depth_ = saved;
  expect_block_end();
  return n;
}

NodePtr TemplateParser::parse_filter_block(const Token& begin) {
  auto n = make_node(Node::Kind::FilterBlock, begin);
  n->filter = parse_filter_chain(nullptr);
  expect_block_end();
  std::string found;
  n->body = parse_body({"endfilter"}, found);
  expect_block_end();
  return n;
}

}  // namespace

Body parse_template(const std::vector<Token>& tokens) { return TemplateParser(tokens).parse(); }

}  // namespace helix::chat
