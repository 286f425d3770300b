"""Finds text a person would see that bypasses the catalog: in a Jinja template, a text
node or a visible attribute outside `{% trans %}` / `_()`, or prose in an expression's
string; in a browser module, a string or template literal with words that is not the
message of a `t()` call. Used by tests/test_i18n.py, which also proves each check catches
an unwrapped string.
"""

from __future__ import annotations

import ast
import re
import warnings
from html.parser import HTMLParser

import jinja2
from babel.messages.catalog import Catalog
from babel.messages.jslexer import Token, unquote_string
from babel.messages.jslexer import tokenize as js_tokens

HOLE = "\x00"
"""Where a translated message or a value filled in at run time stands."""
BRAND = re.compile(r"\bVisitroom\b")
"""The product's name is not translated."""
VISIBLE_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "aria-description"}
BUTTON_INPUTS = {"button", "submit", "reset"}
GETTEXT_NAMES = {"_", "gettext", "ngettext", "pgettext", "npgettext"}
ATTRIBUTES_ONLY = re.compile(r'(\s*[\w-]+="[^"<>]*")+\s*')
"""Template text that is only attributes, written where a macro fills part of a tag: its
visible attributes are checked, the rest is no text."""
NOT_TEXT_BLOCKS = {"body_class"}
"""Template blocks that fill an attribute nobody reads (a class list), not text."""


def has_words(text: str) -> bool:
    """Letters left once placeholders and the product's name are taken out."""
    return bool(re.search(r"[A-Za-z]", BRAND.sub("", text.replace(HOLE, " "))))


def is_prose(text: str) -> bool:
    """A string that reads as words to a person: two words with a space between, a
    capitalised word ("Mute", "Connected…"), or a word next to a filled-in value."""
    if not re.search(r"[A-Za-z]{2,}", text):
        return False
    return bool(re.search(r"[A-Za-z][.,:;!?]?\s+[A-Za-z]", text)
                or re.fullmatch(r"[A-Z][a-z]+[.!?…:]?", text.strip())
                or re.search(rf"[A-Za-z]{{2,}}\s+{HOLE}|{HOLE}\s+[A-Za-z]{{2,}}", text)
                or (text != text.strip() and re.search(r"[A-Za-z]{2,}", text)))


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        values = dict(attrs)
        for name, value in attrs:
            visible = name in VISIBLE_ATTRIBUTES or (
                name == "value" and tag == "input" and values.get("type") in BUTTON_INPUTS)
            if visible and value and has_words(value):
                self.found.append(f'<{tag} {name}="{value.replace(HOLE, "…")}">')

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if self.skip or not has_words(data):
            return
        if ATTRIBUTES_ONLY.fullmatch(data.replace(HOLE, "")):  # a macro's ` lang="en"`
            self.handle_starttag("x", re.findall(r'([\w-]+)="([^"]*)"', data))
            return
        self.found.append(" ".join(data.replace(HOLE, "…").split()))


_LEXER = jinja2.Environment(extensions=["jinja2.ext.i18n"])


def template_problems(source: str) -> list[str]:
    """Untranslated text of a Jinja template (HTML), as the person would read it."""
    html: list[str] = []
    found: list[str] = []
    in_trans = False  # in a trans block (or a block that is no text): its data is no text
    tag: list[tuple[str, str]] = []  # the tokens of the {% %} or {{ }} being read
    for _line, kind, value in _LEXER.lex(source):
        if kind in ("block_begin", "variable_begin"):
            tag = []
            continue
        if kind in ("block_end", "variable_end"):
            words = [v for k, v in tag if k == "name"]
            if words[:1] == ["trans"] or words[:2] in (["block", b] for b in NOT_TEXT_BLOCKS):
                in_trans = True
            elif words[:1] in (["endtrans"], ["endblock"]):
                in_trans = False
            found.extend(_expression_prose(tag))
            html.append(HOLE)
            continue
        if kind == "data":
            html.append(HOLE if in_trans else value)
        elif kind.startswith("comment") or kind.startswith("raw"):
            html.append(HOLE if kind.endswith("begin") else "")
        else:
            tag.append((kind, value))
    parser = _Visible()
    # A value right after a tag's name (`<h1{{ lang_en(x) }}>`) is one more attribute.
    parser.feed(re.sub(rf"(<[A-Za-z][\w-]*){HOLE}", rf"\1 {HOLE}", "".join(html)))
    parser.close()
    return found + parser.found


