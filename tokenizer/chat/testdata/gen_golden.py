#!/usr/bin/python3
"""gen_golden.py writes golden.jsonl: chat templates rendered by Jinja2 exactly as Hugging Face
transformers' apply_chat_template renders them, for the tests of package tokenizer/chat.

Run it once, from the repository root, with Debian's python3-jinja2 (3.1.x) and nothing else:

    /usr/bin/python3 tokenizer/chat/testdata/gen_golden.py \
        --jinja-module "$(go list -m -f '{{.Dir}}' github.com/ardanlabs/jinja)"

The environment is the one of transformers' _compile_jinja_template (src/transformers/utils/
chat_template_utils.py): ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
loopcontrols extension and the {% generation %} tag, its tojson filter (json.dumps with ensure_ascii=False),
and the globals raise_exception (raises TemplateError) and strftime_now, here on a fixed clock. Each
template is rendered with messages, tools, documents and add_generation_prompt, and the special tokens
and extra variables of the case, as apply_chat_template passes them ({**special_tokens_map, **kwargs}).

Templates come from testdata/*.jinja (committed, see README.md) and from the module
github.com/ardanlabs/jinja v1.8.0's testdata/templates (read where Go keeps the module; Meta's Llama 3.2
template is not committed). Each record is one JSON object a line:

    {"template", "case", "messages", "add_generation_prompt", "tools", "documents", "vars", "output"}

with "error" (the message of a TemplateError, as raise_exception raises it) or "error_type" (the class of
any other exception) in place of "output" when Jinja2 raised.
"""

import argparse
import datetime
import hashlib
import json
import os
import sys

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))

# The fixed clock of strftime_now (the Go test uses the same instant).
CLOCK = datetime.datetime(2025, 3, 7, 14, 5, 9)

