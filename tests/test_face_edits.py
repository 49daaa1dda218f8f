"""archive.face_edits, called directly on both databases: each rule, each refusal (a
refusal changes nothing: no face, no audit entry, no render, no version bump), the audit
entries (no image data), and the render every change needs.

Photos here are rows with a real master (a textured picture without faces, so that the
real re-render and self-check run in a fraction of a second), not uploads.
"""

from __future__ import annotations

import io
import math
import re
from datetime import date

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from archive.words import faces as face_words
from archive.words import release as release_words
from tests.web_client import make_event, make_user

W, H = 400, 300
#: What an audit reason of a box edit may hold: words, face ids, boxes, scores.
AUDIT_TEXT = re.compile(r"^[\w\s\[\],.:()“”'\-]+$")


def _jpeg(seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    # Sharp detail (stripes 3 px wide) that obscuring must wipe out wherever it acts.
    stripes = 128 + 90 * np.sign(np.sin(xx / 3.0 + np.cos(yy / 29.0)))
    base = np.stack([stripes, stripes, 110 + 50 * np.cos(yy / 13.0)], axis=-1)
    base = base + rng.normal(0, 8, base.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=92)
    return buf.getvalue()


@pytest.fixture
def world(app):
    """A moderator, a photographer, an event long over, and a maker of photos."""
    from archive.extensions import db
    from archive.models import Face, Photo, utcnow
    from archive.photos import get_store

    with app.app_context():
        ana = make_user("ana@example.org")
        make_user("mod@example.org", role="moderator")
        event = make_event("May Day", members=[ana], day=date(2026, 5, 1))
        event_id, ana_id = event.id, ana.id

    def make_photo(state: str = "in_review", faces=((40, 40, 100, 110),), **face_kw) -> int:
        with app.app_context():
            store = get_store()
            data = _jpeg()
            photo = Photo(event_id=event_id, photographer_id=ana_id, state=state, width=W,
                          height=H, processed_at=utcnow(), self_check_faces=0,
                          self_check_boxes=[])
            photo.master_key = store.put("private", io.BytesIO(data))
            photo.derivative_key = store.put("public", io.BytesIO(data))
            photo.thumb_key = store.put("public", io.BytesIO(data))
            for box in faces:
                photo.faces.append(Face(x1=box[0], y1=box[1], x2=box[2], y2=box[3], score=0.8,
                                        **face_kw))
            if state == "released":
                photo.approved_at = photo.released_at = utcnow()
            db.session.add(photo)
            db.session.commit()
            return photo.id

    return make_photo


def photo_of(photo_id: int):
    from archive.extensions import db
    from archive.models import Photo

    db.session.expire_all()
    return db.session.get(Photo, photo_id)


def moderator():
    from archive.extensions import db
    from archive.models import User

    return db.session.scalars(select(User).where(User.email == "mod@example.org")).one()


def photographer():
    from archive.extensions import db
    from archive.models import User

    return db.session.scalars(select(User).where(User.email == "ana@example.org")).one()


def face_audits() -> list:
    from archive.extensions import db
    from archive.models import AuditEntry

    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("face.%"))
                                   .order_by(AuditEntry.id)))


def state_of(photo_id: int) -> tuple:
    """Everything a refused edit must leave as it was."""
    from archive.extensions import db
    from archive.models import AuditEntry

    photo = photo_of(photo_id)
    return (sorted((f.id, f.box, f.decision, f.locked, f.source) for f in photo.faces),
            photo.version, photo.derivative_key, photo.render_pending, photo.state,
            db.session.scalar(select(func.count(AuditEntry.id))))


def assert_clean_audit(entry, photo) -> None:
    assert entry.object_type == "photo" and entry.object_id == photo.ref
    assert entry.actor_label == "mod@example.org"
    assert AUDIT_TEXT.match(entry.reason), entry.reason
    assert len(entry.reason) < 400  # words and numbers, never image data


def assert_rerendered(photo, old_key: str) -> None:
    from archive.photos import get_store

    assert photo.derivative_key != old_key
    assert not photo.render_pending
    keys = get_store().keys()
    assert old_key not in keys and photo.derivative_key in keys


# --- Adding, moving, removing -------------------------------------------------------------


