"""Which language a page is written in, and the switcher that chooses it.

The archive ships English (the source), Russian and Persian (right to left). A request's
language is, in this order:

1. ``?lang=xx`` in its address: a review link shared in a language (``/r/<token>?lang=ru``);
2. the reader's own choice, made with the switcher on every page and kept in the
   ``lang`` cookie, which holds the language code and nothing else;
3. the event's own language, for the event's review link and public pages (a view calls
   :func:`use_event_language` before it renders);
4. the browser's ``Accept-Language``;
5. English.

An unknown or malformed code at any step is skipped quietly: it is never echoed into a
page, a header or a log.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, Flask, Response, g, has_request_context, redirect, request
from flask_babel import Babel, get_locale, refresh

#: The cookie that remembers the reader's choice (a code from LANGUAGES, nothing else).
COOKIE = "lang"
#: A year: a language choice is not a secret and is not worth asking again.
COOKIE_AGE = 365 * 24 * 3600


class Language(NamedTuple):
    code: str
    #: The language's name in itself, as the switcher shows it to those who read it.
    name: str
    direction: str  # "ltr" or "rtl"


LANGUAGES: dict[str, Language] = {
    "en": Language("en", "English", "ltr"),
    "ru": Language("ru", "Русский", "ltr"),
    "fa": Language("fa", "فارسی", "rtl"),
}
DEFAULT = "en"


def known(code: object) -> str | None:
    """The code if the archive ships that language, else None (never raises)."""
    if isinstance(code, str) and code in LANGUAGES:
        return code
    return None


def choose() -> str:
    """The locale selector (see the module docstring for the order). Outside a request
    (the worker, the command line), English."""
    if not has_request_context():
        return DEFAULT
    for code in (request.args.get("lang"), request.cookies.get(COOKIE),
                 g.get("event_language")):
        if known(code):
            return code  # type: ignore[return-value]
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT


def use_event_language(code: str | None) -> None:
    """Let the event's language decide the page's, below the reader's own choice."""
    g.event_language = known(code)
    refresh()


def current() -> Language:
    locale = get_locale()
    return LANGUAGES.get(str(locale) if locale else DEFAULT, LANGUAGES[DEFAULT])


def back_to(referrer: str | None) -> str:
    """The page the switcher was used on, from the browser's Referer (pages send it to
    this site only: ``Referrer-Policy: same-origin``), less any ``lang`` argument, since
    the choice just made must win over the language in the address. Not a hidden field:
    a page never echoes its own address (a 404's, or a review link's). Anything that is
    not a path on this site gives the home page."""
    if not referrer:
        return "/"
    parts = urlsplit(referrer)
    if (parts.scheme, parts.netloc) != (request.scheme, request.host):
        return "/"
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k != "lang"])
    return f"{path}?{query}" if query else path


bp = Blueprint("languages", __name__)


@bp.post("/language")
def switch() -> Response:
    """The switcher's form: remember the choice, go back to the page it was made on.

    Exempt from the CSRF check (in ``create_app``): it is on pages shared by every
    visitor, which carry no session token, and the worst another site can do with it is
    change a reader's language."""
    response = redirect(back_to(request.referrer), code=303)
    code = known(request.form.get("lang"))
    if code:
        response.set_cookie(COOKIE, code, max_age=COOKIE_AGE, httponly=True,
                            samesite="Lax", secure=request.is_secure)
    return response


def register(app: Flask, babel: Babel) -> None:
    babel.init_app(app, locale_selector=choose)
    app.register_blueprint(bp)

    @app.context_processor
    def _language() -> dict:
        return {"language": current(), "languages": LANGUAGES.values()}