# name -> (file, sha256, special tokens as the model's tokenizer_config.json gives them)
LOCAL = {
    "qwen3": ("qwen3.jinja", "87a2728cb8dc9fe424d624542f6060ec05a1d285ebbec578bb078900e33396b5",
              {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "qwen2-audio-7b": ("qwen2-audio-7b.jinja", "793202280c0910ab26bc6eb57c8212c2417324c6d8c4efd0d10d59092ab3e3eb",
                       {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}),
    "ministral-3-14b-instruct-2512": (
        "ministral-3-14b-instruct-2512.jinja", "87e109c99619246a45ca19ab968d7de9834f8cd124ff772124f846bcd40e60f4",
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}),
    "mistral-7b-instruct-v0.1": (
        "mistral-7b-instruct-v0.1.jinja", "7e995b379ec01747807246483647cd99030abf331653f1119e16d7ac041a3495",
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
    "zephyr-7b-beta": ("zephyr-7b-beta.jinja", "66291cf0045c2425a3a667cf3cbb7af2b11f09e025c02f97245323ab79119362",
                       {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
}

# Templates read from the ardanlabs/jinja module (file under testdata/templates, sha256, special tokens).
MODULE = {
    "llama-3.2-1b-instruct": (
        "Llama-3.2-1B-Instruct-GGUF.jinja", "5816fce10444e03c2e9ee1ef8a4a1ea61ae7e69e438613f3b17b69d0426223a4",
        {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}),
}

# The module's other templates, larger and newer ones: the Go test accepts that Parse refuses one of
# them (ErrUnsupported), and otherwise compares every record. Special tokens are generic.
STRESS_SPECIAL = {"bos_token": "<s>", "eos_token": "</s>"}
STRESS = ["DeepSeek-V4-Flash.jinja", "GLM-5.2.jinja", "Kimi-K3.jinja", "LFM2.5-VL-1.6B-Q8_0.jinja",
          "Mistral-Medium-3.5-128B-GGUF.jinja", "NVIDIA-Nemotron-3-Super.jinja", "Qwen3-8B-Q8_0.jinja",
          "Qwen3-VL-30B-A3B-Instruct-Q8_0.jinja", "Qwen3.5-35B-A3B-Q8_0.jinja", "Qwen3.6-35B-A3B-UD-Q4_K_M.jinja",
          "gemma-4-26B-A4B-it-UD-Q8_K_XL.jinja", "gpt-oss-20b-Q8_0.jinja", "laguna.jinja", "rnj-1-instruct-Q6_K.jinja"]

# Small templates of our own, each aimed at one part of Jinja2 (whitespace control, literals, printing,
# operators, loops and scoping, filters, tests, methods, Markup, errors), rendered over SYNTHETIC_MESSAGES.
SYNTHETIC = {
    "ws_blocks": "  {% if true %}\n  x\n  {% endif %}\n{{ 'a' }}   {% if true %}b{% endif %}\n  {#- c #}  y {# c2 -#}\n  z\n{%+ if true %}p{% endif +%}\nq{% raw %} {{ raw }} {%- if %} {% endraw %}\n  {%- raw -%}  r  {%- endraw %}\nend\n",
    "ws_loop": "\n{{ bos_token }}{%- if true %} a {% endif -%}\n\n  b\t\n\t{% for m in messages %}\n\t\t{{ m.role }}\n\t{% endfor %}\r\nc\r\n\n",
    "ws_mixed": "{% for m in messages %}  {{ m.role }}  {%- if not loop.last %}, {% endif %}\n{% endfor %}\n   {{- '|' -}}   \n {# comment #}\n  {% set x = 1 %}  \n{{ x }}\u00a0 {%- if true -%} \u3000 y {%- endif %}",
    "ws_first_line": "    {%- if true %}A{% endif %}\n    {% if true %}B{% endif %}",
    "literals": "{{ '\\x41\\u00e9\\U0001F600\\t|\\101|\\q|\\\\|\\'' }}{{ \"dq\\\"\" }}{{ 'a' 'b' \"c\" }}{{ 'multi\nline' }}{{ 1_0 if false else 10 }}",
    "printing": "{{ none }}|{{ true }}|{{ 1.0 }}|{{ 1e20 }}|{{ 1.5e-7 }}|{{ 0.1 + 0.2 }}|{{ 10 / 4 }}|{{ 1e16 }}|{{ 123456789.0 * 10 }}|{{ [1, 'a', none, true, 1.5, \"it's\"] }}|{{ {'k': 'v', 'n': none, 'l': [{}]} }}|{{ messages[1] }}|{{ undefined_var }}|{{ 'x' ~ 1 ~ none ~ undefined_var ~ [2] }}|{{ 'tab\\there' ~ ['tab\\t', 'nl\\n', '\\x01', 'é😀'] }}",
    "operators": "{{ 1 + 2 * 3 - 4 / 2 }}|{{ (1 + 2) * 3 }}|{{ 2 ** 3 ** 2 }}|{{ 'ab' * 3 }}|{{ [1] + [2] }}|{{ 1 < 2 < 3 }}|{{ 1 < 2 > 3 }}|{{ 'a' < 'b' }}|{{ 'a' in 'cat' }}|{{ 'x' not in ['x'] }}|{{ not 0 }}|{{ 0 or 'y' }}|{{ '' and 'z' }}|{{ 1 if false }}|{{ 'yes' if 1 else 'no' }}|{{ true == 1 }}|{{ 1 == 1.0 }}|{{ [1, 2] == [1, 2] }}|{{ -(2) }}|{{ 10 % 3 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 % -3 }}|{{ 2.5 // 1 }}|{{ 7.5 % 2 }}|{{ -3|abs }}|{{ - 3 ** 2 }}|{{ 2 * -1 }}|{{ 'b' > 'a' and 'c' }}|{{ 3 - 1 - 1 }}|{{ 'k' in {'k': 1} }}",
    "loops": "{% for m in messages %}{{ loop.index }}/{{ loop.length }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.revindex }}{{ loop.revindex0 }}{% if loop.previtem is defined %}p{{ loop.previtem.role }}{% endif %}{% if loop.nextitem is defined %}n{% endif %}{{ loop.cycle('a', 'b') }};{% endfor %}|{% set x = 1 %}{% for i in [1, 2, 3] %}{{ x }}{% set x = x + i %}{{ x }};{% endfor %}{{ x }}|{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}|{% for i in [] %}x{% else %}empty{% endfor %}|{% for m in messages if m.role == 'user' %}{{ loop.index }}{{ m.content }}{% endfor %}|{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{% endfor %}{{ loop.index }}{% endfor %}|{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }}{% endfor %}{% for k in {'x': 1} %}{{ k }}{% endfor %}{% for c in 'hé' %}[{{ c }}]{% endfor %}|{% for i in range(3) %}{% if i == 0 %}{% set y = 'set' %}{% endif %}{{ y }};{% endfor %}|{% for a, b in [[1, 2], 'xy'] %}{{ a }}{{ b }}{% endfor %}|{% for i in range(2, 9, 3) %}{{ i }}{% endfor %}{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}",
    "namespace": "{% set ns = namespace(a=1, b='x') %}{% for i in [1, 2] %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}{{ ns.b }}|{% set d = dict(z=1, a=2) %}{{ d }}|{% set n2 = namespace({'k': 'v'}, m=2) %}{{ n2.k }}{{ n2.m }}",
    "str_methods": "{% for m in messages %}[{{ m.content.strip() }}|{{ m.content.lstrip() }}|{{ m.content.rstrip() }}|{{ m.content.split() }}|{{ m.content.split(' ', 1) }}|{{ m.content.rsplit(none, 1) }}|{{ m.content.split('e') }}|{{ m.content.rsplit('e', 1) }}|{{ m.content.startswith(('a', ' ')) }}|{{ m.content.endswith('\\n') }}|{{ m.content.replace(' ', '_') }}|{{ m.content.replace('e', 'E', 1) }}|{{ m.content.find('e') }}|{{ m.content.rfind('e') }}|{{ m.content.count('e') }}|{{ m.content.strip(' S\\n') }}|{{ m.content|trim }}|{{ m.content|trim('b') }}|{{ m.content|length }}|{{ m.content|reverse }}|{{ '-'.join(m.content.split()) }}]{% endfor %}",
    "case": "{{ 'Hello WORLD'|lower }}|{{ 'hello'|upper }}|{{ 'hELLO wORLD'|capitalize }}|{{ 'ÉCOLE'.lower() }}|{{ 'école'.upper() }}|{{ 'abc' is lower }}|{{ 'ABC' is upper }}|{{ 'A1' is upper }}|{{ '1' is lower }}",
    "filters": "{{ messages|map(attribute='role')|join(', ') }}|{{ messages|selectattr('role', 'equalto', 'user')|list|length }}|{{ messages|rejectattr('role', 'in', ['user'])|map(attribute='content')|list }}|{{ messages|selectattr('content')|list|length }}|{{ [0, 1, '', 'a', none]|select|list }}|{{ [1, 2, 3, 4]|reject('odd')|list }}|{{ messages|first }}|{{ (messages|last).role }}|{{ 'abc'|first }}{{ 'abc'|last }}|{{ messages|length }}|{{ x|default('dflt') }}|{{ ''|default('e', true) }}|{{ none|default('n') }}|{{ [3, 1, 2]|sort }}|{{ ['b', 'A', 'a']|sort }}|{{ ['b', 'A', 'a']|sort(case_sensitive=true) }}|{{ [3, 1, 2]|sort(reverse=true) }}|{{ messages|sort(attribute='role')|map(attribute='role')|join }}|{{ '5'|int + 1 }}|{{ 2.7|int }}|{{ 'x'|int }}|{{ {'a': 1}|items|list }}|{{ 'a-b-c'|replace('-', '+', 1) }}|{{ 3|string + 'x' }}|{{ [1, 2]|join('+') }}|{{ {'b': 1, 'a': 2}|list }}|{{ messages|map(attribute='nope', default='-')|list }}|{{ messages|map(attribute='role')|reverse|list }}|{{ 'abc'|list }}|{{ x|length }}",
    "tojson": "{{ tools|tojson }}\n{{ tools|tojson(indent=2) }}\n{{ tools[0]|tojson(separators=(',', ':')) }}\n{{ tools|tojson(ensure_ascii=true) }}\n{{ tools[0]|tojson(sort_keys=true, indent='\\t') }}\n{{ 'é\\u2028<>&\\x00\\x1f\\x7f\\\\\"'|tojson }}{{ 1.0|tojson }}{{ [none, true, 1.5e-7, 100000000000000000000.0, {}, []]|tojson }}{{ messages|tojson(indent=0) }}{{ '😀'|tojson(true) }}",
    "tests": "{% for v in [none, true, 1, 1.5, 'a', [1], {'a': 1}] %}{{ v is none }}{{ v is boolean }}{{ v is integer }}{{ v is float }}{{ v is number }}{{ v is string }}{{ v is sequence }}{{ v is mapping }}{{ v is iterable }}{{ v is defined }}{{ v is true }}{{ v is false }};{% endfor %}{{ x is undefined }}{{ x is iterable }}{{ x is sequence }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}{{ 2 is in [1, 2] }}{{ 1 is eq 1.0 }}{{ 1 is ne 2 }}{{ 2 is gt 1 }}{{ 2 is lessthan 1 }}{{ none is sameas none }}{{ raise_exception is callable }}{{ 'x' is callable }}{{ messages is not string }}",
    "items_attrs": "{{ messages[0]['role'] }}|{{ messages[0].role }}|{{ {'items': 1}['items'] }}|{{ {'a': {'b': 2}}.a.b }}|{{ {'get': 5}.get('get') }}|{{ messages[0].get('role') }}|{{ messages[0].get('nope', 'dflt') }}|{{ messages[0].get('nope') }}|{{ messages[0].keys()|list }}|{{ messages[0].values()|list }}|{{ messages[1:]|length }}|{{ messages[::-1][0].role }}|{{ 'hello'[1:3] }}|{{ 'hello'[::-2] }}|{{ [1, 2, 3, 4, 5][-2:] }}|{{ [1, 2, 3][5:] }}|{{ 'héllo'[1] }}|{{ messages[10] is defined }}|{{ messages[-1].content }}|{{ [1, 2, 3][1:-1] }}|{{ [1, 2, 3][-10:10:2] }}|{{ 'abc'[-1:-10:-1] }}|{{ messages.0.role }}|{{ {'items': 1}.items is defined }}|{{ none.attr is defined }}|{{ messages['0'] is defined }}",
    "macros": "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(name='c') }}|{% set x %}inner {{ 1 + 1 }}{% endset %}[{{ x }}]|{% macro nl() %}\n  line\n{% endmacro %}{{ nl() }}",
    "and_or": "{{ () or 'e' }}|{{ ('' | safe) or 'm' }}|{{ (1,) and 'x' }}|{{ none or none }}|{{ 0 and nope.x }}|{{ 1 or nope.x }}|{{ (1, 'a') }}|{{ (1,) + (2,) }}|{{ (1,) == [1] }}|{{ {'b': 1, 'A': 2, 'a': 3}|dictsort }}|{{ {'b': 1, 'a': 3}|dictsort(by='value', reverse=true) }}|{{ 'ab'.startswith(('x', 'a')) }}",
    "markup": "{% set s = '<b>'|safe %}{{ 'x<' + s }}|{{ s + '&' }}|{{ s ~ '<' }}|{{ s|length }}|{{ s is string }}|{{ s + s }}|{{ s }}",
    "strftime": "{{ strftime_now('%Y-%m-%d %H:%M:%S %a %A %b %B %j %p %I %y %%') }}|{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%-d %B') }}|{{ strftime_now('%e|%w|%Z|%z') }}",
    "generation": "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.role }}{% endif %}{% endfor %}",
    "err_raise": "{{ 'before' }}{{ raise_exception('custom: ' ~ messages|length ~ ' \"quoted\"') }}",
    "err_undefined_attr": "{{ messages[0].nope.deeper }}",
    "err_type": "{{ 1 + 'a' }}",
    "err_security": "{{ messages.append(1) }}",
    "err_security_dict": "{% set d = {} %}{{ d.update({'a': 1}) }}",
    "err_undefined_add": "{{ nope + 'x' }}",
    "err_iterate_none": "{% for x in none %}{% endfor %}",
    "err_compare": "{{ 1 < 'a' }}",
    "err_unpack": "{% for a, b in [[1, 2, 3]] %}{% endfor %}",
}
SYNTHETIC_MESSAGES = [{"role": "system", "content": "  Sys prompt  \n"}, {"role": "user", "content": "Hello there, é"},
                      {"role": "assistant", "content": "Answer one\n"}, {"role": "user", "content": "bye"}]


def environment():
    class Generation(jinja2.ext.Extension):
        # transformers' AssistantTracker: {% generation %}…{% endgeneration %} renders its body unchanged.
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller):
            return caller()

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return CLOCK.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def msg(role, content, **extra):
    m = {"role": role, "content": content}
    m.update(extra)
    return m


SYSTEM = "You are a terse assistant."
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the weather for a city – in °C, with \"quotes\" & <tags>.",
        "parameters": {"type": "object",
                       "properties": {"city": {"type": "string", "description": "City name, e.g. Zürich"},
                                      "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                       "required": ["city"]}}},
    {"type": "function", "function": {"name": "now", "description": "The time.", "parameters": {"type": "object", "properties": {}}}},
]
TOOL_CALLS = [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}}}]

# Each case: name, messages, and optional kwargs (add_generation_prompt is rendered both ways unless given).
CASES = [
    ("user", [msg("user", "Hello!")], {}),
    ("system_user", [msg("system", SYSTEM), msg("user", "What is 2+2?")], {}),
    ("multi_turn", [msg("system", SYSTEM), msg("user", "Hi."), msg("assistant", "Hello. How can I help?"),
                    msg("user", "Name a colour."), msg("assistant", "Blue.")], {}),
    ("multi_turn_no_system", [msg("user", "One?"), msg("assistant", "Two."), msg("user", "Three?")], {}),
    ("prefix_assistant_last", [msg("user", "Say yes."), msg("assistant", "Yes.")], {}),
    ("unicode", [msg("system", "Réponds en français 🇫🇷."), msg("user", "你好，世界！👩‍👩‍👧 مرحبا ñ"),
                 msg("assistant", "Bonjour 😀 — ça va ?"), msg("user", "Ελληνικά, русский, हिन्दी")], {}),
    ("jinja_text", [msg("user", "Render {{ x }} and {% if y %}z{% endif %} and {# c #} {%- raw %}"),
                    msg("assistant", "{{ '}}' }} %} #} {{- -}} {% endraw %}"), msg("user", "{{ messages }}")], {}),
    ("whitespace", [msg("system", "  padded system\n\n"), msg("user", "\n\tTabbed and newlines\n\n "),
                    msg("assistant", "   spaced answer   "), msg("user", "\u00a0nbsp\u3000ideographic\u2028")], {}),
    ("control_whitespace", [msg("user", "\x1funit separator and vertical tab\x0b"), msg("assistant", "\x0cform feed\x1c")], {}),
    ("crlf", [msg("user", "line one\r\nline two\r\n"), msg("assistant", "\rcarriage\r")], {}),
    ("empty_content", [msg("user", ""), msg("assistant", ""), msg("user", "x")], {}),
    ("think_in_content", [msg("user", "2+2?"), msg("assistant", "<think>\nAdd them.\n</think>\n\n4"),
                          msg("user", "3+3?"), msg("assistant", "<think>\n\nAdd again.\n\n</think>\n\n\n6")], {}),
    ("reasoning_content", [msg("user", "2+2?"), msg("assistant", "4", reasoning_content="Two and two.")], {}),
    ("bad_alternation", [msg("user", "One."), msg("user", "Two.")], {}),
    ("assistant_first", [msg("assistant", "I start."), msg("user", "Fine.")], {}),
    ("tools", [msg("system", SYSTEM), msg("user", "Weather in Zürich?"),
               msg("assistant", "", tool_calls=TOOL_CALLS), msg("tool", "{\"temp\": 21}"),
               msg("assistant", "21 °C.")], {"tools": TOOLS}),
    ("tools_no_system", [msg("user", "Weather in Zürich?")], {"tools": TOOLS}),
    ("enable_thinking_false", [msg("user", "Quick answer?")], {"vars": {"enable_thinking": False}}),
    ("date_string", [msg("user", "What day is it?")], {"vars": {"date_string": "1 Jan 2030"}}),
    ("no_messages", [], {}),
]


def render(env, src, special, messages, add_generation_prompt, tools, documents, variables):
    template = env.from_string(src)
    kwargs = {**special, **variables}
    return template.render(messages=messages, tools=tools, documents=documents,
                           add_generation_prompt=add_generation_prompt, **kwargs)


# Pieces of random message contents for --random.
PIECES = ["Hello", " ", "  ", "\n", "\n\n", "\t", "\r\n", "é", "日本語", "👩‍👩‍👧", "🇫🇷", "\u00a0", "\u2028", "\x1f", "\x0b",
          "{{ x }}", "{%- if y %}", "{# z #}", "{% endraw %}", "'", '"', "\\", "<think>", "</think>", "<think>\nr\n</think>\n\n",
          "<tool_response>", "</tool_response>", "[INST]", "<|im_end|>", "<s>", "</s>", "0", "None", "a b c", "-->", "&<>"]


def random_records(rng, name, count):
    for _ in range(count):
        roles = []
        if rng.random() < 0.5:
            roles.append("system")
        turns = rng.randint(0, 5)
        for i in range(turns):
            roles.append("user" if i % 2 == 0 else "assistant")
        if rng.random() < 0.1 and roles:
            rng.shuffle(roles)
        if rng.random() < 0.1:
            roles.append(rng.choice(["tool", "user", "assistant"]))
        messages = []
        for role in roles:
            content = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6)))
            m = msg(role, content)
            if role == "assistant" and rng.random() < 0.2:
                m["reasoning_content"] = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 4)))
            if role == "assistant" and rng.random() < 0.1:
                m["tool_calls"] = TOOL_CALLS
            messages.append(m)
        opts = {}
        if rng.random() < 0.2:
            opts["tools"] = TOOLS
        if rng.random() < 0.2:
            opts["vars"] = {"enable_thinking": rng.random() < 0.5}
        yield "random", messages, opts, rng.random() < 0.5