def test_add_box_obscures_a_new_face_audited_and_rendered_again(app, world):
    from archive import face_edits
    from archive.photos import get_store

    pid = world()
    with app.app_context():
        photo = photo_of(pid)
        old_key = photo.derivative_key
        before = np.asarray(Image.open(get_store().open(old_key)).convert("L"), dtype=float)
        face = face_edits.add_box(photo, moderator(), [250, 100, 330, 190])
        photo = photo_of(pid)
        added = [f for f in photo.faces if f.id == face.id]
        assert added and added[0].box == (250, 100, 330, 190)
        assert added[0].source == "moderator" and added[0].decision == "obscure"
        assert not added[0].locked
        [entry] = face_audits()
        assert entry.action == "face.add" and f"face {face.id}" in entry.reason
        assert "[250, 100, 330, 190]" in entry.reason
        assert_clean_audit(entry, photo)
        assert_rerendered(photo, old_key)
        # The new derivative is obscured inside the new box, and only around it.
        after = np.asarray(Image.open(get_store().open(photo.derivative_key)).convert("L"),
                           dtype=float)
        inside = np.abs(after[120:170, 265:315] - before[120:170, 265:315]).mean()
        far = np.abs(after[220:290, 10:80] - before[220:290, 10:80]).mean()
        assert inside > 30 and far < 4, (inside, far)


@pytest.mark.parametrize("box", [
    [1, 2, 3],  # three numbers
    ["left", 0, 50, 50],
    [0, 0, float("nan"), 50],
    [0, 0, math.inf, 50],
    [True, 0, 50, 50],
    None,
    "10 10 50 50",
    [50, 50, 10, 10],  # inverted
    [10, 10, 10, 60],  # no width
    [-20, 10, 60, 60],  # outside, left
    [10, 10, 60, H + 5],  # outside, bottom
    [10, 10, 12, 60],  # 2 px wide: too small
    {"x1": 10, "y1": 10, "x2": 60},  # a corner missing
])
def test_nonsense_boxes_are_refused_and_change_nothing(app, world, box):
    from archive import face_edits

    pid = world()
    with app.app_context():
        before = state_of(pid)
        with pytest.raises(face_edits.EditRefused) as refused:
            face_edits.add_box(photo_of(pid), moderator(), box)
        assert str(refused.value).endswith(".")  # a sentence for the moderator
        face = photo_of(pid).faces[0]
        with pytest.raises(face_edits.EditRefused):
            face_edits.move_box(face, moderator(), box)
        assert state_of(pid) == before


def test_a_box_a_pixel_over_the_edge_is_clipped(app, world):
    from archive import face_edits

    pid = world()
    with app.app_context():
        face = face_edits.add_box(photo_of(pid), moderator(), [-0.6, 250, 50, H + 0.8])
        assert photo_of(pid).faces[-1].box == (0, 250, 50, H)
        assert face.id


def test_move_and_resize_are_audited_and_a_move_to_the_same_place_is_nothing(app, world):
    from archive import face_edits

    pid = world()
    with app.app_context():
        photo = photo_of(pid)
        old_key = photo.derivative_key
        face = photo.faces[0]
        assert face_edits.move_box(face, moderator(), [60, 50, 140, 140])
        photo = photo_of(pid)
        assert photo.faces[0].box == (60, 50, 140, 140)
        [entry] = face_audits()
        assert entry.action == "face.move"
        assert entry.reason == f"face {face.id} from [40, 40, 100, 110] to [60, 50, 140, 140]"
        assert_clean_audit(entry, photo)
        assert_rerendered(photo, old_key)

        before = state_of(pid)
        assert not face_edits.move_box(photo.faces[0], moderator(), [60, 50, 140, 140])
        assert state_of(pid) == before


def test_a_locked_box_may_grow_but_not_move_or_shrink(app, world):
    from archive import face_edits

    pid = world(locked=True, source="claim")
    with app.app_context():
        before = state_of(pid)
        for box in ([45, 40, 105, 110], [40, 40, 90, 110], [0, 0, 60, 60]):
            with pytest.raises(face_edits.EditRefused, match="stay blurred"):
                face_edits.move_box(photo_of(pid).faces[0], moderator(), box)
        assert state_of(pid) == before
        assert face_edits.move_box(photo_of(pid).faces[0], moderator(), [30, 30, 120, 130])
        assert photo_of(pid).faces[0].box == (30, 30, 120, 130)


