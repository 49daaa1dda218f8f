"""Which way imports go. The domain never imports its words: refusals read through
archive.wording, which the words modules fill (issue 15); and no view imports another
view (issue 16)."""

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


#: Imports inside functions that remain, each with why. The command line and the app
#: factory load parts lazily (start-up time, `scrub` without Flask); the two cycles
#: between claims, release and retention wait for issue 16's deletion module.
LATE_IMPORTS = {
    ("claims.py", "."): "cycle claims -> retention -> claims (deletion module to come)",
    ("release.py", ".retention"): "cycle release -> retention -> claims -> release (same)",
}
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