def _expression_prose(tokens: list[tuple[str, str]]) -> list[str]:
    """Strings inside {{ }} / {% %} that read as words and are not `_()`'s message."""
    out = []
    for i, (kind, value) in enumerate(tokens):
        if kind != "string" or not is_prose(text := ast.literal_eval(value)):
            continue
        if i >= 2 and tokens[i - 1][1] == "(" and tokens[i - 2][1] in GETTEXT_NAMES:
            continue
        out.append(repr(text))
    return out


def _callee(tokens: list[Token], i: int) -> str:
    """The name of the call whose argument list holds token i ('' when none)."""
    depth = 0
    for j in range(i - 1, -1, -1):
        value = tokens[j].value
        if value in (")", "]", "}"):
            depth += 1
        elif value in ("(", "[", "{"):
            if depth == 0:
                if value != "(" or j == 0:
                    return ""
                if tokens[j - 1].type == "name":
                    owner = tokens[j - 3].value if j >= 3 and tokens[j - 2].value == "." else ""
                    return f"{owner}.{tokens[j - 1].value}" if owner else tokens[j - 1].value
                return ""
            depth -= 1
    return ""


def _fill_holes(template: str) -> str:
    """A template literal's text with each ${…} (nesting and quotes included) as HOLE."""
    out, i, n = [], 0, len(template)
    while i < n:
        if template.startswith("${", i):
            depth, i = 1, i + 2
            while i < n and depth:
                depth += {"{": 1, "}": -1}.get(template[i], 0)
                i += 1
            out.append(HOLE)
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


SHOWN_PROPERTIES = {"textContent", "title", "value", "label", "innerText", "placeholder"}
"""Properties whose value a person reads: a literal assigned to one is text, one word or many."""
SHOWN_METHODS = {"append", "prepend"}
SHOWN_FUNCTIONS = {"announce"}
"""Calls that put their arguments on the page (and `new Option(text)`)."""


def _markup_problems(text: str) -> list[str]:
    """Text nodes and visible attributes (either quote) of markup built from a string, or of
    a string of attributes (` role="img" aria-label="…"`)."""
    parser = _Visible()
    text = text.replace(HOLE, "…")  # a value may stand inside a tag (`<g${flip}>`)
    parser.feed(text if "<" in text else f"<x {text}>")
    parser.close()
    return parser.found


def _shown(tokens: list[Token], i: int) -> bool:
    """Whether the literal at i is (a branch of) the value given to a property a person
    reads, or an argument of a call that puts text on the page."""
    kind, name = _given_to(tokens, i)
    if kind == "property":
        return name in SHOWN_PROPERTIES
    if kind == "method":
        return name in SHOWN_METHODS
    return (kind == "function" and name in SHOWN_FUNCTIONS) or kind == "new Option"


NOT_TEXT_PROPERTIES = {"className"}
"""Properties whose value nobody reads: a literal given to one is a class list, not text."""


def _given_to(tokens: list[Token], i: int) -> tuple[str, str]:
    """What the literal at i is (a branch of) the value of: ("property", name) assigned,
    ("method" | "function", name) or ("new Option", "") called with; ("", "") otherwise."""
    depth = 0
    for j in range(i - 1, -1, -1):
        value = tokens[j].value
        if value in (")", "]", "}"):
            depth += 1
        elif value in ("(", "[", "{"):
            if depth == 0:
                if value != "(" or j == 0 or tokens[j - 1].type != "name":
                    return "", ""
                owner, _dot, name = tokens[j - 1].value.rpartition(".")  # the lexer keeps a.b.c whole
                if name == "Option" and j >= 2 and tokens[j - 2].value == "new":
                    return "new Option", ""
                return ("method" if owner else "function"), name
            depth -= 1
        elif depth == 0 and value in ("=", "+="):
            target = tokens[j - 1].value if j >= 1 else ""
            return ("property", target.rpartition(".")[2]) if "." in target else ("", "")
        elif depth == 0 and value in (";", "=>", "return", "==", "===", "!=", "!==", "&&", "||"):
            return "", ""
    return "", ""


