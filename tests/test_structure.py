"""The codebase keeps its shape: no import cycles, every module importable on its own,
signaling independent of the server, modules of a readable size (Python and browser), and
rules the browser repeats (close codes) equal to the server's."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from itertools import takewhile
from pathlib import Path

from signaling.closes import FINAL

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "signaling")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The nodes inside `if TYPE_CHECKING:` blocks (never run: not a real import)."""
    return {id(inner) for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)}


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    skipped = _type_checking_only(tree)
    names = set()
    for node in nodes:
        if id(node) in skipped or (isinstance(node, ast.If) and top_level_only):
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_there_are_no_import_cycles():
    # Imports inside functions count too: a cycle hidden in a function is still a cycle.
    modules = _modules()
    graph = {name: {m for m in _imports(path, top_level_only=False) if m in modules and m != name}
             for name, path in modules.items()}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycle = trail[trail.index(target):] + [target] if target in trail else [name, target]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target, trail + [target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_every_module_imports_on_its_own():
    script = ("import importlib, sys\n"
              "for name in sys.argv[1:]:\n"
              "    before = set(sys.modules)\n"
              "    importlib.import_module(name)\n"
              "    for loaded in set(sys.modules) - before:\n"
              "        if loaded.split('.')[0] in ('server', 'signaling'):\n"
              "            del sys.modules[loaded]\n")
    result = subprocess.run([sys.executable, "-c", script, *sorted(_modules())], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_signaling_never_imports_the_server():
    for name, path in _modules().items():
        if name.startswith("signaling"):
            assert not any(m.split(".")[0] == "server"
                           for m in _imports(path, top_level_only=False)), name


def test_modules_stay_readable_or_say_why_not():
    for name, path in _modules().items():
        text = path.read_text()
        if text.count("\n") > MAX_LINES:
            head = text.split('"""')[1] if text.startswith('"""') else ""
            assert "longer than" in head or "one place" in head, (
                f"{name} has {text.count(chr(10))} lines; split it or say at its top why not")


def test_browser_modules_stay_readable_or_say_why_not():
    for path in sorted((ROOT / "web/js").rglob("*.js")):
        text = path.read_text()
        if text.count("\n") > MAX_LINES:
            head = " ".join(takewhile(lambda line: line.startswith("//"), text.splitlines()))
            assert "longer than" in head or "one place" in head, (
                f"{path.relative_to(ROOT)} has {text.count(chr(10))} lines; split it or say at "
                "its top why not")


def test_the_browser_knows_the_servers_final_close_codes():
    source = (ROOT / "web/js/signaling.js").read_text()
    match = re.search(r"const FINAL_CODES = new Set\(\[([0-9, ]+)\]\)", source)
    assert match
    assert {int(code) for code in match.group(1).split(",")} == set(FINAL)