def test_a_shown_face_keeps_its_box(app, world):
    from archive import face_edits

    pid = world(decision="show")
    with app.app_context():
        before = state_of(pid)
        with pytest.raises(face_edits.EditRefused, match="shown with consent"):
            face_edits.move_box(photo_of(pid).faces[0], moderator(), [0, 0, 200, 200])
        assert state_of(pid) == before


def test_a_consented_box_may_shrink_but_not_grow_or_move(app, world):
    """Consent belongs to a box: obscuring the face, moving its box onto someone else
    and showing it again would show that person with another's consent."""
    from archive import claims, face_edits

    pid = world()
    with app.app_context():
        face_id = photo_of(pid).faces[0].id
        claim = claims.make_claim(photo_of(pid), "show_me", face=face_id).claim
        for verified in (False, True):  # an open request, then a verified consent
            if verified:
                claims.verify_show_me(claim, moderator(), "in_person")
                face_edits.set_decision(photo_of(pid).faces[0], moderator(), "obscure")
            before = state_of(pid)
            for box in ([40, 40, 160, 110], [45, 45, 105, 115], [0, 0, 200, 200]):
                with pytest.raises(face_edits.EditRefused, match="can shrink, but not"):
                    face_edits.move_box(photo_of(pid).faces[0], moderator(), box)
            assert state_of(pid) == before
        assert face_edits.move_box(photo_of(pid).faces[0], moderator(), [45, 45, 95, 105])
        assert photo_of(pid).faces[0].box == (45, 45, 95, 105)


def test_a_detected_box_cannot_be_moved_off_what_was_found(app, world):
    from archive import face_edits

    pid = world()
    with app.app_context():
        before = state_of(pid)
        with pytest.raises(face_edits.EditRefused, match="remove it with a reason"):
            face_edits.move_box(photo_of(pid).faces[0], moderator(), [120, 120, 180, 190])
        assert state_of(pid) == before


def test_removing_a_detected_box_needs_a_reason(app, world):
    from archive import face_edits

    pid = world(faces=((40, 40, 100, 110), (200, 40, 260, 110)))
    with app.app_context():
        before = state_of(pid)
        for reason in (None, "", "   "):
            with pytest.raises(face_edits.EditRefused, match="Say why"):
                face_edits.delete_box(photo_of(pid).faces[0], moderator(), reason)
        assert state_of(pid) == before
        with pytest.raises(face_edits.EditRefused, match="too long"):
            face_edits.delete_box(photo_of(pid).faces[0], moderator(), "x" * 2001)
        assert state_of(pid) == before

        photo = photo_of(pid)
        gone, kept = photo.faces
        old_key = photo.derivative_key
        face_edits.delete_box(gone, moderator(), "A face printed on a placard.")
        photo = photo_of(pid)
        assert [f.id for f in photo.faces] == [kept.id]
        [entry] = face_audits()
        assert entry.action == "face.delete"
        assert entry.reason == (f"detected face {gone.id} at [40, 40, 100, 110], score 0.80: "
                                "A face printed on a placard.")
        assert_clean_audit(entry, photo)
        assert_rerendered(photo, old_key)


def test_a_moderators_own_box_goes_without_a_reason(app, world):
    from archive import face_edits

    pid = world(source="moderator")
    with app.app_context():
        face_edits.delete_box(photo_of(pid).faces[0], moderator())
        assert photo_of(pid).faces == []
        assert [e.action for e in face_audits()] == ["face.delete"]


def test_locked_and_claimed_boxes_cannot_be_removed(app, world):
    from archive import claims, face_edits

    locked = world(locked=True)
    drawn = world(source="claim", locked=True)
    claimed = world()
    with app.app_context():
        claims.make_claim(photo_of(claimed), "show_me", face=photo_of(claimed).faces[0].id)
        for pid, words in ((locked, "stay blurred"), (drawn, "stay blurred"),
                           (claimed, "decide the request first")):
            before = state_of(pid)
            with pytest.raises(face_edits.EditRefused, match=words):
                face_edits.delete_box(photo_of(pid).faces[0], moderator(), "not a face")
            assert state_of(pid) == before


