"""Accounts, invitations and API tokens in words: why a change was refused.

:mod:`archive.accounts` and :mod:`archive.api_tokens` raise
:class:`~archive.accounts.AccountRefused` with a code; the words are here."""

from __future__ import annotations

from flask_babel import LazyString, force_locale, gettext
from flask_babel import lazy_gettext as _l

from .. import wording
from ..accounts import AccountRefused, Refusal
from ..languages import DEFAULT
from ..models import Role

#: Each role as pages name it.
ROLE: dict[str, LazyString] = {
    Role.PHOTOGRAPHER: _l("photographer"),
    Role.MODERATOR: _l("moderator"),
    Role.ADMIN: _l("admin"),
}

_REFUSAL: dict[Refusal, LazyString] = {
    Refusal.INVITATION_UNUSABLE: _l("This invitation has expired or was already used."),
    Refusal.EMAIL_TAKEN: _l("An account with this email already exists."),
    Refusal.INVITATION_USED: _l("This invitation was already used."),
    Refusal.OWN_ROLE: _l("You cannot change your own role."),
    Refusal.OWN_ACCOUNT: _l("You cannot disable your own account."),
    Refusal.TOKEN_NAME_MISSING: _l("Give the token a name, so that you know later what "
                                   "uses it."),
}


def refusal(err: AccountRefused) -> str:
    if err.code == Refusal.TOKEN_NAME_TOO_LONG:
        return gettext("The name is longer than %(max)d characters.", max=err.params["max"])
    return str(_REFUSAL[err.code])


def refusal_in_english(err: AccountRefused) -> str:
    with force_locale(DEFAULT):
        return refusal(err)


wording.register(AccountRefused, refusal_in_english)
