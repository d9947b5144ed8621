"""Custom ticket fields: the name a rule gives one, and the key the account uses for it.

A ticket's ``custom_fields`` is keyed by the field's ``name`` in ``GET /api/v2/ticket_fields``
("Key value pairs containing the names and values of custom fields", Freshdesk API v2
reference, "Update a Ticket"; a copy in ktsaou/freshdesk_mcp ``FRESHDESK_API_DOCS.txt``).
That name is not always ``cf_``-prefixed. What the sources show goes by when the field was
made, not by a setting:

* fields made lately are: the reference's newer ticket examples (``"cf_order_number_1"``,
  custom objects) and a recorded listing (oneblink/sdk-core-js
  ``tests/freshdeskFieldsFixture.json``: ``"cf_submission_id"``, ``"cf_from"``... created
  2020-2025 on an account whose default fields date from 2018);
* fields made in 2015-2016 are not: the reference's own "List All Ticket Fields" example
  (``"name": "department"``, ``"rating"``, created 2015) and its ticket examples
  (``"custom_fields": {"category": "Primary"}``); Freshdesk's support article 216548 "Create
  and update tickets with custom fields using API" (the field labelled Gadget is named
  ``gadget``); a v2 ticket recorded in 2016 by sjkingo/python-freshdesk
  (``freshdesk/v2/tests/sample_json_data/ticket_1.json``: ``"custom_fields":
  {"parent_or_child": null, ...}``).

No source says Freshdesk renamed old fields, so an old account may have both kinds. A rule
may name a field with or without ``cf_``, and `CustomFields.resolve` finds the account's own
key: the name as given, else the name with ``cf_`` added or removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CustomFields", "UnknownFieldError"]

PREFIX = "cf_"


class UnknownFieldError(ValueError):
    """A rule names a custom field the account does not have (under either spelling)."""


@dataclass(frozen=True)
class CustomFields:
    """The account's custom ticket fields: key (``name``) -> label.

    Attributes:
        labels: Each custom field's ``name`` (the key of ``custom_fields``) and ``label``.
    """

    labels: Mapping[str, str]

    @classmethod
    def from_ticket_fields(cls, fields: Iterable[Any]) -> CustomFields:
        """Read ``GET /api/v2/ticket_fields``: the fields whose ``default`` is false
        ("Set to true if the field is not a custom field", reference "List All Ticket
        Fields"), and the levels of a dependent field (``nested_ticket_fields``, each with its
        own ``name``: ``cf_state``, ``cf_city`` in the recorded oneblink listing)."""
        labels: dict[str, str] = {}
        for f in fields:
            if not isinstance(f, Mapping) or f.get("default") is not False or not f.get("name"):
                continue
            labels[str(f["name"])] = str(f.get("label") or f["name"])
            for nested in f.get("nested_ticket_fields") or ():
                if isinstance(nested, Mapping) and nested.get("name"):
                    labels[str(nested["name"])] = str(nested.get("label") or nested["name"])
        return cls(labels)

    @staticmethod
    def spellings(name: str) -> tuple[str, ...]:
        """The keys a rule's field name may stand for: as given first, then with ``cf_``
        added or removed."""
        other = name.removeprefix(PREFIX) if name.startswith(PREFIX) else PREFIX + name
        return (name, other) if other else (name,)

    def resolve(self, name: str) -> str | None:
        """The account's key for the field a rule calls ``name``, or None."""
        return next((k for k in self.spellings(name) if k in self.labels), None)

    def key(self, name: str) -> str:
        """Like `resolve`, but an unknown field is an `UnknownFieldError` listing the
        account's custom fields."""
        found = self.resolve(name)
        if found is None:
            raise UnknownFieldError(self.missing(name))
        return found

    def missing(self, name: str) -> str:
        """What to tell the user when ``name`` is none of the account's custom fields."""
        tried = " or ".join(repr(k) for k in self.spellings(name))
        return (
            f"Freshdesk has no custom ticket field {tried} (GET /api/v2/ticket_fields); "
            f"the account's custom fields: {self.listing()}"
        )

    def listing(self) -> str:
        """``cf_a (Label A), b (Label B)`` or ``none``."""
        if not self.labels:
            return "none"
        return ", ".join(
            k if label == k else f"{k} ({label})" for k, label in sorted(self.labels.items())
        )