# --- Decisions: the ratchet ---------------------------------------------------------------


def test_any_face_can_be_obscured_even_a_locked_one(app, world):
    from archive import face_edits

    pid = world(decision="show", locked=True)  # (a state only a bug could leave)
    with app.app_context():
        old_key = photo_of(pid).derivative_key
        assert face_edits.set_decision(photo_of(pid).faces[0], moderator(), "obscure")
        photo = photo_of(pid)
        assert photo.faces[0].decision == "obscure"
        [entry] = face_audits()
        assert entry.action == "face.decision"
        assert entry.reason == f"face {photo.faces[0].id} obscured"
        assert_rerendered(photo, old_key)
        before = state_of(pid)
        assert not face_edits.set_decision(photo.faces[0], moderator(), "obscure", "again")
        assert state_of(pid) == before


def test_show_needs_a_verified_consent_and_a_reason(app, world):
    from archive import claims, face_edits

    pid = world()
    with app.app_context():
        face_id = photo_of(pid).faces[0].id
        before = state_of(pid)
        with pytest.raises(face_edits.EditRefused, match="verified consent"):
            face_edits.set_decision(photo_of(pid).faces[0], moderator(), "show", "she agreed")
        # An open, unverified "show me" is not consent.
        claim = claims.make_claim(photo_of(pid), "show_me", face=face_id).claim
        before = state_of(pid)
        with pytest.raises(face_edits.EditRefused, match="verified consent"):
            face_edits.set_decision(photo_of(pid).faces[0], moderator(), "show", "she agreed")
        assert state_of(pid) == before
        for bad in ("", "maybe", None):
            with pytest.raises(face_edits.EditRefused):
                face_edits.set_decision(photo_of(pid).faces[0], moderator(), bad, "x")
        assert state_of(pid) == before

        claims.verify_show_me(claim, moderator(), "in_person")
        assert photo_of(pid).faces[0].decision == "show"
        assert face_edits.set_decision(photo_of(pid).faces[0], moderator(), "obscure",
                                       "Her face is too close to a child's.")
        before = state_of(pid)
        with pytest.raises(face_edits.EditRefused, match="Say why"):
            face_edits.set_decision(photo_of(pid).faces[0], moderator(), "show", "  ")
        assert state_of(pid) == before
        assert face_edits.set_decision(photo_of(pid).faces[0], moderator(), "show",
                                       "Checked again: the child is not recognisable.")
        assert photo_of(pid).faces[0].decision == "show"
        entry = face_audits()[-1]
        assert entry.reason == (f"face {face_id} shown (consent: claim {claim.id}): "
                                "Checked again: the child is not recognisable.")

        # Withdrawn, the consent no longer counts.
        claims.withdraw(claim)
        assert photo_of(pid).faces[0].decision == "obscure"
        before = state_of(pid)
        with pytest.raises(face_edits.EditRefused, match="verified consent"):
            face_edits.set_decision(photo_of(pid).faces[0], moderator(), "show", "again")
        assert state_of(pid) == before


def test_a_locked_face_is_never_shown_even_with_a_verified_consent(app, world):
    from archive import claims, face_edits

    pid = world()
    with app.app_context():
        face_id = photo_of(pid).faces[0].id
        claim = claims.make_claim(photo_of(pid), "show_me", face=face_id).claim
        claims.verify_show_me(claim, moderator(), "in_person")
        claims.make_claim(photo_of(pid), "blur_me", face=face_id)
        assert photo_of(pid).faces[0].locked
        before = state_of(pid)
        with pytest.raises(face_edits.EditRefused, match="stay blurred"):
            face_edits.set_decision(photo_of(pid).faces[0], moderator(), "show", "consent")
        assert state_of(pid) == before


