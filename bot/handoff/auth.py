"""Console accounts: scrypt password hashes and signed, expiring session tokens (no server-side session state)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass
from typing import Optional

from sqlalchemy.orm import Session

from bot.store.models import Counsellor

ROLES = ("counsellor", "supervisor")
SESSION_SECONDS = 12 * 3600
_N, _R, _P = 2 ** 14, 8, 1


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                                   p=int(p), dklen=len(bytes.fromhex(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def add_counsellor(session: Session, username: str, password: str, role: str = "counsellor",
                   display_name: Optional[str] = None) -> Counsellor:
    """Create or update an account."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise ValueError("passwords need at least 10 characters")
    account = session.get(Counsellor, username) or Counsellor(username=username)
    account.password_hash, account.role = hash_password(password), role
    account.display_name, account.active = display_name or username, True
    session.add(account)
    return account


def authenticate(session: Session, username: str, password: str) -> Optional[Counsellor]:
    """The active account with these credentials, or None."""
    account = session.get(Counsellor, username)
    if account is None or not account.active:
        hash_password(password)  # same work either way: no timing hint that the user exists
        return None
    return account if check_password(password, account.password_hash) else None


@dataclass(frozen=True)
class Identity:
    """Who is calling the console API."""

    username: str
    role: str


def issue_token(identity: Identity, secret: str, now: Optional[float] = None) -> str:
    """A token ``username|role|expiry|signature`` (base64url)."""
    expiry = int((now or time.time()) + SESSION_SECONDS)
    body = f"{identity.username}|{identity.role}|{expiry}"
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return base64.urlsafe_b64encode(f"{body}|{mac}".encode()).decode()


def read_token(token: str, secret: str, now: Optional[float] = None) -> Optional[Identity]:
    """The identity in a valid, unexpired token."""
    try:
        username, role, expiry, mac = base64.urlsafe_b64decode(token.encode()).decode().split("|")
    except (ValueError, UnicodeDecodeError):
        return None
    expected = hmac.new(secret.encode(), f"{username}|{role}|{expiry}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected) or int(expiry) < (now or time.time()) or role not in ROLES:
        return None
    return Identity(username, role)
