"""The domain never imports its words: refusals read through archive.wording, which the
words modules fill (issue 15's one words layer, issue 16's one direction)."""

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