def test_a_photographers_release_counts_only_where_the_event_accepts_them(app, world):
    from archive import claims, face_edits
    from archive.extensions import db

    pid = world()
    with app.app_context():
        face_id = photo_of(pid).faces[0].id
        claims.photographer_release(photo_of(pid), face_id, photographer(),
                                    "Signed a release after the march.")
        before = state_of(pid)
        with pytest.raises(face_edits.EditRefused, match="verified consent"):
            face_edits.set_decision(photo_of(pid).faces[0], moderator(), "show", "release")
        assert state_of(pid) == before
        photo_of(pid).event.allow_photographer_releases = True
        db.session.commit()
        assert face_edits.set_decision(photo_of(pid).faces[0], moderator(), "show",
                                       "The event accepts photographers' releases.")
        assert photo_of(pid).faces[0].decision == "show"


# --- Who and when -------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["rejected", "failed", "purged", "processing"])
def test_photos_out_of_review_refuse_every_edit(app, world, state):
    from archive import face_edits

    pid = world(state=state)
    with app.app_context():
        before = state_of(pid)
        face = photo_of(pid).faces[0]
        calls = [
            lambda: face_edits.add_box(photo_of(pid), moderator(), [200, 100, 260, 160]),
            lambda: face_edits.move_box(face, moderator(), [50, 50, 120, 120]),
            lambda: face_edits.delete_box(face, moderator(), "not a face"),
            lambda: face_edits.set_decision(face, moderator(), "obscure"),
            lambda: face_edits.save_boxes(photo_of(pid), moderator(), []),
        ]
        for call in calls:
            with pytest.raises(face_edits.EditRefused, match="cannot be changed"):
                call()
        assert state_of(pid) == before


def test_a_photo_whose_master_was_purged_refuses_edits(app, world):
    from archive import face_edits
    from archive.extensions import db
    from archive.models import utcnow

    pid = world(state="released")
    with app.app_context():
        photo = photo_of(pid)
        photo.master_key, photo.master_purged_at = None, utcnow()
        db.session.commit()
        before = state_of(pid)
        with pytest.raises(face_edits.EditRefused, match="master of this photo was deleted"):
            face_edits.add_box(photo_of(pid), moderator(), [200, 100, 260, 160])
        with pytest.raises(face_edits.EditRefused, match="master of this photo was deleted"):
            face_edits.save_boxes(photo_of(pid), moderator(), [])
        assert state_of(pid) == before


def test_only_moderators_edit(app, world):
    from archive import face_edits

    pid = world()
    with app.app_context():
        before = state_of(pid)
        with pytest.raises(PermissionError):
            face_edits.add_box(photo_of(pid), photographer(), [200, 100, 260, 160])
        with pytest.raises(PermissionError):
            face_edits.save_boxes(photo_of(pid), photographer(), [])
        with pytest.raises(PermissionError):
            face_edits.set_decision(photo_of(pid).faces[0], photographer(), "obscure")
        assert state_of(pid) == before


# --- Saving the canvas's whole set --------------------------------------------------------


def test_save_boxes_adds_moves_and_removes_in_one_render(app, world, monkeypatch):
    from archive import face_edits

    renders = []
    real = face_edits.enqueue_render
    monkeypatch.setattr(face_edits, "enqueue_render", lambda p: (renders.append(p.id), real(p)))
    pid = world(faces=((40, 40, 100, 110), (200, 40, 260, 110), (300, 150, 360, 220)))
    with app.app_context():
        photo = photo_of(pid)
        old_key = photo.derivative_key
        a, b, c = (f.id for f in photo.faces)
        changes = face_edits.save_boxes(
            photo, moderator(),
            [{"id": a, "box": [40, 40, 100, 110]},  # unchanged
             {"id": b, "box": [210, 50, 275, 125]},  # moved and resized
             {"id": None, "box": [20, 200, 90, 280]}],  # new; c left out: removed
            delete_reason="A pattern on a banner.")
        assert renders == [pid]  # one render for the whole set
        assert changes.moved == [b] and changes.deleted == [c] and len(changes.added) == 1
        assert face_words.changes(changes) == "1 box added, 1 box moved or resized, 1 box removed"
        photo = photo_of(pid)
        assert {f.id: f.box for f in photo.faces} == {
            a: (40, 40, 100, 110), b: (210, 50, 275, 125), changes.added[0]: (20, 200, 90, 280)}
        assert sorted(e.action for e in face_audits()) == ["face.add", "face.delete",
                                                           "face.move"]
        for entry in face_audits():
            assert_clean_audit(entry, photo)
        assert_rerendered(photo, old_key)

        # Saving the same set again changes nothing and renders nothing.
        same = [{"id": f.id, "box": list(f.box)} for f in photo.faces]
        before = state_of(pid)
        assert not face_edits.save_boxes(photo, moderator(), same)
        assert state_of(pid) == before and renders == [pid]