def fill(env, src, rec):
    """fill renders rec's case into rec["output"], or records the exception; it returns 1 for an exception."""
    try:
        rec["output"] = render(env, src, rec["special"], json.loads(json.dumps(rec["messages"])), rec["add_generation_prompt"],
                               json.loads(json.dumps(rec["tools"])), None, rec["vars"])
        return 0
    except jinja2.exceptions.TemplateError as e:
        if type(e) is jinja2.exceptions.TemplateError:
            rec["error"] = e.message
        else:
            rec["error_type"] = type(e).__name__
    except Exception as e:  # noqa: BLE001 - any other failure is recorded by its class
        rec["error_type"] = type(e).__name__
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jinja-module", required=True, help="directory of github.com/ardanlabs/jinja@v1.8.0")
    ap.add_argument("--out", default=os.path.join(HERE, "golden.jsonl"))
    ap.add_argument("--random", type=int, default=0,
                    help="write this many random conversations per real template to --out instead of the golden file")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    templates = {}
    for name, (file, sha, special) in LOCAL.items():
        templates[name] = (os.path.join(HERE, file), sha, special)
    for name, (file, sha, special) in MODULE.items():
        templates[name] = (os.path.join(args.jinja_module, "testdata", "templates", file), sha, special)

    stress = {}
    for file in STRESS:
        path = os.path.join(args.jinja_module, "testdata", "templates", file)
        stress["module/" + file] = (path, hashlib.sha256(open(path, "rb").read()).hexdigest(), STRESS_SPECIAL)

    env = environment()
    n = errors = 0
    if args.random:
        import random
        rng = random.Random(args.seed)
        with open(args.out, "w", encoding="utf-8") as out:
            for name, (path, sha, special) in templates.items():
                src = open(path, encoding="utf-8").read()
                for case, messages, opts, gen in random_records(rng, name, args.random):
                    rec = {"template": name, "case": case, "messages": messages, "add_generation_prompt": gen,
                           "tools": opts.get("tools"), "documents": None, "special": special, "vars": opts.get("vars", {})}
                    errors += fill(env, src, rec)
                    out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += 1
        print(f"wrote {n} random records ({errors} errors) to {args.out}")
        return
    with open(args.out, "w", encoding="utf-8") as out:
        for name, src in SYNTHETIC.items():
            rec = {"template": "synthetic/" + name, "source": src, "case": "synthetic", "messages": SYNTHETIC_MESSAGES,
                   "add_generation_prompt": True, "tools": TOOLS, "documents": None,
                   "special": {"bos_token": "<s>", "eos_token": "</s>"}, "vars": {}}
            errors += fill(env, src, rec)
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
        for name, (path, sha, special) in {**templates, **stress}.items():
            raw = open(path, "rb").read()
            if hashlib.sha256(raw).hexdigest() != sha:
                sys.exit(f"{path}: sha256 differs")
            src = raw.decode("utf-8")
            for case, messages, opts in CASES:
                gens = [opts["add_generation_prompt"]] if "add_generation_prompt" in opts else [False, True]
                for gen in gens:
                    rec = {"template": name, "sha256": sha, "case": case, "messages": messages, "add_generation_prompt": gen,
                           "tools": opts.get("tools"), "documents": None, "special": special,
                           "vars": opts.get("vars", {})}
                    errors += fill(env, src, rec)
                    out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                    n += 1
    print(f"wrote {n} records ({errors} errors) to {args.out} with jinja2 {jinja2.__version__}")


if __name__ == "__main__":
    main()
