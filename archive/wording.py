"""How a domain refusal reads as a string, without the domain importing its words.

Domain modules raise exceptions that carry a code and its values (``ClaimRefused``,
``EditRefused``, ``UploadRefused``...). Their words live in ``archive.words``, which
imports the domain, so the domain cannot import them back. Each words module registers
here how its exceptions read (:func:`register`); an exception's ``__str__`` asks
:func:`say`. Importing ``archive.words`` (the app does) registers every one of them;
without it, an exception reads as its code.
"""

from __future__ import annotations

from collections.abc import Callable

_SAYERS: dict[type, Callable] = {}


def register(kind: type, sayer: Callable) -> None:
    _SAYERS[kind] = sayer


def say(err: BaseException) -> str:
    """The words registered for ``err``'s class (or a base class), else its code."""
    for kind in type(err).__mro__:
        sayer = _SAYERS.get(kind)
        if sayer is not None:
            return sayer(err)
    code = getattr(err, "code", None)
    return str(code) if code is not None else repr(err.args)