def test_save_boxes_refuses_the_whole_set_for_one_bad_box(app, world):
    from archive import face_edits

    pid = world(faces=((40, 40, 100, 110), (200, 40, 260, 110)))
    with app.app_context():
        photo = photo_of(pid)
        a, b = (f.id for f in photo.faces)
        before = state_of(pid)
        attempts = [
            # a good move, and a detected box removed without a reason
            ([{"id": a, "box": [50, 50, 110, 120]}], None, "Say why"),
            # a good new box, and a nonsense one
            ([{"id": a, "box": [40, 40, 100, 110]}, {"id": b, "box": [200, 40, 260, 110]},
              {"box": [300, 200, 350, 260]}, {"box": [10, 10, 5, 5]}], None, "right edge"),
            ([{"id": a, "box": [40, 40, 100, 110]}, {"id": a, "box": [40, 40, 100, 110]},
              {"id": b, "box": [200, 40, 260, 110]}], None, "twice"),
            ([{"id": 999999, "box": [40, 40, 100, 110]}], "gone", "not in this photo"),
            ([{"id": "abc", "box": [40, 40, 100, 110]}], "gone", "not valid"),
            ("not a list", None, "no list"),
            (["not a dict"], None, "four numbers"),
            ([{"box": [1, 1, 50, 50]}] * (face_edits.MAX_BOXES + 1), None, "Too many"),
        ]
        for boxes, reason, words in attempts:
            with pytest.raises(face_edits.EditRefused, match=words):
                face_edits.save_boxes(photo_of(pid), moderator(), boxes, reason)
            assert state_of(pid) == before, words
        # What a hand-made request could send instead of lists and text.
        with pytest.raises(face_edits.EditRefused, match="must be text"):
            face_edits.save_boxes(photo_of(pid), moderator(), [], delete_reason=5)
        with pytest.raises(face_edits.EditRefused, match="no list of the boxes"):
            face_edits.save_boxes(photo_of(pid), moderator(), [], known_ids=5)
        assert state_of(pid) == before


def test_save_boxes_leaves_faces_added_after_the_page_was_loaded(app, world):
    """A claim's missed face arrives while the moderator edits: the save (which does not
    list it) must not remove it, nor fail because it is locked."""
    from archive import claims, face_edits

    pid = world()
    with app.app_context():
        known = [f.id for f in photo_of(pid).faces]
        claims.make_claim(photo_of(pid), "missed_face", box=[250, 150, 320, 230])
        drawn = [f for f in photo_of(pid).faces if f.source == "claim"]
        assert len(drawn) == 1
        changes = face_edits.save_boxes(photo_of(pid), moderator(),
                                        [{"id": known[0], "box": [40, 40, 110, 120]}],
                                        known_ids=known)
        assert changes.moved == known and not changes.deleted
        faces = {f.id: f.box for f in photo_of(pid).faces}
        assert faces == {known[0]: (40, 40, 110, 120), drawn[0].id: drawn[0].box}


def test_editing_a_released_photo_takes_it_off_public_until_rendered(app, world,
                                                                      monkeypatch):
    from archive import face_edits, release

    pid = world(state="released")
    with app.app_context():
        assert release.is_public(photo_of(pid))
        monkeypatch.setattr(face_edits, "enqueue_render", lambda photo: None)  # queue down
        face_edits.add_box(photo_of(pid), moderator(), [250, 100, 330, 190])
        photo = photo_of(pid)
        assert photo.state == "in_review" and photo.render_pending
        assert "Its faces changed: the anonymised version is being made again." in \
            release_words.blockers(photo)
        from archive.rendering import rerender

        rerender(pid)
        photo = photo_of(pid)
        assert not photo.render_pending and photo.self_check_faces == 0
        assert photo.state == "released" and release.is_public(photo)
