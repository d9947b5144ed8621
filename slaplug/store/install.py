"""Per-install values: made once, by whichever process asks first, and never changed."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from slaplug.store._base import StoreBase, aware
from slaplug.store.schema import install

__all__ = ["InstallMixin"]

#: The name of the markers' secret in the ``install`` table.
MARKER_SECRET = "marker_secret"


class InstallMixin(StoreBase):
    """Values that belong to this installation of slaplug (one store, one install)."""

    def install_secret(self, name: str = MARKER_SECRET) -> bytes:
        """A random 32-byte secret named ``name``, made on first use and kept.

        Two processes asking at once get the same value: the first insert wins and the
        other reads it back. Keep the store's backups as private as the API tokens: this
        secret keys the markers that keep a customer from faking slaplug's notes.
        """
        with self._write() as conn:
            stmt = self._insert(install).values(
                name=name, value=secrets.token_hex(32), created_at=aware(None)
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            value = conn.execute(select(install.c.value).where(install.c.name == name)).scalar_one()
        return bytes.fromhex(value)
