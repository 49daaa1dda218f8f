"""Counted words for the pages' scripts, which have no catalogue of their own.

A script asks the browser which plural category a number falls in
(``new Intl.PluralRules(document.documentElement.lang).select(n)``: CLDR's "one",
"few", "many", "other"...) and takes that category's sentence from the page. This
builds the sentences: for each category of the page's language, the catalogue's form for
a number of that category, with ``{number}`` where the number goes.
"""

from __future__ import annotations

from babel import Locale
from flask_babel import get_locale, ngettext

#: Numbers tried to find one of each plural category (CLDR's examples fall in here).
_SAMPLES = (*range(0, 112), 1000, 1000000)


def counted(singular: str, plural: str) -> dict[str, str]:
    """{category: sentence with "{number}"} for the request's language. ``singular``
    and ``plural`` use ``%(count)s`` for the number (a literal, so that the catalogues
    pick them up: the extraction knows ``counted`` as it knows ``ngettext``)."""
    locale = get_locale() or Locale("en")
    forms: dict[str, str] = {}
    for n in _SAMPLES:
        category = locale.plural_form(n)
        if category not in forms:
            forms[category] = ngettext(singular, plural, n, count="{number}")
    forms.setdefault("other", ngettext(singular, plural, 2, count="{number}"))
    return forms
