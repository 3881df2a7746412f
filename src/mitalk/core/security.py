"""Hashing and random secrets: codes use a keyed hash, tokens a plain hash of 256 random bits."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_code(digits: int = 6) -> str:
    """A uniformly random numeric one-time code."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def hash_code(key: bytes, phone: str, code: str) -> str:
    """Keyed hash of a code, bound to its phone number (a leaked table cannot be brute-forced)."""
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def codes_match(stored_hash: str, candidate_hash: str) -> bool:
    """Constant-time comparison of two code hashes."""
    return hmac.compare_digest(stored_hash, candidate_hash)


def new_token() -> str:
    """An opaque session token with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Tokens are random enough that an unkeyed hash cannot be reversed."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_id() -> str:
    """A random public identifier (no counts leak through sequential ids)."""
    return secrets.token_hex(12)


def csrf_token_for(key: bytes, session_token: str) -> str:
    """The CSRF token bound to a cookie session: only a holder of the session can know it."""
    return hmac.new(key, f"csrf:{session_token}".encode(), hashlib.sha256).hexdigest()


def tokens_match(expected: str, candidate: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(expected.encode(), candidate.encode())
