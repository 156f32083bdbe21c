"""Pseudonymous user ids: a keyed HMAC of the platform id, so stored rows never hold the id itself."""

from __future__ import annotations

import hashlib
import hmac


def pseudonymise(platform_id: str, key: str) -> str:
    """A stable, non-reversible id for ``platform_id`` under ``key`` (hex, 32 chars)."""
    return hmac.new(key.encode("utf-8"), platform_id.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
