"""Which way imports go. The domain never imports its words: refusals read through
archive.wording, which the words modules fill (issue 15). No view imports another view,
the domain asks for jobs without the task layer, no import hides in a function, and the
import graph has no cycle (issue 16)."""

from __future__ import annotations

import ast
from pathlib import Path

import archive

PACKAGE = Path(archive.__file__).parent
#: The layers that may word things: the words themselves, the views, the command line.
WORDING_LAYERS = ("words/", "admin/", "api/", "attend/", "auth/", "gallery/", "review/",
                  "studio/", "app.py", "cli.py", "cli_commands.py", "notify.py")


def test_no_domain_module_imports_the_words_layer():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(WORDING_LAYERS):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and (
                    node.module == "words" or node.module.startswith("words.")
                    or node.module.startswith("archive.words")):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_a_refusal_reads_in_words_in_english_outside_a_request():
    import archive.words  # noqa: F401 - registers the words
    from archive.claims import ClaimRefused, Refusal
    from archive.photos import Refusal as UploadRefusal
    from archive.photos import UploadRefused

    assert str(ClaimRefused(Refusal.FACE_NOT_IN_PHOTO)) == "That face is not in this photo."
    assert str(UploadRefused(UploadRefusal.EMPTY)) == "The file is empty (0 bytes)."


VIEW_PACKAGES = ("admin", "api", "attend", "auth", "gallery", "review", "studio")


def test_no_view_imports_another_view():
    """Shared lookups live in archive.lookups, words in archive.words: a view module
    imports neither another blueprint's modules nor a sibling view module."""
    offenders = []
    for package in VIEW_PACKAGES:
        for path in sorted((PACKAGE / package).glob("*.py")):
            if path.name == "__init__.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.ImportFrom):
                    continue
                module = node.module or ""
                other_view = node.level == 2 and module.split(".")[0] in VIEW_PACKAGES
                sibling = node.level == 1 and module in ("routes", "claims_routes")
                if other_view or sibling:
                    offenders.append(f"{package}/{path.name}:{node.lineno} from "
                                     f"{'.' * node.level}{module}")
    assert offenders == []


def test_the_domain_asks_for_jobs_without_importing_the_task_layer():
    """photos and rendering queue work through archive.jobs; only the app factory and
    the worker command know archive.tasks (issue 16)."""
    allowed = {"app.py", "cli_commands.py", "tasks.py"}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            if "tasks" in names or any(n.endswith(".tasks") for n in names):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


#: Imports inside functions that remain, each with why (none: archive.deletion sits
#: below claims, release and retention). The command line and the app factory load
#: parts lazily (start-up time, `scrub` without Flask).
LATE_IMPORTS: dict[tuple[str, str], str] = {}
LAZY_LAYERS = ("app.py", "cli.py", "cli_commands.py", "__init__.py", "imaging/batch.py")


def test_no_new_import_inside_a_function_dodges_a_cycle():
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.endswith(LAZY_LAYERS):
            continue
        for func in ast.walk(ast.parse(path.read_text())):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom) and node.level:
                    found.add((rel, "." * node.level + (node.module or "")))
                elif isinstance(node, ast.Import):
                    found.add((rel, ",".join(a.name for a in node.names)))
    assert found == set(LATE_IMPORTS)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the archive modules it imports, at its top or inside a function (a
    late import hides a cycle, it does not remove it); not under ``TYPE_CHECKING``, and
    not in the layers that load parts lazily for start-up time (LAZY_LAYERS)."""
    def name_of(path: Path) -> str:
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name_of(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(block.test)
                       for n in ast.walk(block)}
        lazy = path.relative_to(PACKAGE).as_posix().endswith(LAZY_LAYERS)
        nodes = tree.body if lazy else [n for n in ast.walk(tree) if id(n) not in typing_only]
        for node in nodes:
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")
                if node.level:
                    base = base[:len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found = sub if sub in modules else target
                    if found in modules and found != module:
                        graph[module].add(found)
            elif isinstance(node, ast.Import):
                graph[module] |= {a.name for a in node.names if a.name in modules}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle_but_a_blueprints_own():
    """A blueprint package defines ``bp`` and imports its route modules, which import
    ``bp`` back (Flask's own pattern): that loop stays inside the package. Nothing else
    loops."""
    loops = [c for c in _cycles(_import_graph())
             if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert loops == []
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]  # can fail
