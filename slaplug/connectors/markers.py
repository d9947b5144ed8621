"""Markers that tie a posted note to the action that posted it, unguessable by customers.

A connector that posts an internal note (a comment, a work note) ends it with a marker, so
that a retry after a lost answer can see the note is already there and not post it twice.
A marker that anyone can compute lets a requester suppress slaplug's writes: type the
right markers into the ticket's description, and every action on it looks already applied.

So a marker is an HMAC of the action's idempotency key under a per-install secret (the
store keeps one, `slaplug.store.Store.install_secret`), and connectors count a marker only
in internal notes written by their own API user.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["MarkerKey"]


class MarkerKey:
    """The secret that keys comment markers.

    Args:
        secret: The per-install secret; any length, kept out of reprs.

    Example:
        >>> key = MarkerKey(b"install secret")
        >>> key.digest("zendesk:1:p:first_response:0:breach", 12)
        'ce8ece463f9e'
    """

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a marker key needs a non-empty secret")
        self._secret = secret

    @classmethod
    def from_values(cls, *values: str) -> MarkerKey:
        """A key derived from configuration values (a connector's credentials).

        The fallback for a connector used outside a runtime (tests, scripts): stable across
        processes, and unknown to customers as long as one value is a credential.
        """
        material = "\x00".join(values) or "slaplug"
        return cls(hashlib.sha256(b"slaplug-marker\x00" + material.encode()).digest())

    def digest(self, key: str, length: int = 16) -> str:
        """The first ``length`` hex digits of HMAC-SHA256(secret, key)."""
        if not 8 <= length <= 64:
            raise ValueError("a marker digest takes 8 to 64 hex digits")
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()[:length]

    def __repr__(self) -> str:
        return "MarkerKey(**********)"
