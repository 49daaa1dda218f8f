"""The audit log's page in words: its actions, objects and actors, and its filters'
complaints. The log itself keeps codes (``photo.approve``, ``system``): they are its own,
the same in every language, and the page says them in the reader's language."""

from __future__ import annotations

from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l

from .lookup import words_for

#: The actor of what the archive did by itself (``archive.audit.record(None, ...)``).
SYSTEM = "system"

ACTIONS: dict[str, LazyString] = {
    "api_token.create": _l("API token created"),
    "api_token.revoke": _l("API token revoked"),
    "claim.blur_me": _l("Request: keep me blurred"),
    "claim.show_me": _l("Request: show my face"),
    "claim.remove_photo": _l("Request: remove the photo"),
    "claim.missed_face": _l("Request: blur a missed face"),
    "claim.takedown": _l("Takedown request"),
    "claim.confirm": _l("Removal confirmed"),
    "claim.decline": _l("Request declined"),
    "claim.reject": _l("Removal rejected"),
    "claim.verify": _l("Consent verified"),
    "event.add_member": _l("Photographer added to an event"),
    "event.create": _l("Event created"),
    "event.panic_purge": _l("Event's files deleted at once"),
    "event.remove_member": _l("Photographer removed from an event"),
    "event.rotate_review_link": _l("New review link"),
    "face.add": _l("Face box added"),
    "face.decision": _l("Face decision changed"),
    "face.delete": _l("Face box removed"),
    "face.move": _l("Face box moved or resized"),
    "face.unlock": _l("Face unlocked"),
    "invitation.create": _l("Invitation created"),
    "invitation.revoke": _l("Invitation revoked"),
    "photo.approve": _l("Photo approved"),
    "photo.delete": _l("Photo deleted"),
    "photo.hold": _l("Photo held by the archive"),
    "photo.override_self_check": _l("Self-check overridden"),
    "photo.purge": _l("Photo's files deleted"),
    "photo.purge_master": _l("Original deleted (retention)"),
    "photo.reject": _l("Photo rejected"),
    "photo.release": _l("Photo released"),
    "photo.release_hold": _l("Hold released"),
    "photo.skip_claim_window": _l("Claim window skipped"),
    "photo.unrelease": _l("Photo taken back from the public"),
    "storage.rotate_master_key": _l("Storage key changed"),
    "user.create_admin": _l("Administrator created"),
    "user.enable": _l("User enabled"),
    "user.join": _l("User joined"),
    "user.password": _l("Password changed"),
    "user.role": _l("Role changed"),
}
#: Families of actions, as the filter offers them ("face." is every face action).
FAMILIES: dict[str, LazyString] = {
    "api_token.": _l("API tokens: every action"),
    "claim.": _l("Requests: every action"),
    "event.": _l("Events: every action"),
    "face.": _l("Face boxes: every action"),
    "invitation.": _l("Invitations: every action"),
    "photo.": _l("Photos: every action"),
    "storage.": _l("Storage: every action"),
    "user.": _l("Users: every action"),
}
OBJECTS: dict[str, LazyString] = {
    "photo": _l("photo"),
    "claim": _l("claim"),
    "event": _l("event"),
    "user": _l("user"),
    "invitation": _l("invitation"),
    "api_token": _l("API token"),
    "storage": _l("storage"),
}


def action(code: str) -> str:
    """An action (or a family of them, ending in ".") in words; an unknown one as it is."""
    words = FAMILIES.get(code) if code.endswith(".") else ACTIONS.get(code)
    if words is None and code.startswith("claim.withdraw."):
        return gettext("Request withdrawn")
    return str(words) if words is not None else code


def object_type(code: str) -> str:
    return words_for(OBJECTS, code)


def actor(label: str) -> str:
    """Who acted: an e-mail address, or the archive itself."""
    return gettext("the archive (automatic)") if label == SYSTEM else label


def actor_filter(text: str) -> str:
    """The actor filter as typed: the archive's own name for itself, in the reader's
    language, finds what it did."""
    if text and text.strip().lower() in {gettext("the archive (automatic)").lower(),
                                         gettext("the archive").lower()}:
        return SYSTEM
    return text


def filter_error(field: str) -> str:
    """A malformed date filter ("from" or "to"), which was ignored."""
    if field == "from":
        return gettext("The from date must look like 2026-05-01; it was ignored.")
    return gettext("The to date must look like 2026-05-01; it was ignored.")
