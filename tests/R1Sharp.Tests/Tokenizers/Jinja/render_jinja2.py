"""Renders chat-template cases with Python's jinja2 configured the way Hugging Face transformers configures it in
apply_chat_template (src/transformers/utils/chat_template_utils.py, _compile_jinja_template): an
ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the loopcontrols extension and a transparent
{% generation %} tag, transformers' own "tojson" (json.dumps with ensure_ascii=False, no HTML escaping) and the
globals raise_exception and strftime_now. The clock for strftime_now is fixed per case ("now", ISO 8601) so the
output is reproducible.

Input (stdin): a JSON list of {"template": str, "variables": {...}, "now": "2025-07-10T12:00:00"?}.
Output (stdout): a JSON list of {"rendered": str} or {"error": "ExceptionType: message"}, one per case.
Needs Python 3 with jinja2 >= 3.1 (no network). Used by gen-chat-expected.mjs and gen-constructs.py.
"""
import json
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


class GenerationTag(jinja2.ext.Extension):
    """transformers' AssistantTracker renders {% generation %}...{% endgeneration %} as its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def environment(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return now.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(case):
    now = datetime.fromisoformat(case.get("now", "2025-07-10T12:00:00"))
    try:
        return {"rendered": environment(now).from_string(case["template"]).render(**case.get("variables", {}))}
    except Exception as e:  # the caller records which cases fail, and how
        return {"error": f"{type(e).__name__}: {e}"}


if __name__ == "__main__":
    cases = json.load(sys.stdin)
    json.dump([render(c) for c in cases], sys.stdout, ensure_ascii=False)
