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


FILE_NAME = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.(?:py|js|css|html|sql|toml|md))\b")


def _file_names_in(doc: Path) -> set[str]:
    """The file names a page mentions, without placeholders such as `NNNN_name.sql`."""
    return {name for name in FILE_NAME.findall(doc.read_text()) if "NNNN" not in name}


def test_the_architecture_page_names_files_that_exist():
    # A name may be written from the repository's root or from a folder the page is
    # describing (`app.py` in the server's box, `call-state.js` in the browser's table).
    present = [path.relative_to(ROOT).as_posix()
               for folder in ("server", "signaling", "web", "templates", "docs", "tests", "bench")
               for path in (ROOT / folder).rglob("*") if "__pycache__" not in path.parts]
    present += [path.name for path in ROOT.glob("*.*")]
    missing = sorted(name for name in _file_names_in(ROOT / "docs/architecture.md")
                     if not any(path == name or path.endswith("/" + name) for path in present))
    assert not missing, f"docs/architecture.md names files that are not there: {missing}"


def test_the_file_name_check_sees_a_moved_file(tmp_path: Path):
    doc = tmp_path / "page.md"
    doc.write_text("`server/visits.py` holds it; so do live.py, web/js/call.js and NNNN_x.sql.")
    assert _file_names_in(doc) == {"server/visits.py", "live.py", "web/js/call.js"}


def test_the_server_package_keeps_its_modules_in_folders_by_domain():
    # The application factory and its keys are the server's root; everything else belongs
    # to what it serves (http/, runtime/, visits/, auth/, storage/, views/, library/).
    loose = sorted(path.name for path in (ROOT / "server").glob("*.py"))
    assert loose == ["__init__.py", "app.py", "keys.py"], loose