def js_problems(source: str) -> list[str]:
    """Literals of a browser module that a person may read and that are not `t()`'s
    message: prose anywhere (a log line, an Error or an object key excepted), any word
    given to a property or call that shows text, any words in markup built from a string,
    and a template literal with a value as `t()`'s message (its message id would change
    with the value)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Babel's own JS tokenizer
        return _js_problems(source)


def _js_problems(source: str) -> list[str]:
    tokens = [t for t in js_tokens(source, template_string=True)
              if t.type not in ("linecomment", "multilinecomment")]
    found = []
    for i, token in enumerate(tokens):
        if token.type == "string":
            text = unquote_string(token.value)
        elif token.type == "template_string":
            text = _fill_holes(token.value[1:-1])
            if re.search(r"\$\{[^`]*\bt\(", token.value):  # Babel reads no call inside `...`
                found.append(f"line {token.lineno}: t() inside a template literal is not extracted")
        else:
            continue
        if i >= 2 and tokens[i - 1].value == "(" and tokens[i - 2].value == "t":
            if token.type == "template_string" and HOLE in text:
                found.append(f"line {token.lineno}: t() of a template literal with a value")
            continue
        if "<" in text or re.search(r"=[\"']", text):
            found.extend(f"line {token.lineno}: {v!r}" for v in _markup_problems(text))
            continue
        following = tokens[i + 1].value if i + 1 < len(tokens) else ""
        before = tokens[i - 2].value if i >= 2 else ""
        if following == ":" and tokens[i - 1].value in ("{", ","):
            continue  # an object's key (before ":" after "?", it is a branch)
        if (tokens[i - 1].value == ":" and before == "class") or \
                _given_to(tokens, i) in {("property", n) for n in NOT_TEXT_PROPERTIES}:
            continue  # a CSS class list
        if _shown(tokens, i):
            if has_words(text):
                found.append(f"line {token.lineno}: {text.replace(HOLE, '${…}')!r}")
            continue
        callee = _callee(tokens, i)
        if (callee.startswith("console.") or callee in ("Error", "matchMedia")
                or callee.endswith("classList.add")):
            continue
        if is_prose(text):
            found.append(f"line {token.lineno}: {text.replace(HOLE, '${…}')!r}")
    return found


ERROR_HELPERS = {"ApiError": 2, "error_response": 3, "_again": 2}
"""The server's error helpers a person reads the message of, and where the message is
among their positional arguments."""
MESSAGE_MARKERS = {"N_", "_"}


def error_message_problems(source: str) -> list[str]:
    """Calls of the error helpers whose message is text not marked for the catalog: a
    string or an f-string, where `N_("...")` (or a variable holding a marked message, or
    a call that returns one) belongs."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name not in ERROR_HELPERS:
            continue
        place = ERROR_HELPERS[name]
        given = [k.value for k in node.keywords if k.arg in ("message", "error")]
        message = node.args[place] if len(node.args) > place else (given[0] if given else None)
        if message is not None and not _marked(message):
            found.append(f"line {node.lineno}: {name}(... {ast.unparse(message)[:60]})")
    return found


def _marked(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        callee = node.func.id if isinstance(node.func, ast.Name) else ""
        if callee in MESSAGE_MARKERS:
            return len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
        return callee not in ("str", "repr", "format")
    return isinstance(node, (ast.Name, ast.Attribute, ast.Subscript))


STAFF_ONLY_SOURCES = ("web/js/admin.js", "web/js/dashboard.js")
"""The staff's admin pages' modules; their templates are templates/admin/ (but its sign-in
page, which a patient may meet)."""
PATIENT_TEMPLATES_OF_ADMIN = ("templates/admin/login.html",)
QUESTIONNAIRE_CONTENT = re.compile(r"server/care/instruments/(?!model\.py$|__init__\.py$)\w+\.py")
"""A questionnaire's own text (items, anchors, instructions): Spanish only where a validated
Spanish version exists (docs/questionnaires.md), so not every message of it needs one."""


def patient_facing(path: str) -> bool:
    """Whether a message used at `path` (a catalog location) can reach a patient: templates
    outside templates/admin/, browser modules but the admin's, and the server's Python (its
    marked messages are page errors, her JSON's words and email subjects), but a
    questionnaire's own text."""
    if path.startswith("templates/"):
        return not path.startswith("templates/admin/") or path in PATIENT_TEMPLATES_OF_ADMIN
    if path.startswith("web/js/"):
        return path not in STAFF_ONLY_SOURCES
    if path.startswith(("server/", "signaling/")):
        return not QUESTIONNAIRE_CONTENT.fullmatch(path)
    return False


def missing_translations(template: Catalog, translated: Catalog) -> list[str]:
    """The patient-facing messages of `template` (extracted from the sources) that
    `translated` (a language's .po) lacks: no entry, an empty form, or a fuzzy one. Each
    names a place it is used."""
    out = []
    for message in template:
        places = [path for path, _line in message.locations if patient_facing(path)]
        if not message.id or not places:
            continue
        found = translated.get(message.id, message.context)
        forms = (found.string if isinstance(found.string, (list, tuple)) else (found.string,)) \
            if found is not None else ("",)
        if found is None or found.fuzzy or not all(forms):
            first = message.id if isinstance(message.id, str) else message.id[0]
            out.append(f"{places[0]}: {first!r}")
    return out
