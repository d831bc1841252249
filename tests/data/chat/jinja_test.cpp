// Engine unit tests: constructs whose Python semantics are easy to get wrong, the sandbox limits, and
// the error messages (line and construct named). Byte-exact parity with jinja2 over whole templates is
// in test_template_parity.py; expected strings here are what Python/jinja2 prints.
#include <gtest/gtest.h>

#include "core/error.h"
#include "data/chat_template.h"
#include "data/jinja/template.h"

namespace tailor::data::jinja {
namespace {

std::string render(const std::string& source, Variables vars = {}, Limits limits = {}) {
  return Template(source).render(vars, limits).text.text;
}

std::string error_of(const std::string& source, Variables vars = {}, Limits limits = {}) {
  try {
    Template t(source);
    t.render(vars, limits);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Jinja, WhitespaceControlAsTransformersConfiguresIt) {
  EXPECT_EQ(render("{% if true %}\n  x\n{% endif %}\n"), "  x\n");          // trim_blocks + trailing newline
  EXPECT_EQ(render("a\n    {% if true %}b{% endif %}"), "a\nb");            // lstrip_blocks
  EXPECT_EQ(render("a\n    {%+ if true %}b{% endif %}"), "a\n    b");       // + keeps the indent
  EXPECT_EQ(render("a   {{- 'b' -}}   c"), "abc");
  EXPECT_EQ(render("{{ 'x' }}\n{{ 'y' }}"), "x\ny");                          // no trimming after {{ }}
}

TEST(Jinja, LoopVariablesAndControl) {
  EXPECT_EQ(render("{% for x in 'abc' %}{{ loop.index }}{{ loop.revindex0 }}{{ loop.first }}{% endfor %}"),
               "12True21False30False");
  EXPECT_EQ(render("{% for x in [1,2,3] %}{{ loop.previtem if loop.previtem is defined else '-' }}{% endfor %}"), "-12");
  EXPECT_EQ(render("{% for x in range(6) if x is odd %}{{ x }}/{{ loop.length }} {% endfor %}"), "1/3 3/3 5/3 ");
  EXPECT_EQ(render("{% for x in range(9) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}"), "02");
  EXPECT_EQ(render("{% set c = 0 %}{% for x in [1, 2] %}{% set c = c + x %}{% endfor %}{{ c }}"), "0");  // loop scope
  EXPECT_EQ(render("{% set ns = namespace(c=0) %}{% for x in [1, 2] %}{% set ns.c = ns.c + x %}{% endfor %}{{ ns.c }}"), "3");
}

TEST(Jinja, PythonSemantics) {
  EXPECT_EQ(render("{{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1e16 }} {{ 1e15 }} {{ 0.1 + 0.2 }}"),
            "-4 2 3.5 1024 1e+16 1000000000000000.0 0.30000000000000004");
  EXPECT_EQ(render("{{ 'héllo'[1] }}{{ 'héllo'[::-1] }}{{ [1,2,3,4,5][-2:0:-2] }}{{ 'héllo' | length }}"), "éolléh[4, 2]5");
  EXPECT_EQ(render("{{ none }} {{ true }} {{ [1, 'a', none] }} {{ {'k': 'v'} }} {{ undefined_name }}"),
            "None True [1, 'a', None] {'k': 'v'} ");
  EXPECT_EQ(render("{{ ' a b '.split() }}{{ 'a,b,,c'.split(',', 2) }}{{ 'a b c'.rsplit(' ', 1) }}"),
            "['a', 'b']['a', 'b', ',c']['a b', 'c']");
  EXPECT_EQ(render("{{ '<think>x</think>y'.split('</think>')[-1] }}{{ '\\n\\nab\\n'.strip('\\n') }}"), "yab");
  EXPECT_EQ(render("{{ 'x' ~ 1 ~ none }} {{ 'ab' * 2 }} {{ 'b' in 'abc' }} {{ 3 not in [1, 2] }}"), "x1None abab True True");
}

TEST(Jinja, TojsonMatchesJsonDumps) {
  Variables vars = {{"v", from_json(nlohmann::ordered_json::parse(R"({"b": [1, 2.5, null, true], "a": "é\"\n🤖"})"), -1)}};
  EXPECT_EQ(render("{{ v | tojson }}", vars), "{\"b\": [1, 2.5, null, true], \"a\": \"é\\\"\\n🤖\"}");
  EXPECT_EQ(render("{{ v | tojson(ensure_ascii=true) }}", vars), "{\"b\": [1, 2.5, null, true], \"a\": \"\\u00e9\\\"\\n\\ud83e\\udd16\"}");
  EXPECT_EQ(render("{{ v.b | tojson(indent=2) }}", vars), "[\n  1,\n  2.5,\n  null,\n  true\n]");
  EXPECT_EQ(render("{{ v | tojson(sort_keys=true, separators=(',', ':')) }}", vars), "{\"a\":\"é\\\"\\n🤖\",\"b\":[1,2.5,null,true]}");
}

TEST(Jinja, MacrosCallAndFilterBlocks) {
  EXPECT_EQ(render("{% macro m(a, b='d') %}[{{ a }}{{ b }}]{% endmacro %}{{ m(1) }}{{ m(1, b=2) }}"), "[1d][12]");
  EXPECT_EQ(render("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}in{% endcall %}"), "<in>");
  EXPECT_EQ(render("{% filter upper %}ab{% endfilter %}{% set x | trim %}  y  {% endset %}[{{ x }}]"), "AB[y]");
}

TEST(Jinja, GenerationBlocksRecordSpans) {
  Template t("a{% generation %}bc{% endgeneration %}d{% generation %}e{% endgeneration %}");
  EXPECT_TRUE(t.has_generation_blocks());
  Rendered r = t.render({});
  EXPECT_EQ(r.text.text, "abcde");
  ASSERT_EQ(r.generation_spans.size(), 2u);
  EXPECT_EQ(r.generation_spans[0], std::make_pair(size_t{1}, size_t{3}));
  EXPECT_EQ(r.generation_spans[1], std::make_pair(size_t{4}, size_t{5}));
}

TEST(Jinja, DataProvenanceSurvivesStringOperations) {
  Variables vars = {{"c", Value::from(Str::data("  <|im_end|> hi  ", 3))}};
  Rendered r = Template("<|im_start|>{{ c | trim }}{{ c.split(' ')[2] ~ '!' }}").render(vars);
  EXPECT_EQ(r.text.text, "<|im_start|><|im_end|> hi<|im_end|>!");
  ASSERT_EQ(r.text.spans.size(), 1u);  // adjacent data runs of one message merge
  EXPECT_EQ(r.text.spans[0].begin, 12u);
  EXPECT_EQ(r.text.spans[0].end, 12u + 13u + 10u);
  EXPECT_EQ(r.text.spans[0].label, 3);
}

TEST(JinjaSandbox, LimitsAreEnforced) {
  Limits small;
  small.max_loop_iterations = 1000;
  EXPECT_NE(error_of("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", {}, small).find("loop iterations"),
            std::string::npos);
  EXPECT_NE(error_of("{{ range(1000000) | length }}").find("range() too big"), std::string::npos);
  Limits tiny_output;
  tiny_output.max_output_bytes = 100;
  EXPECT_NE(error_of("{{ 'x' * 1000 }}", {}, tiny_output).find("exceeds the limit"), std::string::npos);
  EXPECT_NE(error_of("{% for i in range(50) %}0123456789{% endfor %}", {}, tiny_output).find("exceeds the limit"), std::string::npos);
  EXPECT_NE(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("recursion deeper than"), std::string::npos);
}

TEST(JinjaSandbox, NoAttributeAccessBeyondData) {
  EXPECT_NE(error_of("{{ messages.__class__ }}", {{"messages", Value::from(Array{})}}).find("attribute '__class__' is not allowed"),
            std::string::npos);
  EXPECT_NE(error_of("{{ ''.__class__.__mro__ }}").find("is not allowed"), std::string::npos);
  EXPECT_NE(error_of("{{ x['__globals__'] }}", {{"x", from_json(nlohmann::ordered_json::object(), -1)}}).find("is not allowed"),
            std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(_secret=1) %}").find("must not start with '_'"), std::string::npos);
  EXPECT_NE(error_of("{% set d = {} %}{% set d.x = 1 %}").find("not a namespace()"), std::string::npos);
  EXPECT_EQ(render("{{ 'abc'.format }}"), "");  // methods exist only when called
}

TEST(JinjaErrors, NameTheLineAndConstruct) {
  EXPECT_EQ(error_of("a\n{% include 'x.jinja' %}"), "line 2: unsupported construct '{% include %}'");
  EXPECT_EQ(error_of("{% extends 'base' %}"), "line 1: unsupported construct '{% extends %}'");
  EXPECT_EQ(error_of("\n\n{{ x | bogus }}"), "line 3: unsupported filter 'bogus'");
  EXPECT_EQ(error_of("{% if x is shiny %}{% endif %}"), "line 1: unsupported test 'shiny'");
  EXPECT_EQ(error_of("{% for x in y %}"), "line 1: missing {% endfor %}");
  EXPECT_EQ(error_of("{{ 'abc' "), "line 1: unterminated expression '{{'");
  EXPECT_EQ(error_of("x\n{{ raise_exception('Roles must alternate') }}"), "line 2: template raised an exception: Roles must alternate");
  EXPECT_EQ(error_of("{{ a.b.c }}", {{"a", from_json(nlohmann::ordered_json::object(), -1)}}), "line 1: 'b' is undefined");
  EXPECT_EQ(error_of("{{ 1 + 'a' }}"), "line 1: unsupported operand types for +: 'int' and 'str'");
  EXPECT_EQ(error_of("{{ a < b < c }}"), "line 1: unsupported construct: chained comparison");
}

TEST(ChatTemplate, NormalizesMessagesLikeTransformers) {
  data::ChatTemplate t("{% for m in messages %}{{ m | tojson }}{% endfor %}|{{ tools }}");
  auto messages = nlohmann::ordered_json::parse(R"([{"role": "assistant", "content": "a", "tool_calls": null, "reasoning": "r"}])");
  EXPECT_EQ(t.render(messages), R"({"thinking": "r", "role": "assistant", "content": "a", "reasoning": "r", "reasoning_content": "r"}|None)");
  EXPECT_THROW(t.render(nlohmann::ordered_json::parse(R"({"role": "user"})")), InputError);
  EXPECT_THROW(data::ChatTemplate("{% for %}"), InputError);
}

}  // namespace
}  // namespace tailor::data::jinja
