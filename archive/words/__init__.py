"""The one layer that turns the archive's codes into words, in the reader's language.

Domain modules (``release``, ``claims``, ``face_edits``, ``photos``, ``retention``...)
return codes with parameters: enums, short string codes, numbers and dates. The modules
here map each code to a translatable sentence (``lazy_gettext``/``gettext``), so that a
sentence is written once, translated once (``archive/translations/``) and shown the same
way on every page, in e-mails and in the API's human ``message``. Views import words from
here, never from another view.
"""

# Every words module, imported with the package: each registers how its domain's
# refusals read (archive.wording), so an exception reads in words wherever it is shown.
from . import (  # noqa: E402, F401
    accounts,
    audit,
    claims,
    dates,
    faces,
    metadata,
    photos,
    places,
    plurals,
    release,
    retention,
    review,
)
