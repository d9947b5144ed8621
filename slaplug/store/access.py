"""Credentials of the web pages: manager tokens for the dashboard, customer page tokens.

A token reads ``slpc_<id>_<secret>`` (customer) or ``slpm_<id>_<secret>`` (manager): the id is
public (lists, revocation, logs), the secret is 32 random bytes in hex. Only the secret's
sha256 is stored, so a copy of the store does not open any page. A plain hash suffices, with
no slow password hash: the secret is random and 256 bits long, nothing to guess from a
dictionary. Revoking keeps the row, marked; rotating is issuing a new token and revoking the
old ones.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, select, update

from slaplug.store._base import StoreBase, aware
from slaplug.store.schema import access_tokens

__all__ = ["AccessMixin", "AccessToken", "Scope", "parse_token"]

Scope = Literal["manager", "customer"]

_PREFIX: dict[str, Scope] = {"slpm": "manager", "slpc": "customer"}
_PREFIX_OF: dict[Scope, str] = {v: k for k, v in _PREFIX.items()}
_TOKEN = re.compile(r"^(slpm|slpc)_([0-9a-f]{12})_([0-9a-f]{64})$")


@dataclass(frozen=True)
class AccessToken:
    """A stored credential, without its secret.

    Attributes:
        id: The public id (``slpc_<id>_...``).
        scope: ``manager`` or ``customer``.
        contract: A customer token's contract ("" for a manager token).
        organization: A customer token's organization ("" for the whole contract).
        label: What the issuer wrote to recognise it (``"Acme, portal link"``).
        revoked_at: When it was revoked; None while it works.
    """

    id: str
    scope: Scope
    contract: str
    organization: str
    label: str
    created_at: datetime
    revoked_at: datetime | None

    def __repr__(self) -> str:  # the id only: never anything resembling the secret
        return f"AccessToken(id={self.id!r}, scope={self.scope!r}, contract={self.contract!r})"


def parse_token(token: str) -> tuple[Scope, str, str] | None:
    """``(scope, id, secret)`` of a well-formed token, else None."""
    m = _TOKEN.fullmatch(token.strip())
    if m is None:
        return None
    return _PREFIX[m[1]], m[2], m[3]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _row(row: object) -> AccessToken:
    r = row._mapping  # type: ignore[attr-defined]
    return AccessToken(
        r["id"],
        r["scope"],
        r["contract"],
        r["organization"],
        r["label"],
        r["created_at"],
        r["revoked_at"],
    )


class AccessMixin(StoreBase):
    """Issue, check, list and revoke web page credentials."""

    def issue_token(
        self,
        scope: Scope,
        *,
        contract: str = "",
        organization: str = "",
        label: str = "",
        now: datetime | None = None,
    ) -> tuple[AccessToken, str]:
        """Make a token; returns its record and the token itself (shown once, never stored).

        Args:
            scope: ``manager`` or ``customer``.
            contract: For a customer token, the contract it shows (required then).
            organization: For a customer token, only this organization's tickets.
            label: A note to recognise it by in ``list``.
        """
        if scope == "customer" and not contract:
            raise ValueError("a customer token names its contract")
        if scope == "manager" and (contract or organization):
            raise ValueError("a manager token sees every contract; name none")
        token_id = secrets.token_hex(6)
        secret = secrets.token_hex(32)
        at = aware(now)
        with self._write() as conn:
            conn.execute(
                access_tokens.insert().values(
                    id=token_id,
                    scope=scope,
                    contract=contract,
                    organization=organization,
                    label=label,
                    secret_hash=_digest(secret),
                    created_at=at,
                    revoked_at=None,
                )
            )
        record = AccessToken(token_id, scope, contract, organization, label, at, None)
        return record, f"{_PREFIX_OF[scope]}_{token_id}_{secret}"

    def check_token(self, token: str) -> AccessToken | None:
        """The record of a valid, unrevoked ``token``; None for anything else."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        scope, token_id, secret = parsed
        with self._read() as conn:
            row = conn.execute(select(access_tokens).where(access_tokens.c.id == token_id)).first()
        if row is None:
            # Compare anyway: an unknown id answers as slowly as a wrong secret.
            hmac.compare_digest(_digest(secret), "0" * 64)
            return None
        record = _row(row)
        good = hmac.compare_digest(_digest(secret), row.secret_hash)
        if not good or record.scope != scope or record.revoked_at is not None:
            return None
        return record

    def list_tokens(
        self, scope: Scope | None = None, contract: str | None = None
    ) -> list[AccessToken]:
        """Tokens, oldest first, revoked ones included."""
        query = select(access_tokens).order_by(access_tokens.c.created_at, access_tokens.c.id)
        if scope is not None:
            query = query.where(access_tokens.c.scope == scope)
        if contract is not None:
            query = query.where(access_tokens.c.contract == contract)
        with self._read() as conn:
            return [_row(r) for r in conn.execute(query)]

    def revoke_tokens(
        self,
        *,
        ids: list[str] | None = None,
        scope: Scope | None = None,
        contract: str | None = None,
        organization: str | None = None,
        keep: str | None = None,
        now: datetime | None = None,
    ) -> list[str]:
        """Revoke the tokens with these ids, or every token of a subject (to rotate).

        Args:
            ids: Token ids to revoke.
            scope, contract, organization: Or every unrevoked token matching these.
            keep: An id not to revoke (the new token of a rotation).

        Returns:
            The ids revoked now (already revoked ones are not counted).
        """
        c = access_tokens.c
        where: list[ColumnElement[bool]] = [c.revoked_at.is_(None)]
        if ids is not None:
            where.append(c.id.in_(ids))
        if scope is not None:
            where.append(c.scope == scope)
        if contract is not None:
            where.append(c.contract == contract)
        if organization is not None:
            where.append(c.organization == organization)
        if keep is not None:
            where.append(c.id != keep)
        if ids is None and scope is None and contract is None:
            raise ValueError("name the tokens to revoke")
        with self._write() as conn:
            found = list(conn.execute(select(c.id).where(*where)).scalars())
            if found:
                conn.execute(
                    update(access_tokens).where(c.id.in_(found)).values(revoked_at=aware(now))
                )
        return found
