"""Accounts: invitations (single-use, expiring, stored as a hash), the first admin,
logging in, and the session version that ends every session of an account at once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from enum import StrEnum
from functools import cache

from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from . import audit, wording
from .extensions import db
from .models import PASSWORD_METHOD, ApiToken, Invitation, Role, User, utcnow


class Refusal(StrEnum):
    """Why an account change was refused (``archive.words.accounts`` words each one)."""

    INVITATION_UNUSABLE = "invitation_unusable"
    EMAIL_TAKEN = "email_taken"
    INVITATION_USED = "invitation_used"
    OWN_ROLE = "own_role"
    OWN_ACCOUNT = "own_account"
    TOKEN_NAME_MISSING = "token_name_missing"
    TOKEN_NAME_TOO_LONG = "token_name_too_long"  # params: max


class AccountRefused(ValueError):
    """A refusal for the person who asked: ``code`` (a :class:`Refusal`) and ``params``."""

    def __init__(self, code: Refusal, **params) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params

    def __str__(self) -> str:  # the command line and the logs read English
        return wording.say(self)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user(email: str) -> User | None:
    return db.session.scalars(
        select(User).where(func.lower(User.email) == normalise_email(email))).first()


@cache
def _dummy_hash() -> str:
    """A hash of a random password no one knows, made once per process with the same
    method and cost as real ones: checked against for an unknown address."""
    return generate_password_hash(secrets.token_urlsafe(24), method=PASSWORD_METHOD)


def authenticate(email: str, password: str) -> User | None:
    """The active account with this email and password, else None.

    Exactly one password hash is computed whatever the outcome (an unknown address is
    checked against a dummy hash, a disabled account against its own), so the time a
    login takes does not tell who has an account."""
    user = find_user(email)
    matches = check_password_hash(user.password_hash if user is not None else _dummy_hash(),
                                  password)
    if user is None or not matches or not user.active:
        return None
    return user


def user_for_session(session_id: str) -> User | None:
    """The user a session cookie names (``"<id>:<session version>"``, from
    ``User.get_id``), or None if the version was raised since the cookie was issued (a
    logout, a password or role change, disabling) or the value is not of that form."""
    user_id, sep, version = session_id.partition(":")
    if not sep or not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user


def end_sessions(user: User) -> None:
    """Raise the account's session version: every session cookie issued before stops
    working at the next request, wherever it is. The caller commits. Done in SQL, so
    that two at once both count."""
    user.session_version = User.session_version + 1
    db.session.flush()


def log_out_everywhere(user: User) -> None:
    end_sessions(user)
    db.session.commit()


def change_password(user: User, password: str) -> int:
    """A new password ends every session of the account (the caller logs its own
    browser in again) and revokes its API tokens: one made with a stolen session would
    otherwise outlive it. Returns how many tokens were revoked."""
    user.set_password(password)
    user.must_change_password = False
    end_sessions(user)
    revoked = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())).rowcount
    audit.record(user, "user.password", "user", user.id,
                 f"{revoked} API token(s) revoked" if revoked else None)
    db.session.commit()
    return revoked


def create_invitation(admin: User, role: str, days: int, label: str | None = None
                      ) -> tuple[Invitation, str]:
    """A new invitation and its secret token (shown once; only the hash is kept)."""
    if not admin.is_admin:
        raise PermissionError("only admins invite")
    if role not in (Role.PHOTOGRAPHER, Role.MODERATOR):
        raise ValueError("invitations are for photographers and moderators")
    token = secrets.token_urlsafe(32)
    invitation = Invitation(token_hash=token_hash(token), role=role, label=label or None,
                            created_by_id=admin.id,
                            expires_at=utcnow() + timedelta(days=days))
    db.session.add(invitation)
    db.session.flush()
    audit.record(admin, "invitation.create", "invitation", invitation.id, f"role {role}")
    db.session.commit()
    return invitation, token


def revoke_invitation(admin: User, invitation: Invitation) -> bool:
    """Revoke an invitation that can still be used; False if it could not be."""
    if not admin.is_admin:
        raise PermissionError("only admins revoke invitations")
    if not invitation.usable:
        return False
    invitation.revoked_at = utcnow()
    audit.record(admin, "invitation.revoke", "invitation", invitation.id)
    db.session.commit()
    return True


def find_invitation(token: str) -> Invitation | None:
    """The invitation for ``token`` if it can still be used."""
    invitation = db.session.scalars(
        select(Invitation).where(Invitation.token_hash == token_hash(token))).first()
    return invitation if invitation is not None and invitation.usable else None


def takes_credit(role: str) -> bool:
    """Only photographers are credited on released photos: the others are not asked."""
    return role == Role.PHOTOGRAPHER


def accept_invitation(invitation: Invitation, email: str, display_name: str, password: str,
                      credit_name: str | None) -> User:
    if not takes_credit(invitation.role):
        credit_name = None
    if not invitation.usable:
        raise AccountRefused(Refusal.INVITATION_UNUSABLE)
    if find_user(email):
        raise AccountRefused(Refusal.EMAIL_TAKEN)
    user = User(email=normalise_email(email), display_name=display_name.strip(),
                credit_name=(credit_name or "").strip() or None, role=invitation.role)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    # Claim the invitation in the same transaction, guarded against a concurrent use.
    claimed = db.session.execute(
        Invitation.__table__.update()
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
        .values(used_at=utcnow(), used_by_id=user.id)).rowcount
    if claimed != 1:
        db.session.rollback()
        raise AccountRefused(Refusal.INVITATION_USED)
    audit.record(user, "user.join", "user", user.id, f"invitation {invitation.id}")
    db.session.commit()
    return user


def create_admin(email: str, display_name: str = "Admin") -> tuple[User, str]:
    """A new admin with a one-time password (returned), to be changed at first login."""
    if find_user(email):
        raise ValueError(f"an account with the email {email} already exists")
    password = secrets.token_urlsafe(12)
    user = User(email=normalise_email(email), display_name=display_name, role=Role.ADMIN,
                must_change_password=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(None, "user.create_admin", "user", user.id, "from the command line")
    db.session.commit()
    return user, password


def set_role(admin: User, user: User, role: str) -> None:
    if role not in tuple(Role):
        raise ValueError(f"unknown role {role!r}")
    if user.id == admin.id:
        raise AccountRefused(Refusal.OWN_ROLE)
    user.role = role
    end_sessions(user)
    audit.record(admin, "user.role", "user", user.id, f"role {role}")
    db.session.commit()


def set_active(admin: User, user: User, active: bool) -> None:
    if user.id == admin.id:
        raise AccountRefused(Refusal.OWN_ACCOUNT)
    user.active = active
    end_sessions(user)
    audit.record(admin, "user.enable" if active else "user.disable", "user", user.id)
    db.session.commit()
