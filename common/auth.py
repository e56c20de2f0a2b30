"""Owner tokens: generated once, stored as SHA-256 hashes, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from common.errors import ApiError


def new_token() -> str:
    """Return a fresh URL-safe token with 256 bits of randomness."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of ``token``; tokens are random, so no salt or stretching is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(authorization_header: str | None) -> str | None:
    """Extract the token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization_header:
        return None
    scheme, _, token = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def check_owner(authorization_header: str | None, token_hash: str, admin_token: str) -> None:
    """Allow the stream owner or the instructor.

    Raises ApiError ``unauthorized`` (401) without a bearer token and ``forbidden`` (403)
    with a token that is neither the owner's nor ADMIN_TOKEN.
    """
    token = bearer_token(authorization_header)
    if token is None:
        raise ApiError("unauthorized", headers={"WWW-Authenticate": 'Bearer realm="streams"'})
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return
    if hmac.compare_digest(hash_token(token), token_hash):
        return
    raise ApiError("forbidden")
