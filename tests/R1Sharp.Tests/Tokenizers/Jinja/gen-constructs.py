"""Writes tests/R1Sharp.Tests/Data/tokenizers/expected/jinja-constructs.json: one case per Jinja construct the
chat-template renderer supports, rendered by Python's jinja2 as transformers configures it (render_jinja2.py).
JinjaConstructTests renders each case with R1Sharp's renderer and expects the same text, or an error where
jinja2 raised one.

Regenerate (from the repo root; needs Python 3 with jinja2 >= 3.1):
    python3 tests/R1Sharp.Tests/Tokenizers/Jinja/gen-constructs.py
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jinja2  # noqa: E402
from render_jinja2 import render  # noqa: E402

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi <b>there</b> 👋"},
    {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nHello!", "reasoning_content": None},
    {"role": "user", "content": "  spaced  "},
]
TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city, e.g. \"Paris\" — ünïcödé",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "default": 1},
                       "scale": {"type": "number", "minimum": 0.5, "maximum": 1e20}}, "required": ["city"]}}}

# (name, template, variables)
CASES = [
    # text, output, comments
    ("text", "plain text, no tags", {}),
    ("output-string", "{{ 'a' }}{{ \"b\" }}{{ 'c' 'd' }}", {}),
    ("output-variable", "{{ name }}!", {"name": "Ada"}),
    ("output-undefined-is-empty", "[{{ missing }}]", {}),
    ("output-none-bool-number", "{{ none }} {{ true }} {{ false }} {{ 3 }} {{ 2.5 }} {{ 1.0 }} {{ x }}", {"x": None}),
    ("output-list-dict-repr", "{{ [1, 'a', none, true, 1.5] }} {{ {'k': \"it's\", 'n': [1]} }} {{ (1,) }} {{ (1, 2) }}", {}),
    ("output-tuple", "{{ 1, 'x' }}", {}),
    ("comment", "a{# a comment {{ not rendered }} #}b", {}),
    ("string-escapes", r"{{ 'tab\tnl\nq\'dq\"bs\\u:\u00e9x:\x41U:\U0001F600 unknown:\d' }}", {}),
    # whitespace control
    ("ws-minus", "a  {%- if true -%}  b  {%- endif -%}  c", {}),
    ("ws-minus-output", "a \n {{- 'b' -}} \n c", {}),
    ("ws-trim-blocks", "{% if true %}\nline\n{% endif %}\nafter", {}),
    ("ws-lstrip-blocks", "  {% if true %}\n    x\n  {% endif %}\n", {}),
    ("ws-lstrip-not-output", "  {{ 'x' }}\n  {% if true %}y{% endif %}", {}),
    ("ws-lstrip-only-at-line-start", "a {% if true %}b{% endif %}", {}),
    ("ws-plus", "  {%+ if true +%}\nx{% endif %}", {}),
    ("ws-comment-trim", "a\n  {# c #}\nb\n{#- c -#}  \n c", {}),
    ("ws-trailing-newline-dropped", "x\n", {}),
    ("ws-crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n", {}),
    ("ws-indented-template", "{%- for m in messages %}\n    {%- if m.role == 'user' %}\n        {{- 'U:' + m.content }}\n    {%- else %}\n        {{- m.role[0] }}\n    {%- endif %}\n{%- endfor %}\n", {"messages": MESSAGES}),
    ("raw", "{% raw %}{{ not a tag }}{% endraw %}|{%- raw -%} x {%- endraw %}", {}),
    # if / elif / else
    ("if-elif-else", "{% for n in [0, 1, 2] %}{% if n == 0 %}zero{% elif n == 1 %}one{% else %}many{% endif %},{% endfor %}", {}),
    ("if-truthiness", "{% for v in [0, 1, '', 'x', [], [0], {}, none, 0.0] %}{{ 'T' if v else 'F' }}{% endfor %}{{ 'T' if undefined_thing else 'F' }}", {}),
    # for loops
    ("for-loop-vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {}),
    ("for-prev-next-cycle", "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a', 'b') }}|{% endfor %}", {}),
    ("for-changed-depth", "{% for x in [1, 1, 2] %}{{ loop.changed(x) }}{{ loop.depth }}{{ loop.depth0 }},{% endfor %}", {}),
    ("for-else", "{% for x in [] %}x{% else %}empty{% endfor %}{% for x in [1] %}{{ x }}{% else %}empty{% endfor %}", {}),
    ("for-if-filter", "{% for m in messages if m.role == 'user' %}{{ loop.index }}/{{ loop.length }}:{{ m.content | trim }};{% endfor %}", {"messages": MESSAGES}),
    ("for-unpack", "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", {}),
    ("for-dict-keys", "{% for k in d %}{{ k }}{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("for-break-continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x > 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("for-scope", "{% set x = 'outer' %}{% for i in [1, 2] %}{% set x = 'inner' ~ i %}{{ x }}{% endfor %}{{ x }}", {}),
    ("for-set-is-per-iteration", "{% set x = 0 %}{% for i in [1, 2] %}[{{ x }}]{% set x = i %}{% endfor %}{{ x }}{% for i in [1, 2] %}({{ y }}){% set y = i %}{% endfor %}", {}),
    ("for-macro-in-loop", "{% for a in [1, 2] %}{% macro m() %}{{ a }}{% endmacro %}{{ m() }}{% endfor %}", {}),
    ("macro-sees-later-globals", "{% macro m() %}{{ z }}{% endmacro %}{% set z = 3 %}{{ m() }}", {}),
    ("error-macro-used-before-definition", "{{ m() }}{% macro m() %}x{% endmacro %}", {}),
    ("error-namespace-not-iterable", "{% set ns = namespace(a=1) %}{% for k in ns %}{{ k }}{% endfor %}", {}),
    ("error-namespace-no-length", "{% set ns = namespace(a=1) %}{{ ns | length }}", {}),
    ("for-nested-loop", "{% for a in [1, 2] %}{% set outer = loop %}{% for b in 'xy' %}{{ outer.index }}{{ loop.index }}{{ b }} {% endfor %}{% endfor %}", {}),
    ("for-reversed-messages", "{% for m in messages[::-1] %}{{ (messages|length - 1) - loop.index0 }}{{ m.role[0] }}{% endfor %}", {"messages": MESSAGES}),
    ("for-over-undefined", "[{% for x in nothing %}{{ x }}{% endfor %}]", {}),
    ("range", "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(5, 0, -2)|list }} {{ range(0)|list }}", {}),
    # set, namespace, with
    ("set", "{% set a = 1 %}{% set b, c = 'x', 'y' %}{{ a }}{{ b }}{{ c }}", {}),
    ("set-block", "{% set block %}  inner {{ 1 + 1 }}  {% endset %}[{{ block }}]{% set up | upper | trim %} shout {% endset %}[{{ up }}]", {}),
    ("set-in-if-is-visible", "{% if true %}{% set y = 5 %}{% endif %}{{ y }}", {}),
    ("namespace", "{% set ns = namespace(found=false, n=0) %}{% for x in [1, 2, 3] %}{% if x == 2 %}{% set ns.found = true %}{% endif %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.found }} {{ ns.n }}", {}),
    ("namespace-from-dict", "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns['a'] }}", {}),
    ("with", "{% with a = 1, b = 'two' %}{{ a }}{{ b }}{% endwith %}[{{ a }}]", {}),
    ("generation-tag", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% endif %}{% endfor %}", {"messages": MESSAGES}),
    ("filter-block", "{% filter upper %}hello {{ 'world' }}{% endfilter %}", {}),
    # macros
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }}", {}),
    ("macro-missing-arg", "{% macro m(a, b) %}[{{ a }}|{{ b }}]{% endmacro %}{{ m(1) }}", {}),
    ("macro-varargs-kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k='v') }}", {}),
    ("macro-recursion", "{% macro count(n) %}{{ n }}{% if n > 0 %}{{ count(n - 1) }}{% endif %}{% endmacro %}{{ count(5) }}", {}),
    ("macro-sees-globals", "{% set g = 'G' %}{% macro m() %}{{ g }}{{ top }}{% endmacro %}{{ m() }}", {"top": "T"}),
    ("call-block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ 1 }}{% endcall %}", {}),
    ("call-block-args", "{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(item) each([1, 2]) %}<{{ item }}>{% endcall %}", {}),
    # expressions
    ("logic", "{{ true and 'x' }} {{ 0 and 'x' }} {{ '' or 'y' }} {{ 'a' or 'y' }} {{ not 0 }} {{ not 'a' }} {{ none or [] }}", {}),
    ("in-not-in", "{{ 'a' in 'cat' }} {{ 'z' not in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'content' in m }} {{ 'x' not in m }}", {"m": MESSAGES[0]}),
    ("comparisons", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 3 > 4 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 1 != '1' }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ [1, 2] < [1, 3] }} {{ true == 1 }}", {}),
    ("arithmetic", "{{ 7 + 2 }} {{ 7 - 2 }} {{ 7 * 2 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1.5 + 1 }} {{ -(3) }} {{ +4 }} {{ 4 / 2 }}", {}),
    ("arithmetic-precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 - 2 - 3 }} {{ 'a' ~ (1 + 2) }} {{ 'x' ~ 'y' + 'z' }}", {}),
    ("string-ops", "{{ 'ab' + 'cd' }} {{ 'ab' * 3 }} {{ 3 * 'x' }} {{ 'n=' ~ 5 ~ none ~ true ~ undefined_var }} {{ [1] + [2] }} {{ [0] * 3 }} {{ '%s-%d' % ('a', 3) }} {{ '%05.1f|%-4s|' % (3.14159, 'ab') }}", {}),
    ("ternary", "{{ 'yes' if 1 else 'no' }} {{ 'yes' if 0 else 'no' }} [{{ 'only' if false }}] {{ 'a' if false else 'b' if true else 'c' }}", {}),
    ("subscripts", "{{ xs[0] }} {{ xs[-1] }} {{ xs[1] }} [{{ xs[10] }}] {{ d['k'] }} {{ d.k }} [{{ d.missing }}] {{ 'hello'[1] }} {{ 'héllo😀'[-1] }} {{ xs.0 }}", {"xs": ["a", "b", "c"], "d": {"k": "v"}}),
    ("slices", "{{ xs[1:] }} {{ xs[:-1] }} {{ xs[::-1] }} {{ xs[::2] }} {{ xs[-2:] }} {{ xs[5:] }} {{ 'abcdef'[1:4] }} {{ 'abc'[::-1] }} {{ 'a😀b'[1:] }} {{ xs[3:0:-1] }}", {"xs": [1, 2, 3, 4, 5]}),
    ("attribute-vs-key", "{{ d.items is defined }} {{ d['items'] }} {{ d.get('items') }} {{ d.keys()|list }} {{ d.content }}", {"d": {"items": "ITEMS", "content": "C"}}),
    ("literals", "{{ [1, [2, 3], {'a': (4, 5)}] }} {{ {'x': 1, 'y': {'z': none}} }} {{ [] }} {{ {} }} {{ (1, 2)[1] }} {{ [1, 2,] }}", {}),
    ("python-printing", "{{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 0.0001 }} {{ 10 / 3 }} {{ 2.50 }} {{ -0.0 }} {{ 123456789.125 }}", {}),
    # tests
    ("tests-types", "{% for v in [none, true, 1, 1.5, 'a', [1], {'a': 1}, (1,)] %}{{ v is none }}{{ v is boolean }}{{ v is integer }}{{ v is float }}{{ v is number }}{{ v is string }}{{ v is mapping }}{{ v is iterable }}{{ v is sequence }}|{% endfor %}", {}),
    ("tests-defined", "{{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ x is not none }} {{ m.reasoning_content is none }} {{ m.tool_calls is defined }} {{ z is defined and z }}", {"x": 1, "m": MESSAGES[2]}),
    ("tests-values", "{{ 4 is divisibleby 2 }} {{ 5 is divisibleby(2) }} {{ 3 is odd }} {{ 3 is even }} {{ false is sameas false }} {{ true is true }} {{ 0 is false }} {{ 1 is eq 1 }} {{ 1 is lt 2 }} {{ 'a' is in 'abc' }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ range is callable }}", {}),
    ("tests-negated", "{{ x is not defined }} {{ 'a' is not string }} {{ not x is defined }}", {}),
    # filters
    ("filter-tojson", "{{ tool | tojson }}", {"tool": TOOL}),
    ("filter-tojson-indent", "{{ tool | tojson(indent=4) }}|{{ [] | tojson(indent=2) }}|{{ {} | tojson(indent=2) }}|{{ [1, [2, {}]] | tojson(indent=2) }}", {"tool": TOOL}),
    ("filter-tojson-options", "{{ d | tojson(ensure_ascii=true) }} {{ d | tojson(sort_keys=true) }} {{ d | tojson(separators=(',', ':')) }} {{ 'a\"b\\\\c\\n\\u0001\u007f' | tojson }} {{ none | tojson }} {{ 1.0 | tojson }}", {"d": {"b": "é😀", "a": [1, 2.5, True, None]}}),
    ("filter-tojson-args-string", "{{ args | tojson }} {{ args_str }}", {"args": {"location": "Paris, France", "unit": "celsius"}, "args_str": "{\"x\": 1}"}),
    ("filter-trim", "[{{ '  a b \n' | trim }}] [{{ 'xxaxx' | trim('x') }}] [{{ '\u3000full\u00a0' | trim }}]", {}),
    ("filter-length", "{{ 'abc' | length }} {{ 'a😀' | length }} {{ [1, 2] | length }} {{ {'a': 1} | length }} {{ messages | count }} {{ undefined_thing | length }}", {"messages": MESSAGES}),
    ("filter-case", "{{ 'Hello' | upper }} {{ 'Hello' | lower }} {{ 'hello world-foo(bar)' | title }} {{ 'hELLO wORLD' | capitalize }}", {}),
    ("filter-default", "{{ x | default('d') }} {{ none | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ 0 | d('z', boolean=true) }} {{ y | default('y') }}", {"y": "set"}),
    ("filter-first-last", "{{ xs | first }} {{ xs | last }} {{ 'abc' | first }} {{ 'abc' | last }} [{{ [] | first }}]", {"xs": [1, 2, 3]}),
    ("filter-join", "{{ ['a', 'b'] | join }} {{ ['a', 'b'] | join(', ') }} {{ [1, none, true] | join('-') }} {{ messages | join(' ', attribute='role') }}", {"messages": MESSAGES}),
    ("filter-items-list-string", "{{ {'a': 1, 'b': 2} | items | list }} {{ 'ab' | list }} {{ {'k': 1} | list }} {{ 12 | string }} {{ [1] | string }}", {}),
    ("filter-int-float", "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '0x1A' | int(base=16) }} {{ '2.5' | float }} {{ 'x' | float }} {{ 3 | float }}", {}),
    ("filter-replace", "{{ 'a-b-c' | replace('-', '+') }} {{ 'a-b-c' | replace('-', '', 1) }} {{ 'ab' | replace('', '.') }}", {}),
    ("filter-selectattr", "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | join(',') }} {{ messages | selectattr('reasoning_content', 'defined') | list | length }} {{ messages | selectattr('reasoning_content') | list | length }}", {"messages": MESSAGES}),
    ("filter-select-reject", "{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ [1, 5, 9] | select('gt', 4) | list }}", {}),
    ("filter-map", "{{ ['a', 'b'] | map('upper') | list }} {{ messages | map(attribute='role') | unique | list }} {{ [{'a': {'b': 1}}, {}] | map(attribute='a.b', default='-') | list }} {{ [' x ', 'y '] | map('trim') | join }}", {"messages": MESSAGES}),
    ("filter-sort-unique-reverse", "{{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ messages | sort(attribute='role') | map(attribute='role') | list }} {{ ['a', 'A', 'b'] | unique | list }} {{ [1, 2] | reverse | list }} {{ 'abc' | reverse }}", {"messages": MESSAGES}),
    ("filter-generators", "{{ 'T' if [] | select else 'F' }} {{ 'T' if none | map('upper') else 'F' }} {{ none | selectattr('a') | list }} {% set g = [1, 2] | map('string') %}{{ g | join }}[{{ g | join }}] {{ 2 in [1, 2] | select }} {{ [1, 2] | reverse | list }} {{ {'a': 1} | reverse | list }} {{ 'T' if [] | reverse else 'F' }} {{ {'a': 1} | items | list }}", {}),
    ("error-generator-length", "{{ [1] | select | length }}", {}),
    ("error-generator-tojson", "{{ [1] | map('string') | tojson }}", {}),
    ("error-generator-last", "{{ [1] | select | last }}", {}),
    ("markup", "{{ 'a<b>'|safe + '<i>' }} {{ '<x>' + 'y&'|safe }} {{ 'q\"'|safe ~ '<' }} {{ ('<'|safe + '>')|length }} {{ '<'|escape|escape }} {{ 'x'|safe is escaped }} {{ 'x' is escaped }} {{ ('a'|safe) == 'a' }} {{ 'a'|safe is string }} {{ ('<'|safe + tool|tojson) }}", {"tool": {"d": "say \"hi\""}}),
    ("filter-numbers", "{{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 2.1 | round(method='ceil') }} {{ [1, 2, 3] | sum }} {{ [1, 5, 3] | max }} {{ [4, 2, 8] | min }} {{ ['b', 'A'] | max }}", {}),
    ("filter-indent-center-wordcount", "{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent('> ', blank=true) }}|{{ 'ab' | center(6) }}|{{ 'one two  three' | wordcount }}", {}),
    ("filters-on-undefined", "[{{ u | upper }}|{{ u | replace('a', 'b') }}|{{ u | center(4) }}|{{ u | max }}|{{ u | sort | list }}|{{ u | list }}|{{ u | join(',') }}|{{ u | first }}|{{ u | reverse | list }}|{{ u | sum }}|{{ u | trim }}|{{ u | items | list }}|{{ u | escape }}|{{ u | wordcount }}]", {}),
    ("error-filter-abs-undefined", "{{ u | abs }}", {}),
    ("error-filter-int-undefined", "{{ u | int }}", {}),
    ("error-filter-tojson-undefined", "{{ u | tojson }}", {}),
    ("tests-sameas", "{{ none is sameas none }} {{ true is sameas true }} {{ 1 is sameas true }} {{ x is sameas x }} {{ [] is sameas [] }}", {"x": [1]}),
    ("filter-dictsort-format-escape-attr", "{{ {'b': 1, 'A': 2} | dictsort }} {{ {'b': 1, 'a': 2} | dictsort(by='value') }} {{ '%s is %d' | format('x', 3) }} {{ '<a & \"b\">' | escape }} {{ messages[0] | attr('role') }} {{ 'x' | safe }}", {"messages": MESSAGES}),
    # string methods
    ("str-split", "{{ 'a,b,,c'.split(',') }} {{ 'a,b,c'.split(',', 1) }} {{ '  a  b \n c '.split() }} {{ ' a b c'.split(none, 1) }} {{ 'a</think>b</think>c'.split('</think>')[-1] }} {{ 'x'.split('y') }}", {}),
    ("str-rsplit", "{{ 'a,b,c'.rsplit(',', 1) }} {{ 'a b  c '.rsplit(none, 1) }} {{ 'a,,b'.rsplit(',') }}", {}),
    ("str-strip", "[{{ '\n x \n'.strip() }}] [{{ '\n\nx\n'.lstrip('\n') }}] [{{ 'x\n\n'.rstrip('\n') }}] [{{ 'xyhixy'.strip('xy') }}] [{{ ' a '.lstrip() }}] [{{ ' a '.rstrip() }}]", {}),
    ("str-startswith-endswith", "{{ c.startswith('<tool_response>') }} {{ c.endswith('</tool_response>') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }} {{ 'abc'.startswith('b', 1) }}", {"c": "<tool_response>\nok\n</tool_response>"}),
    ("str-replace-case", "{{ 'a.b.c'.replace('.', '/') }} {{ 'a.b.c'.replace('.', '/', 1) }} {{ 'Hi'.upper() }} {{ 'Hi'.lower() }} {{ \"they're bill's\".title() }} {{ 'hELLO'.capitalize() }}", {}),
    ("str-format", "{{ '{} and {}'.format('a', 1) }} {{ '{1}{0}'.format('x', 'y') }} {{ '{name}!r={name!r}'.format(name='n') }} {{ '{{literal}}'.format() }}", {}),
    ("str-misc", "{{ 'hello'.find('l') }} {{ 'hello'.rfind('l') }} {{ 'hello'.find('z') }} {{ 'banana'.count('an') }} {{ ', '.join(['a', 'b']) }} {{ 'a\nb\r\nc'.splitlines() }} {{ 'prefix-x'.removeprefix('prefix-') }} {{ '123'.isdigit() }} {{ ' '.isspace() }} {{ 'ab'.isalpha() }}", {}),
    # dict methods
    ("dict-methods", "{% for k, v in d.items() %}{{ k }}:{{ v }} {% endfor %}{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.copy() }}", {"d": {"a": 1, "b": [2]}}),
    ("dict-literal-and-global", "{{ dict(a=1, b='x') }} {{ dict({'k': 1}, z=2) }}", {}),
    # globals
    ("strftime-now", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %j %p %I %y %a %w %%') }}|{{ strftime_now('%-d/%-m') }}", {}),
    ("raise-exception", "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with a user message') }}{% endif %}", {"messages": MESSAGES}),
    # errors jinja2 raises too
    ("error-undefined-attribute", "{{ missing.attr }}", {}),
    ("error-undefined-plus", "{{ missing + 'x' }}", {}),
    ("error-undefined-element-attribute", "{{ messages[9].role }}", {"messages": MESSAGES}),
    ("error-add-str-int", "{{ 'a' + 1 }}", {}),
    ("error-none-length", "{{ none | length }}", {}),
    ("error-call-not-callable", "{{ 'x'() }}", {}),
    ("error-divide-by-zero", "{{ 1 / 0 }}", {}),
    ("error-list-append-sandboxed", "{% set xs = [] %}{{ xs.append(1) }}", {}),
    ("error-dict-update-sandboxed", "{% set d = {} %}{{ d.update({'a': 1}) }}", {}),
    ("error-set-attribute-not-namespace", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("error-compare-str-int", "{{ 'a' < 1 }}", {}),
    ("error-syntax-unclosed", "{% if true %}never closed", {}),
    ("error-syntax-unexpected", "{{ 1 + }}", {}),
    ("error-unknown-filter", "{{ 'x' | nosuchfilter }}", {}),
    ("error-unknown-test", "{{ 'x' is nosuchtest }}", {}),
    ("error-break-outside-loop", "{% break %}", {}),
    ("error-empty-split-separator", "{{ 'a'.split('') }}", {}),
    ("error-unpack-count", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
]


# ---------------- chat templates of our own, in the styles real models use ----------------
# Written for these tests (not copies of any model's template): each uses the constructs a family's real template
# relies on, and is rendered on several conversations with the variables transformers passes (messages, tools and
# documents None unless given, add_generation_prompt, bos_token, eos_token, then the caller's keyword arguments).
# RealChatTemplateTests also renders them through ChatTemplate.FromJinja.

# Llama-3.1 style: a date from date_string or strftime_now, the system turn split off, tools in the first user turn or
# in the system turn, built-in tools, one tool call per turn as JSON, tool results as mappings or text.
LLAMA_STYLE = r"""{{- bos_token }}
{%- if date_string is not defined %}
    {%- if strftime_now is callable %}
        {%- set date_string = strftime_now('%d %b %Y') %}
    {%- else %}
        {%- set date_string = "01 Jan 2000" %}
    {%- endif %}
{%- endif %}
{%- set tools_with_user = tools is not none and (tools_in_user_message if tools_in_user_message is defined else true) %}
{%- if messages and messages[0].role == 'system' %}
    {%- set system_text = messages[0].content | trim %}
    {%- set turns = messages[1:] %}
{%- else %}
    {%- set system_text = '' %}
    {%- set turns = messages %}
{%- endif %}
{{- '<|start_header_id|>system<|end_header_id|>\n\n' }}
{%- if builtin_tools is defined %}
    {{- 'Built-in: ' + builtin_tools | reject('equalto', 'code_interpreter') | join(', ') + '\n' }}
    {%- if 'code_interpreter' in builtin_tools %}
        {{- 'Environment: sandbox\n' }}
    {%- endif %}
{%- endif %}
{{- 'Date: ' + date_string + '\n\n' }}
{%- if tools is not none and not tools_with_user %}
    {{- 'Reply with JSON {"name": function, "parameters": arguments} to call one of:\n' }}
    {%- for t in tools %}
        {{- t | tojson(indent=2) + '\n\n' }}
    {%- endfor %}
{%- endif %}
{{- system_text + '<|eot_id|>' }}
{%- if tools_with_user %}
    {%- if not turns %}
        {{- raise_exception('tools in the user message need a user message') }}
    {%- endif %}
    {%- set first = turns[0].content | trim %}
    {%- set turns = turns[1:] %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\nFunctions you may call:\n' }}
    {%- for t in tools %}
        {{- t | tojson(indent=2) + '\n\n' }}
    {%- endfor %}
    {{- first + '<|eot_id|>' }}
{%- endif %}
{%- for message in turns %}
    {%- if message.role in ['user', 'system'] or (message.role == 'assistant' and message.tool_calls is not defined) %}
        {{- '<|start_header_id|>' + message.role + '<|end_header_id|>\n\n' + message.content | trim + '<|eot_id|>' }}
    {%- elif message.tool_calls is defined %}
        {%- if message.tool_calls | length != 1 %}
            {{- raise_exception('only one tool call per assistant turn, not ' ~ message.tool_calls | length) }}
        {%- endif %}
        {%- set call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
        {{- '{"name": "' + call.name + '", "parameters": ' + call.arguments | tojson + '}<|eot_id|>' }}
    {%- elif message.role in ['tool', 'ipython'] %}
        {{- '<|start_header_id|>ipython<|end_header_id|>\n\n' }}
        {%- if message.content is mapping or (message.content is iterable and message.content is not string) %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""

# R1-Distill style: system turns joined, earlier reasoning dropped, tool calls and consecutive tool outputs grouped
# with DeepSeek's tool tokens, and a generation prompt that opens the think block.
R1_DISTILL_STYLE = r"""{%- set ns = namespace(system='', first_system=true, in_tools=false) %}
{%- for m in messages if m.role == 'system' %}
    {%- set ns.system = m.content if ns.first_system else ns.system + '\n\n' + m.content %}
    {%- set ns.first_system = false %}
{%- endfor %}
{{- bos_token + ns.system }}
{%- for m in messages %}
    {%- if m.role in ['user', 'assistant'] and ns.in_tools %}
        {{- '<｜tool▁outputs▁end｜>' }}
        {%- set ns.in_tools = false %}
    {%- endif %}
    {%- if m.role == 'user' %}
        {{- '<｜User｜>' + m.content }}
    {%- elif m.role == 'assistant' %}
        {%- set answer = m.content if m.content is string else '' %}
        {%- if '</think>' in answer %}
            {%- set answer = answer.split('</think>')[-1].lstrip('\n') %}
        {%- endif %}
        {{- '<｜Assistant｜>' + answer }}
        {%- if m.tool_calls %}
            {{- '<｜tool▁calls▁begin｜>' }}
            {%- for call in m.tool_calls %}
                {%- set args = call.function.arguments if call.function.arguments is string else call.function.arguments | tojson %}
                {{- '<｜tool▁call▁begin｜>' + call.type + '<｜tool▁sep｜>' + call.function.name + '\n' + args + '<｜tool▁call▁end｜>' }}
                {%- if not loop.last %}
                    {{- '\n' }}
                {%- endif %}
            {%- endfor %}
            {{- '<｜tool▁calls▁end｜>' }}
        {%- endif %}
        {{- eos_token }}
    {%- elif m.role == 'tool' %}
        {%- if not ns.in_tools %}
            {{- '<｜tool▁outputs▁begin｜>' }}
            {%- set ns.in_tools = true %}
        {%- endif %}
        {{- '<｜tool▁output▁begin｜>' + m.content + '<｜tool▁output▁end｜>' }}
    {%- endif %}
{%- endfor %}
{%- if ns.in_tools %}
    {{- '<｜tool▁outputs▁end｜>' }}
{%- endif %}
{%- if add_generation_prompt %}
    {{- '<｜Assistant｜><think>\n' }}
{%- endif %}
"""

# Mistral style: roles must alternate (raise_exception names the message), the system text and the tool list go with
# the last user turn, tool-call ids are checked, calls and results are JSON built from dict literals.
MISTRAL_STYLE = r"""{%- if messages and messages[0].role == 'system' %}
    {%- set system_text = messages[0].content %}
    {%- set turns = messages[1:] %}
{%- else %}
    {%- set turns = messages %}
{%- endif %}
{%- set ns = namespace(expect='user', last_user=-1) %}
{%- for m in turns %}
    {%- if m.role == 'user' or (m.role == 'assistant' and not m.tool_calls) %}
        {%- if m.role != ns.expect %}
            {{- raise_exception('roles must alternate user/assistant: message ' ~ loop.index0 ~ ' is ' ~ m.role) }}
        {%- endif %}
        {%- set ns.expect = 'assistant' if m.role == 'user' else 'user' %}
        {%- if m.role == 'user' %}
            {%- set ns.last_user = loop.index0 %}
        {%- endif %}
    {%- elif m.role == 'assistant' %}
        {%- set ns.expect = 'assistant' %}
    {%- elif m.role != 'tool' %}
        {{- raise_exception('unknown role ' ~ m.role) }}
    {%- endif %}
{%- endfor %}
{{- bos_token }}
{%- for m in turns %}
    {%- if m.role == 'user' %}
        {%- if tools and loop.index0 == ns.last_user %}
            {{- '[AVAILABLE_TOOLS]' + tools | map(attribute='function') | list | tojson + '[/AVAILABLE_TOOLS]' }}
        {%- endif %}
        {%- if system_text is defined and loop.index0 == ns.last_user %}
            {{- '[INST]' + system_text + '\n\n' + m.content + '[/INST]' }}
        {%- else %}
            {{- '[INST]' + m.content + '[/INST]' }}
        {%- endif %}
    {%- elif m.role == 'assistant' and m.tool_calls %}
        {{- '[TOOL_CALLS][' }}
        {%- for tc in m.tool_calls %}
            {%- if tc.id is not string or tc.id | length != 9 or not tc.id.isalnum() %}
                {{- raise_exception('tool call ids must be 9 letters or digits, not ' ~ tc.id) }}
            {%- endif %}
            {{- {'name': tc.function.name, 'arguments': tc.function.arguments, 'id': tc.id} | tojson }}
            {{- ', ' if not loop.last }}
        {%- endfor %}
        {{- ']' + eos_token }}
    {%- elif m.role == 'assistant' %}
        {{- ' ' + m.content | trim + eos_token }}
    {%- else %}
        {{- '[TOOL_RESULTS]' + {'content': m.content, 'call_id': m.tool_call_id} | tojson + '[/TOOL_RESULTS]' }}
    {%- endif %}
{%- endfor %}
"""

# Hermes / gpt-oss style: tool schemas printed as Python signatures by a recursive macro (enums, arrays, nested
# objects, union types), documents, tool calls with dict or string arguments, consecutive results in one turn.
FUNCTION_SIGNATURE_STYLE = r"""{%- macro type_of(schema) %}
    {%- if schema.enum is defined %}
        {{- schema.enum | map('tojson') | join(' | ') }}
    {%- elif schema.type is not defined %}
        {{- 'Any' }}
    {%- elif schema.type == 'array' %}
        {{- 'list[' + (type_of(schema['items']) if schema['items'] is defined else 'Any') + ']' }}
    {%- elif schema.type == 'object' and schema.properties is defined %}
        {{- '{' }}
        {%- for name, prop in schema.properties | items %}
            {{- name + ': ' + type_of(prop) }}
            {{- ', ' if not loop.last }}
        {%- endfor %}
        {{- '}' }}
    {%- elif schema.type is string %}
        {{- {'string': 'str', 'integer': 'int', 'number': 'float', 'boolean': 'bool', 'null': 'None', 'object': 'dict'}.get(schema.type, schema.type) }}
    {%- else %}
        {%- for t in schema.type %}
            {{- type_of({'type': t}) }}
            {{- ' | ' if not loop.last }}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}
{%- if messages[0].role == 'system' %}
    {%- set system_text = messages[0].content %}
    {%- set turns = messages[1:] %}
{%- else %}
    {%- set system_text = 'You are an assistant that can call functions.' %}
    {%- set turns = messages %}
{%- endif %}
{{- '<|im_start|>system\n' + system_text }}
{%- if tools %}
    {{- '\n\n# Functions\n' }}
    {%- for tool in tools %}
        {%- set fn = tool.function if tool.function is defined else tool %}
        {%- set required = fn.parameters.required | default([]) %}
        {{- '\ndef ' + fn.name + '(' }}
        {%- for name, prop in fn.parameters.properties | dictsort %}
            {{- name + ': ' + type_of(prop) }}
            {%- if name not in required %}
                {{- ' = ' + prop.default | default(none) | tojson }}
            {%- endif %}
            {{- ', ' if not loop.last }}
        {%- endfor %}
        {{- '):  # ' + fn.description | default('no description') | trim + '\n' }}
    {%- endfor %}
    {{- '\nTo call one, write <call>{"name": ..., "arguments": ...}</call>.' }}
{%- endif %}
{%- if documents %}
    {{- '\n\n# Documents' }}
    {%- for doc in documents %}
        {{- '\n[' ~ loop.index ~ ']' }}
        {%- for key, value in doc.items() %}
            {{- ' ' + key + '=' + value | string }}
        {%- endfor %}
    {%- endfor %}
{%- endif %}
{{- '<|im_end|>\n' }}
{%- for m in turns %}
    {%- if m.role == 'assistant' and m.tool_calls is defined %}
        {{- '<|im_start|>assistant' }}
        {%- if m.content %}
            {{- '\n' + m.content }}
        {%- endif %}
        {%- for tc in m.tool_calls %}
            {%- set f = tc.function %}
            {{- '\n<call>{"name": "' + f.name + '", "arguments": ' }}
            {{- f.arguments if f.arguments is string else f.arguments | tojson }}
            {{- '}</call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif m.role == 'tool' %}
        {%- if loop.previtem is not defined or loop.previtem.role != 'tool' %}
            {{- '<|im_start|>tool' }}
        {%- endif %}
        {{- '\n<result>\n' + m.content + '\n</result>' }}
        {%- if loop.last or loop.nextitem.role != 'tool' %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- else %}
        {{- '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

WEATHER = TOOL
SEARCH = {"type": "function", "function": {"name": "search", "parameters": {"type": "object", "properties": {
    "queries": {"type": "array", "items": {"type": "string"}},
    "filters": {"type": "object", "properties": {"year": {"type": ["integer", "null"]}, "lang": {"type": "string", "enum": ["en", "fr"]}}},
    "exact": {"type": "boolean", "default": False}, "anything": {}, "tags": {"type": "array"}}, "required": ["queries"]}}}


def call(name, arguments, id=None):
    c = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if id is not None:
        c["id"] = id
    return c


DEEPSEEK_TOKENS = {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"}
LLAMA_TOKENS = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
GENERIC_TOKENS = {"bos_token": "<s>", "eos_token": "</s>"}
THINK = "<think>\nadd them\n</think>\n\n4"

# (style, template, special tokens, [(conversation, messages, keyword arguments)])
CHAT_STYLES = [
    ("llama-style", LLAMA_STYLE, LLAMA_TOKENS, [
        ("system-user", [{"role": "system", "content": "  Be brief.\n"}, {"role": "user", "content": " Hi 👋 "}], {}),
        ("date-from-clock", [{"role": "user", "content": "What day is it?"}, {"role": "assistant", "content": "Thursday."},
                             {"role": "user", "content": "Sure?"}], {}),
        ("date-string", [{"role": "user", "content": "What day is it?"}], {"date_string": "01 Jan 2030"}),
        ("tools-in-user-message", [{"role": "system", "content": "Weather bot."}, {"role": "user", "content": "Weather in Paris?"}],
         {"tools": [WEATHER]}),
        ("tools-in-system-and-builtin", [{"role": "user", "content": "Weather in Paris?"}],
         {"tools": [WEATHER], "tools_in_user_message": False, "builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"]}),
        ("tool-call-and-results", [{"role": "user", "content": "Weather in Paris?"},
                                   {"role": "assistant", "tool_calls": [call("get_weather", {"city": "Paris", "days": 2})]},
                                   {"role": "tool", "content": {"temp": 21.5, "sky": "clear"}},
                                   {"role": "assistant", "tool_calls": [call("get_weather", '{"city": "Lyon"}')]},
                                   {"role": "ipython", "content": "sunny"}], {"tools": [WEATHER], "tools_in_user_message": False}),
        ("error-two-tool-calls", [{"role": "user", "content": "Paris and Rome?"},
                                  {"role": "assistant", "tool_calls": [call("get_weather", {"city": "Paris"}), call("get_weather", {"city": "Rome"})]}],
         {"tools": [WEATHER]}),
        ("error-tools-without-user", [{"role": "system", "content": "Weather bot."}], {"tools": [WEATHER]}),
    ]),
    ("r1-distill-style", R1_DISTILL_STYLE, DEEPSEEK_TOKENS, [
        ("one-user", [{"role": "user", "content": "What is 2+2?"}], {}),
        ("two-system-turns", [{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Use French."},
                              {"role": "user", "content": "2+2?"}], {}),
        ("earlier-reasoning-dropped", [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": THINK},
                                       {"role": "user", "content": "And 3+3?"}], {}),
        ("tool-round", [{"role": "user", "content": "Weather in Paris and Lyon?"},
                        {"role": "assistant", "content": None, "tool_calls": [call("get_weather", '{"city": "Paris"}'), call("get_weather", {"city": "Lyon"})]},
                        {"role": "tool", "content": "{\"temp\": 21}"}, {"role": "tool", "content": "{\"temp\": 19}"},
                        {"role": "assistant", "content": "<think>compare</think>Paris is warmer."}], {}),
        ("ends-in-tool-output", [{"role": "user", "content": "Weather?"},
                                 {"role": "assistant", "content": "", "tool_calls": [call("get_weather", {"city": "Oslo"})]},
                                 {"role": "tool", "content": "snow"}], {}),
    ]),
    ("mistral-style", MISTRAL_STYLE, GENERIC_TOKENS, [
        ("system-and-turns", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                              {"role": "assistant", "content": " Hello! "}, {"role": "user", "content": "2+2?"}], {}),
        ("tool-round", [{"role": "user", "content": "Weather in Paris?"},
                        {"role": "assistant", "tool_calls": [call("get_weather", {"city": "Paris"}, id="abc123XYZ")]},
                        {"role": "tool", "tool_call_id": "abc123XYZ", "content": "21 C"},
                        {"role": "assistant", "content": "It is 21 C."}, {"role": "user", "content": "Thanks"}], {"tools": [WEATHER]}),
        ("error-user-twice", [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hello?"}], {}),
        ("error-starts-with-assistant", [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "Hello"}], {}),
        ("error-bad-tool-call-id", [{"role": "user", "content": "Weather?"},
                                    {"role": "assistant", "tool_calls": [call("get_weather", {"city": "Paris"}, id="call_1")]}], {}),
        ("error-unknown-role", [{"role": "user", "content": "Hi"}, {"role": "critic", "content": "Meh"}], {}),
    ]),
    ("function-signature-style", FUNCTION_SIGNATURE_STYLE, GENERIC_TOKENS, [
        ("no-tools", [{"role": "user", "content": "Hi"}], {}),
        ("tools-and-documents", [{"role": "system", "content": "You help with weather and search."}, {"role": "user", "content": "Find rain data"}],
         {"tools": [WEATHER, SEARCH["function"]], "documents": [{"title": "Rain", "text": "It rains.", "year": 2024}, {"text": "Sun"}]}),
        ("tool-round", [{"role": "user", "content": "Weather in Paris and Lyon?"},
                        {"role": "assistant", "content": "Let me check.", "tool_calls": [call("get_weather", {"city": "Paris"}), call("get_weather", '{"city": "Lyon"}')]},
                        {"role": "tool", "content": "21"}, {"role": "tool", "content": "19"},
                        {"role": "assistant", "content": "Paris 21, Lyon 19."}, {"role": "user", "content": "Thanks"}], {"tools": [WEATHER, SEARCH]}),
    ]),
]

for style, template, tokens, conversations in CHAT_STYLES:
    for conversation, messages, kwargs in conversations:
        for add_generation_prompt in (False, True):
            variables = {"messages": messages, "tools": None, "documents": None, "add_generation_prompt": add_generation_prompt, **tokens, **kwargs}
            CASES.append((f"chat-{style}/{conversation}" + ("+generation-prompt" if add_generation_prompt else ""), template, variables))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "..", "Data", "tokenizers", "expected", "jinja-constructs.json")
    cases = []
    for name, template, variables in CASES:
        result = render({"template": template, "variables": variables})
        cases.append({"name": name, "template": template, "variables": variables, **result})
    header = json.dumps({"reference": f"Python jinja2 {jinja2.__version__} configured as transformers' apply_chat_template (render_jinja2.py)"},
                        ensure_ascii=False)[:-1]
    with open(out, "w", encoding="utf-8") as f:
        f.write(header + ',"cases":[\n' + ",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]}\n")
    print(f"{len(cases)} cases, {sum('error' in c for c in cases)} of them errors -> {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
