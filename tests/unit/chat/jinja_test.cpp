// Feature tests of the Jinja interpreter: each case is a template whose
// expected output was produced by Python jinja2 3.1.6, either with
// transformers' settings (hf: trim_blocks, lstrip_blocks, its tojson) or with
// plain jinja2 defaults, over
//   messages = [{role: system, content: S}, {role: user, content: U},
//               {role: assistant, content: A}],  d = {a: 1, b: 2}.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "helix/chat/chat_template.h"
#include "support/error_expectations.h"

namespace helix::chat {
namespace {

struct Case {
  const char* source;
  bool transformers;  // transformers' settings, else plain jinja2's
  const char* expected;
};

// Generated from Python jinja2 3.1.6 (see the file comment).
const Case kExpressions[] = {
    {"{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 / 2 }}|{{ 2 ** 10 }}|{{ -2 ** 2 }}", true,
     "7|9|3|-4|2|3.5|1024|4"},
    {"{{ 1.5 + 1 }}|{{ 0.1 + 0.2 }}|{{ 1e20 }}|{{ 1e-5 }}|{{ 100.0 }}|{{ 1_000 }}|{{ 3.0 * 2 }}", true,
     "2.5|0.30000000000000004|1e+20|1e-05|100.0|1000|6.0"},
    {"{{ 'a' ~ 1 ~ none ~ true }}|{{ 'ab' * 3 }}|{{ [1] + [2] }}|{{ 'x' 'y' }}", true,
     "a1NoneTrue|ababab|[1, 2]|xy"},
    {"{{ [1, 'a', none, true, 1.5, {'k': 'v'}] }}|{{ (1,) }}|{{ () }}|{{ {'a': [1, 2]} }}|{{ \"it's\" }}|{{ [\"it's\"] }}", true,
     "[1, 'a', None, True, 1.5, {'k': 'v'}]|(1,)|()|{'a': [1, 2]}|it's|[\"it's\"]"},
    {"{{ 1 < 2 < 3 }}|{{ 3 > 2 > 5 }}|{{ 1 == 1.0 }}|{{ true == 1 }}|{{ 'a' != 'b' }}|{{ [1, 2] < [1, 3] }}", true,
     "True|False|True|True|True|True"},
    {"{{ 'a' in 'cat' }}|{{ 'z' not in 'cat' }}|{{ 2 in [1, 2] }}|{{ 'k' in {'k': 1} }}|{{ 'x' in undefined_thing }}", true,
     "True|True|True|True|False"},
    {"{{ true and 'yes' }}|{{ 0 or 'fallback' }}|{{ not none }}|{{ none or [] }}|{{ 1 and 0 }}", true,
     "yes|fallback|True|[]|0"},
    {"{{ 'yes' if 1 > 0 else 'no' }}|{{ 'yes' if false }}|{{ 'a' if false else 'b' if true else 'c' }}", true,
     "yes||b"},
    {"{{ messages[0] }}|{{ messages[-1] }}|{{ messages[1:] }}|{{ messages[::-1] }}|{{ messages[:-1] }}|{{ messages[::2] }}|{{ messages[5] }}", true,
     "{'role': 'system', 'content': 'S'}|{'role': 'assistant', 'content': 'A'}|[{'role': 'user', 'content': 'U'}, {'role': 'assistant', 'content': 'A'}]|[{'role': 'assistant', 'content': 'A'}, {'role': 'user', 'content': 'U'}, {'role': 'system', 'content': 'S'}]|[{'role': 'system', 'content': 'S'}, {'role': 'user', 'content': 'U'}]|[{'role': 'system', 'content': 'S'}, {'role': 'assistant', 'content': 'A'}]|"},
    {"{{ 'héllo wörld'[1] }}|{{ 'héllo'[::-1] }}|{{ 'héllo'[1:3] }}|{{ 'héllo'|length }}", true,
     "é|olléh|él|5"},
    {"{{ d.a }}|{{ d['b'] }}|{{ d.missing }}|{{ d.items()|list }}|{{ d.get('a') }}|{{ d.get('zz', 'def') }}|{{ d.keys() | list }}|{{ d.values() | list }}|{{ [1, 2].0 }}", true,
     "1|2||[('a', 1), ('b', 2)]|1|def|['a', 'b']|[1, 2]|1"},
    {"{{ none.attr }}|{{ 'abc'.nope }}|{{ 5['x'] }}", true,
     "||"},
};

const Case kStringMethods[] = {
    {"[{{ '  a b  '.strip() }}][{{ 'xxaxx'.strip('x') }}][{{ '  a'.lstrip() }}][{{ 'a\\n\\n'.rstrip('\\n') }}]", true,
     "[a b][a][a][a]"},
    {"{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a b c'.split(none, 1) }}", true,
     "['a', 'b', '', 'c']|['a', 'b']|['a', 'b,c']|['a', 'b c']"},
    {"{{ 'Hello'.startswith('He') }}|{{ 'Hello'.endswith(('x', 'lo')) }}|{{ 'aXb'.upper() }}|{{ 'aXb'.lower() }}|{{ 'hello wORLD'.title() }}|{{ 'hello World'.capitalize() }}", true,
     "True|True|AXB|axb|Hello World|Hello world"},
    {"{{ 'aaa'.replace('a', 'b') }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'abc'.find('c') }}|{{ 'abc'.find('z') }}|{{ 'abcabc'.count('bc') }}|{{ '-'.join(['a', 'b']) }}", true,
     "bbb|bba|2|-1|2|a-b"},
    {"{{ '{} and {x}'.format(1, x=2) }}|{{ '{0}{1}{0}'.format('a', 'b') }}|{{ 'a\\nb\\r\\nc'.splitlines() }}|{{ '123'.isdigit() }}|{{ 'prefix_x'.removeprefix('prefix_') }}", true,
     "1 and 2|aba|['a', 'b', 'c']|True|x"},
};

const Case kFilters[] = {
    {"[{{ '  a  '|trim }}][{{ 'xxaxx'|trim('x') }}][{{ [1, 2, 3]|length }}][{{ 'abc'|count }}][{{ undefined_thing|length }}]", true,
     "[a][a][3][3][0]"},
    {"{{ 'hello world'|upper }}|{{ 'HeLLo'|lower }}|{{ 'hello WORLD'|capitalize }}|{{ 'hello-world foo(bar'|title }}|{{ \"it's\"|title }}", true,
     "HELLO WORLD|hello|Hello world|Hello-World Foo(Bar|It's"},
    {"{{ [1, 2, 3]|first }}|{{ [1, 2, 3]|last }}|{{ []|first }}|{{ 'abc'|first }}|{{ 'abc'|last }}", true,
     "1|3||a|c"},
    {"{{ ['a', 'b']|join }}|{{ [1, 2]|join(', ') }}|{{ [{'n': 'x'}, {'n': 'y'}]|join('-', attribute='n') }}", true,
     "ab|1, 2|x-y"},
    {"{{ x|default('d') }}|{{ none|default('d') }}|{{ none|default('d', true) }}|{{ ''|d('e', true) }}|{{ 0|d(5) }}", true,
     "d|None|d|e|0"},
    {"{{ 3|string ~ 'x' }}|{{ '42'|int + 1 }}|{{ '3.7'|int }}|{{ 'x'|int }}|{{ 'x'|int(7) }}|{{ 3.9|int }}|{{ '2'|float }}|{{ 'a'|float }}|{{ true|int }}", true,
     "3x|43|3|0|7|3|2.0|0.0|1"},
    {"{{ 'ab'|list }}|{{ {'a': 1}|list }}|{{ {'a': 1, 'b': 2}|items|list }}|{{ undefined_thing|items|list }}", true,
     "['a', 'b']|['a']|[('a', 1), ('b', 2)]|[]"},
    {"{{ 'aXa'|replace('a', 'b') }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 2.675|round(2) }}|{{ 2.1|round(0, 'ceil') }}|{{ -3|abs }}|{{ -2.5|abs }}", true,
     "bXb|2.0|4.0|2.67|3.0|3|2.5"},
    {"{{ [3, 1, 2]|sort }}|{{ ['b', 'A', 'c']|sort }}|{{ [3, 1, 2]|sort(reverse=true) }}|{{ [1, 2, 2, 1]|unique|list }}|{{ ['a', 'A', 'b']|unique|list }}|{{ [1, 2]|reverse|list }}|{{ 'abc'|reverse }}", true,
     "[1, 2, 3]|['A', 'b', 'c']|[3, 2, 1]|[1, 2]|['a', 'b']|[2, 1]|cba"},
    {"{{ messages|selectattr('role', 'equalto', 'user')|list|length }}|{{ messages|rejectattr('role', 'eq', 'user')|map(attribute='role')|list }}|{{ messages|map(attribute='content')|join(',') }}", true,
     "1|['system', 'assistant']|S,U,A"},
    {"{{ [1, 2, 3, 4]|select('even')|list }}|{{ [1, 2, 3, 4]|reject('odd')|list }}|{{ ['a', 'b']|map('upper')|list }}|{{ [1, 0, 2]|select|list }}|{{ [{'a': 1}, {}]|map(attribute='a', default=0)|list }}", true,
     "[2, 4]|[2, 4]|['A', 'B']|[1, 2]|[1, 0]"},
    {"{{ [1.5, 2]|sum }}|{{ [3, 1]|min }}|{{ [3, 1]|max }}|{{ {'b': 1, 'a': 2}|dictsort }}|{{ '<a href=\"x\">&</a>'|escape }}|{{ '<b>'|safe }}", true,
     "3.5|1|3|[('a', 2), ('b', 1)]|&lt;a href=&#34;x&#34;&gt;&amp;&lt;/a&gt;|<b>"},
    {"{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ '%s-%d'|format('x', 3) }}|{{ 'a b  c'|wordcount }}", true,
     "a\n  b\n\n  c|  a\n  b|x-3|3"},
};

const Case kJson[] = {
    {"{{ {'b': [1, 2.5, none, true], 'a': 'é<>&\\'\"\\n'}|tojson }}", true,
     "{\"b\": [1, 2.5, null, true], \"a\": \"é<>&'\\\"\\n\"}"},
    {"{{ {'b': [1, 2.5, none, true], 'a': 'é<>&\\'\"\\n'}|tojson }}", false,
     "{\"a\": \"\\u00e9\\u003c\\u003e\\u0026\\u0027\\\"\\n\", \"b\": [1, 2.5, null, true]}"},
    {"{{ {'b': [1, {}], 'a': [], 'c': {'x': 'y'}}|tojson(indent=2) }}", true,
     "{\n  \"b\": [\n    1,\n    {}\n  ],\n  \"a\": [],\n  \"c\": {\n    \"x\": \"y\"\n  }\n}"},
    {"{{ {'b': [1, {}], 'a': [], 'c': {'x': 'y'}}|tojson(indent=2) }}", false,
     "{\n  \"a\": [],\n  \"b\": [\n    1,\n    {}\n  ],\n  \"c\": {\n    \"x\": \"y\"\n  }\n}"},
    {"{{ [1, 2]|tojson(indent=4) }}|{{ 'x'|tojson }}|{{ 1e100|tojson }}|{{ {'z': 1, 'a': 2}|tojson(sort_keys=true) }}|{{ [1, [2]]|tojson(separators=(',', ':')) }}", true,
     "[\n    1,\n    2\n]|\"x\"|1e+100|{\"a\": 2, \"z\": 1}|[1,[2]]"},
};

const Case kTests[] = {
    {"{{ x is defined }}|{{ x is undefined }}|{{ none is none }}|{{ 'a' is string }}|{{ {} is mapping }}|{{ [] is iterable }}|{{ x is iterable }}|{{ 1 is number }}|{{ true is number }}", true,
     "False|True|True|True|True|True|True|True|True"},
    {"{{ [] is sequence }}|{{ 1 is sequence }}|{{ true is boolean }}|{{ 1 is boolean }}|{{ true is true }}|{{ 1 is true }}|{{ false is false }}|{{ 3 is odd }}|{{ 4 is even }}", true,
     "True|False|True|False|True|False|True|True|True"},
    {"{{ 1 is integer }}|{{ 1.0 is integer }}|{{ 1.0 is float }}|{{ 9 is divisibleby 3 }}|{{ 9 is divisibleby(2) }}|{{ 1 is eq 1 }}|{{ 'a' is not none }}|{{ 'abc' is lower }}|{{ 2 is in [1, 2] }}", true,
     "True|False|True|True|False|True|True|True|True"},
};

const Case kLoops[] = {
    {"{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }};{% endfor %}", true,
     "1/0/3/2/True/False/3;2/1/2/1/False/False/3;3/2/1/0/False/True/3;"},
    {"{% for x in [] %}a{% else %}empty{% endfor %}|{% for x in [1, 2, 3, 4] if x is even %}{{ loop.index }}/{{ loop.length }}:{{ x }} {% else %}none{% endfor %}", true,
     "empty|1/2:2 2/2:4 "},
    {"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in {'x': 1} %}{{ k }}{% endfor %}|{% for c in 'hé' %}[{{ c }}]{% endfor %}", true,
     "a=1;b=2;|x|[h][é]"},
    {"{% for i in range(3) %}{{ loop.previtem }},{{ loop.nextitem }},{{ loop.cycle('a', 'b') }};{% endfor %}|{{ range(2, 10, 3)|list }}|{{ range(5, 0, -2)|list }}", true,
     ",1,a;0,2,b;1,,a;|[2, 5, 8]|[5, 3, 1]"},
    {"{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}", true,
     "02"},
    {"{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}", true,
     "11x 21y 1|12x 22y 2|"},
    {"{% set count = 0 %}{% for i in range(3) %}{% set count = count + 1 %}{{ count }}{% endfor %}{{ count }}", true,
     "1110"},
    {"{% for i in range(3) %}{% if i == 1 %}{% set y = 5 %}{% endif %}[{{ y }}]{% endfor %}{% if true %}{% set z = 3 %}{% endif %}{{ z }}", true,
     "[][5][]3"},
};

const Case kSetAndNamespace[] = {
    {"{% set ns = namespace(a=1, found=false) %}{% for m in messages %}{% set ns.a = ns.a + 1 %}{% if m.role == 'user' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.a }} {{ ns.found }} {{ ns }}", true,
     "4 True <Namespace {'a': 4, 'found': True}>"},
    {"{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set t = (1, 'x') %}{{ t }}|{% set x %}inner {{ 1 + 1 }}{% endset %}[{{ x }}]|{% set y | upper %}shout{% endset %}{{ y }}", true,
     "12|(1, 'x')|[inner 2]|SHOUT"},
    {"{% set messages = messages[1:] %}{{ messages|length }}|{% filter upper %}abc {{ 'd' }}{% endfilter %}", true,
     "2|ABC D"},
    {"{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', punct='?') }} {{ greet(name='C') }}", true,
     "Hello A! Hello B? Hello C!"},
    {"{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}", true,
     "321"},
};

const Case kWhitespace[] = {
    {"  {% if true %}\n  x\n  {% endif %}\n  y  {{ 1 }}  {% if true %}z{% endif %}\n", true,
     "  x\n  y  1  z"},
    {"  {% if true %}\n  x\n  {% endif %}\n  y  {{ 1 }}  {% if true %}z{% endif %}\n", false,
     "  \n  x\n  \n  y  1  z"},
    {"a\n{% if true %}\n  b\n{%- endif %}\n\nc  {{- ' d ' -}}  e\n{#- comment -#}\n f\n", true,
     "a\n  b\nc d ef"},
    {"a\n{% if true %}\n  b\n{%- endif %}\n\nc  {{- ' d ' -}}  e\n{#- comment -#}\n f\n", false,
     "a\n\n  b\n\nc d ef"},
    {"{% for i in range(2) %}\n    {{ i }}\n{% endfor %}\n{# note #}\nend {%+ if true %}+{% endif %}\n", true,
     "    0\n    1\nend +"},
    {"{% for i in range(2) %}\n    {{ i }}\n{% endfor %}\n{# note #}\nend {%+ if true %}+{% endif %}\n", false,
     "\n    0\n\n    1\n\n\nend +"},
    {"line1\r\nline2\r\n  {% if true +%}\nkeep\n  {%- endif %}\n\n", true,
     "line1\nline2\n\nkeep"},
    {"line1\r\nline2\r\n  {% if true +%}\nkeep\n  {%- endif %}\n\n", false,
     "line1\nline2\n  \nkeep\n"},
    {"{% raw %}{{ not parsed }}{% endraw %}|{{ '{{' }}", true,
     "{{ not parsed }}|{{"},
    {"{% raw %}{{ not parsed }}{% endraw %}|{{ '{{' }}", false,
     "{{ not parsed }}|{{"},
    {"x {# c #}\n  {# c2 #}\ny\n", true,
     "x y"},
    {"x {# c #}\n  {# c2 #}\ny\n", false,
     "x \n  \ny"},
};

std::string render(const char* source, bool transformers) {
  const ChatTemplate t = ChatTemplate::parse(source, "case",
                                             transformers ? TemplateSettings() : TemplateSettings::jinja2_defaults());
  RenderOptions options;
  options.extra = {{"d", {{"a", 1}, {"b", 2}}}};
  return t.render({{"system", "S"}, {"user", "U"}, {"assistant", "A"}}, options);
}

template <std::size_t N>
void expect_all(const Case (&cases)[N]) {
  for (const Case& c : cases) {
    try {
      EXPECT_EQ(render(c.source, c.transformers), c.expected) << c.source;
    } catch (const Error& e) {
      ADD_FAILURE() << c.source << ": " << e.what();
    }
  }
}

TEST(Jinja, Expressions) { expect_all(kExpressions); }
TEST(Jinja, StringMethods) { expect_all(kStringMethods); }
TEST(Jinja, Filters) { expect_all(kFilters); }
TEST(Jinja, TojsonInBothFlavours) { expect_all(kJson); }
TEST(Jinja, Tests) { expect_all(kTests); }
TEST(Jinja, LoopsAndTheirScopes) { expect_all(kLoops); }
TEST(Jinja, SetNamespaceMacroAndFilterBlocks) { expect_all(kSetAndNamespace); }
TEST(Jinja, WhitespaceControlWithAndWithoutTrimAndLstrip) { expect_all(kWhitespace); }

TEST(Jinja, ChatVariablesAndGlobals) {
  const ChatTemplate t = ChatTemplate::parse(
      "{{ bos_token }}{{ add_generation_prompt }}{{ eos_token }}|{{ tools is none }}|{{ strftime_now('%d %b %Y') }}|{{ extra }}",
      "vars");
  RenderOptions options;
  options.add_generation_prompt = true;
  options.bos_token = "<s>";
  options.eos_token = "</s>";
  options.extra = {{"extra", "x"}};
  options.now = std::tm{};
  options.now->tm_year = 124;
  options.now->tm_mon = 6;
  options.now->tm_mday = 26;
  EXPECT_EQ(t.render({}, options), "<s>True</s>|True|26 Jul 2024|x");
}

TEST(Jinja, RaiseExceptionThrowsTheTemplatesMessageWithItsPlace) {
  const ChatTemplate t = ChatTemplate::parse("line one\n{% if messages|length > 0 %}{{ raise_exception('No messages please') }}{% endif %}", "tmpl.jinja");
  test::expect_contains(test::error_message([&] { t.render({{"user", "hi"}}); }),
                        {"tmpl.jinja", "line 2", "No messages please"});
  EXPECT_EQ(t.render({}), "line one\n");
}

TEST(Jinja, SyntaxErrorsNameLineAndColumn) {
  const auto parse = [](const char* source) {
    return test::error_message([&] { ChatTemplate::parse(source, "bad.jinja"); });
  };
  test::expect_contains(parse("ok\n{% if x %}never closed"), {"bad.jinja", "line 2", "end of template", "'endif'"});
  test::expect_contains(parse("a\nb {{ 1 + }}"), {"line 2, column 10", "expected an expression"});
  test::expect_contains(parse("{{ 'unterminated }}"), {"line 1, column 4", "unterminated string"});
  test::expect_contains(parse("{% for x in y %}{% endif %}"), {"line 1, column 20", "unexpected 'endif'", "'endfor'"});
  test::expect_contains(parse("{% include 'x' %}"), {"unsupported tag 'include'"});
  test::expect_contains(parse("{{ x "), {"unclosed expression"});
  test::expect_contains(parse("{# never closed"), {"unclosed comment"});
  test::expect_contains(parse("{% break %}"), {"outside a for loop"});
  test::expect_contains(parse("{{ a ? b }}"), {"unexpected character '?'"});
  test::expect_contains(parse("{{ 99999999999999999999 }}"), {"64-bit"});
}

TEST(Jinja, RuntimeErrorsNameLineAndColumn) {
  const auto run = [](const char* source) {
    return test::error_message([&] { ChatTemplate::parse(source, "run.jinja").render({}); });
  };
  test::expect_contains(run("\n\n  {{ foo.bar }}"), {"run.jinja", "line 3", "'foo' is undefined"});
  test::expect_contains(run("{{ 1 / 0 }}"), {"division by zero"});
  test::expect_contains(run("{{ 'a' + 1 }}"), {"unsupported operand type(s) for +: 'str' and 'int'"});
  test::expect_contains(run("{{ undefined_fn() }}"), {"'undefined_fn' is undefined"});
  test::expect_contains(run("{{ 1 | nosuchfilter }}"), {"no filter named 'nosuchfilter'"});
  test::expect_contains(run("{{ 1 is nosuchtest }}"), {"no test named 'nosuchtest'"});
  test::expect_contains(run("{% for x in 5 %}{% endfor %}"), {"'int' object is not iterable"});
  test::expect_contains(run("{% set x = 1 %}{% set x.a = 2 %}"), {"not a namespace"});
  test::expect_contains(run("{{ messages.append(1) }}"), {"unsafe"});
  test::expect_contains(run("{{ 9223372036854775807 + 1 }}"), {"overflow"});
}

TEST(Jinja, HostileTemplatesFailInsteadOfHangingOrCrashing) {
  TemplateSettings settings;
  settings.limits.max_loop_iterations = 10'000;
  settings.limits.max_output_bytes = 1 << 20;
  const auto run = [&](const std::string& source) {
    return test::error_message([&] { ChatTemplate::parse(source, "evil", settings).render({}); });
  };
  test::expect_contains(run("{% for i in range(100000) %}{% endfor %}"), {"range()", "limit"});
  test::expect_contains(run("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"), {"loop iterations"});
  test::expect_contains(run("{{ 'x' * 100000000 }}"), {"too large"});
  test::expect_contains(run("{% for i in range(9000) %}{{ 'y' * 1000 }}{% endfor %}"), {"output is larger"});
  test::expect_contains(run("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), {"nested deeper"});
  std::string deep_blocks;
  for (int i = 0; i < 500; ++i) deep_blocks += "{% if true %}";
  test::expect_contains(run(deep_blocks), {"nesting deeper"});
  test::expect_contains(run("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"), {"nesting deeper"});
  test::expect_contains(run(std::string(500, '{') + "% if x %}"), {"line 1"});
}

TEST(Jinja, ArbitraryBytesNeverCrashTheParserOrRenderer) {
  // Every prefix of a real template, and byte soup built from template syntax,
  // must either render or throw Error.
  const std::string real =
      "{%- set ns = namespace(i=0) %}{% for m in messages[::-1] if m.role != 'x' %}{{ loop.index ~ m['content']|trim "
      "| tojson(indent=2) }}{% set ns.i = ns.i + 1 %}{% else %}{{ raise_exception('none') }}{% endfor %}{# c #}";
  const std::string alphabet = "{}%#-+()[]|.,:'\"~*/ \n\\ifsetforendxin0123";
  std::uint32_t seed = 12345;
  std::vector<std::string> inputs;
  for (std::size_t i = 0; i <= real.size(); ++i) inputs.push_back(real.substr(0, i));
  for (int n = 0; n < 2000; ++n) {
    std::string s;
    for (int k = 0; k < 40; ++k) {
      seed = seed * 1664525U + 1013904223U;
      s += alphabet[(seed >> 16) % alphabet.size()];
    }
    inputs.push_back(s);
  }
  for (const std::string& source : inputs) {
    try {
      ChatTemplate::parse(source, "fuzz").render({{"user", "u"}, {"assistant", "a"}});
    } catch (const Error&) {
    }
  }
  SUCCEED();
}

TEST(Jinja, InvalidUtf8SurvivesUnchanged) {
  const std::string bytes = "a\xff\xfe" "b\xc3";
  const ChatTemplate t = ChatTemplate::parse("{{ messages[0].content }}|{{ messages[0].content[1:] }}", "utf8");
  EXPECT_EQ(t.render({{"user", bytes}}), bytes + "|" + bytes.substr(1));
}

TEST(Jinja, RendersConcurrentlyFromOneParsedTemplate) {
  const ChatTemplate t = ChatTemplate::parse("{% for m in messages %}{{ m.content|upper }}{% endfor %}", "threads");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 200; ++k) ok += t.render({{"user", "ab"}, {"user", "c"}}) == "ABC";
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 800);
}

}  // namespace
}  // namespace helix::chat
