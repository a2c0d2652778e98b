"""Password changes: by the user (with the current password), and resets by an org admin.

Both void every token of the user (`core.accounts.update_user` bumps the token version) and end the
user's other login sessions; a user's own change keeps the session it was made from (the caller issues
that session new tokens). A reset sets a temporary password that only lets the user choose a new one.
"""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.accounts import forget_session_after_commit, update_user
from core.db import utcnow
from core.errors import ValidationError
from core.models import AuthSession, User
from core.passwords import password_problem


def end_other_sessions(session: Session, user_id: uuid.UUID, *, keep: uuid.UUID | None, reason: str) -> int:
    stmt = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(AuthSession.id != keep)
    ended = list(session.scalars(stmt.values(revoked_at=utcnow(), revoke_reason=reason).returning(AuthSession.id)))
    for session_id in ended:
        forget_session_after_commit(session, session_id)
    return len(ended)


def set_new_password(
    session: Session, user: User, new_password: str, *, old_password: str, keep_session: uuid.UUID | None
) -> None:
    """The user's own change: `old_password` was checked by the caller (the login check, throttled).
    The new one must pass the policy and differ from the old."""
    if new_password == old_password:
        raise ValidationError("the new password must differ from the current one", field="new_password")
    try:
        update_user(session, user, password=new_password)
    except ValidationError as exc:
        raise ValidationError(str(exc), field="new_password") from None
    user.must_change_password = False
    end_other_sessions(session, user.id, keep=keep_session, reason="password changed")


def reset_password(session: Session, user: User) -> str:
    """An org admin's reset: a temporary password (returned once, to hand over) that must be changed at
    the next login; every session and token of the user ends now."""
    temporary = secrets.token_urlsafe(15)
    while password_problem(temporary, email=user.email) is not None:  # a random draw almost never fails
        temporary = secrets.token_urlsafe(15)
    update_user(session, user, password=temporary)
    user.must_change_password = True
    end_other_sessions(session, user.id, keep=None, reason="password reset")
    return temporary


def user_by_id(session: Session, user_id: uuid.UUID) -> User | None:
    return session.scalars(select(User).where(User.id == user_id)).one_or_none()
