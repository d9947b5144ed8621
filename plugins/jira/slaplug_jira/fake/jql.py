"""A small, strict JQL subset: what an incremental connector sends, and little more.

Supported::

    clause   := field op value | field [NOT] IN (value, ...) | field IS [NOT] EMPTY|NULL
    query    := [clause (AND clause)*] [ORDER BY field [ASC|DESC] (, field [ASC|DESC])*]

Fields: ``project``, ``key``/``issuekey``, ``id``, ``updated``, ``created``, ``status``,
``priority``, ``resolution``, ``labels``, ``assignee``, ``reporter``. Date values are JQL
date literals (``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd HH:mm"``, a date alone), epoch
milliseconds, or relative offsets such as ``-5m``; literals are wall times in the site's
zone, so they are minute-precise (reference §1.2). Anything else, ``OR`` and functions
other than ``now()``/``currentUser()`` included, is rejected with Jira's 400 error shape
rather than guessed at: a connector test should fail loudly if it relies on more.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slaplug_jira.fake.data import (
    PRIORITIES,
    RESOLUTIONS,
    STATUSES,
    Issue,
    JiraStore,
    by_id_or_name,
)
from slaplug_jira.fake.render import JiraTime

DATE_FIELDS = frozenset({"updated", "created"})
FIELDS = DATE_FIELDS | {
    "project",
    "key",
    "issuekey",
    "id",
    "status",
    "priority",
    "resolution",
    "labels",
    "assignee",
    "reporter",
}
ORDER_FIELDS = frozenset({"updated", "created", "key", "issuekey", "id"})
OPERATORS = ("=", "!=", "<", ">", "<=", ">=")
MAX_ORDER_FIELDS = 7  # "orderBy clause can contain a maximum of 7 fields" (OAS)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>>=|<=|!=|=|<|>|~|!~)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z0-9_.\-:/\[\]+]+)
    )""",
    re.VERBOSE,
)
_RELATIVE = re.compile(r"^([-+]?)(\d+)([wdhm])$")
_UNIT_MS = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000}


class JqlError(ValueError):
    """A query the fake rejects; ``str()`` is the message for Jira's ``errorMessages``."""


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind (``str``, ``op``, ``punct``, ``word``) and position."""

    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        """The text upper-cased, for keywords."""
        return self.text.upper() if self.kind == "word" else ""

    @property
    def value(self) -> str:
        """The text with quotes and escapes removed."""
        if self.kind == "str":
            return re.sub(r"\\(.)", r"\1", self.text[1:-1])
        return self.text


@dataclass(frozen=True)
class Clause:
    """``field op values``; ``op`` is one of OPERATORS, ``in``, ``not in``, ``is``, ``is not``."""

    field: str
    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Query:
    """A parsed query: clauses (all must hold) and the ORDER BY fields."""

    clauses: tuple[Clause, ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending)

    def matches(self, issue: Issue) -> bool:
        """True when every clause holds for ``issue``."""
        return all(_holds(c, issue) for c in self.clauses)

    def sort_key(self) -> Callable[[Issue], tuple[Any, ...]]:
        """A key ordering issues by the ORDER BY fields (key ascending if none: **fake's
        choice**); descending numbers are negated so one sort does it."""
        order = self.order or (("key", False),)

        def key(issue: Issue) -> tuple[Any, ...]:
            out: list[Any] = []
            for name, desc in order:
                if name in ("key", "issuekey"):
                    v = int(issue.key.rsplit("-", 1)[1])
                elif name == "id":
                    v = issue.id
                else:
                    v = getattr(issue, name)
                out.append(-v if desc else v)
            return tuple(out)

        return key


def _err(message: str, tok: Token | None = None) -> JqlError:
    where = f" (line 1, character {tok.pos + 1})" if tok is not None else ""
    return JqlError(f"Error in the JQL Query: {message}{where}")


def tokenize(jql: str) -> list[Token]:
    """Split ``jql`` into tokens.

    Raises:
        JqlError: at a character no token starts with.
    """
    tokens: list[Token] = []
    pos = 0
    while pos < len(jql):
        if jql[pos:].strip() == "":
            break
        m = _TOKEN.match(jql, pos)
        if m is None or m.end() == pos:
            bad = Token("word", jql[pos].strip() or jql[pos:].lstrip()[:1], pos)
            raise _err(f"The character '{bad.text}' is a reserved JQL character.", bad)
        kind = m.lastgroup or "word"
        start = m.start(kind)
        tokens.append(Token(kind, m.group(kind), start))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(
        self, jql: str, store: JiraStore, time: JiraTime, now_ms: int, me: str | None
    ) -> None:
        self.tokens = tokenize(jql)
        self.i = 0
        self.store = store
        self.time = time
        self.now_ms = now_ms
        self.me = me

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, what: str) -> Token:
        tok = self.peek()
        if tok is None:
            raise _err(f"Expecting {what} but reached the end of the query.")
        self.i += 1
        return tok

    def parse(self) -> Query:
        clauses: list[Clause] = []
        tok = self.peek()
        if tok is not None and tok.upper != "ORDER":
            clauses.append(self.clause())
            while (tok := self.peek()) is not None and tok.upper in ("AND", "OR"):
                if tok.upper == "OR":
                    raise _err("The fake Jira supports AND only, not 'OR'.", tok)
                self.i += 1
                clauses.append(self.clause())
        order: list[tuple[str, bool]] = []
        tok = self.peek()
        if tok is not None:
            if tok.upper != "ORDER":
                raise _err(f"Expecting either 'OR' or 'AND' but got '{tok.text}'.", tok)
            self.i += 1
            by = self.take("'by'")
            if by.upper != "BY":
                raise _err(f"Expecting 'by' but got '{by.text}'.", by)
            while True:
                f = self.take("a field name")
                name = f.value.lower()
                if name not in ORDER_FIELDS:
                    raise _err(f"The fake Jira cannot order by '{f.value}'.", f)
                desc = False
                nxt = self.peek()
                if nxt is not None and nxt.upper in ("ASC", "DESC"):
                    desc = nxt.upper == "DESC"
                    self.i += 1
                order.append((name, desc))
                nxt = self.peek()
                if nxt is None:
                    break
                if nxt.text != ",":
                    raise _err(f"Expecting ',' but got '{nxt.text}'.", nxt)
                self.i += 1
            if len(order) > MAX_ORDER_FIELDS:
                raise JqlError("The ORDER BY clause can contain a maximum of 7 fields.")
        return Query(tuple(clauses), tuple(order))

    def clause(self) -> Clause:
        f = self.take("a field name")
        if f.kind not in ("word", "str") or f.text in ("(", ")"):
            raise _err(f"Expecting a field name but got '{f.text}'.", f)
        name = f.value.lower()
        if name not in FIELDS:
            raise JqlError(
                f"Field '{f.value}' does not exist or you do not have permission to view it."
            )
        op_tok = self.take("an operator")
        op = op_tok.text.lower() if op_tok.kind == "op" else op_tok.upper.lower()
        if op == "not":
            nxt = self.take("'in'")
            if nxt.upper != "IN":
                raise _err(f"Expecting 'in' but got '{nxt.text}'.", nxt)
            op = "not in"
        elif op == "is":
            after = self.peek()
            if after is not None and after.upper == "NOT":
                self.i += 1
                op = "is not"
        if op in ("is", "is not"):
            v = self.take("EMPTY")
            if v.upper not in ("EMPTY", "NULL"):
                raise _err(f"Expecting 'EMPTY' or 'NULL' but got '{v.text}'.", v)
            return Clause(name, op, ())
        if op in ("in", "not in"):
            if self.take("'('").text != "(":
                raise _err("Expecting '(' after 'in'.", op_tok)
            values = [self.value(name)]
            while (t := self.take("')'")).text == ",":
                values.append(self.value(name))
            if t.text != ")":
                raise _err(f"Expecting ')' but got '{t.text}'.", t)
            return Clause(name, op, tuple(values))
        if op not in OPERATORS:
            raise _err(
                f"Expecting operator but got '{op_tok.text}'. The valid operators are '=', "
                "'!=', '<', '>', '<=', '>=', 'in', 'not in', 'is' and 'is not'.",
                op_tok,
            )
        if op in ("<", ">", "<=", ">=") and name not in DATE_FIELDS | {"id"}:
            raise JqlError(f"The operator '{op}' is not supported by the '{name}' field.")
        return Clause(name, op, (self.value(name),))

    def value(self, field: str) -> Any:
        tok = self.take("a value")
        if tok.kind not in ("str", "word"):
            raise _err(f"Expecting a value but got '{tok.text}'.", tok)
        text = tok.value
        nxt = self.peek()
        if tok.kind == "word" and nxt is not None and nxt.text == "(":  # a function call
            self.i += 1
            if self.take("')'").text != ")":
                raise _err(f"The fake Jira supports no arguments to '{text}()'.", tok)
            return self.function(text, tok, field)
        if field in DATE_FIELDS:
            return self.date(text, tok)
        if field == "project":
            s = self.store
            if text.upper() in (s.project_key, s.project_id) or text == s.project_name:
                return s.project_key
            raise JqlError(f"The value '{text}' does not exist for the field 'project'.")
        if field in ("status", "priority", "resolution"):
            table: Any = {"status": STATUSES, "priority": PRIORITIES, "resolution": RESOLUTIONS}
            if field == "resolution" and text.lower() == "unresolved":
                return None
            found = by_id_or_name(table[field], text)
            if found is None:
                raise JqlError(f"The value '{text}' does not exist for the field '{field}'.")
            return found
        if field in ("key", "issuekey"):
            return text.upper()
        if field == "id":
            if not text.isdigit():
                raise JqlError(f"The value '{text}' is not a valid issue id.")
            return int(text)
        if field in ("assignee", "reporter"):
            u = self.store.user(text)
            return u.account_id if u else text
        return text

    def function(self, name: str, tok: Token, field: str) -> Any:
        low = name.lower()
        if low == "now" and field in DATE_FIELDS:
            return self.now_ms
        if low == "currentuser" and field in ("assignee", "reporter"):
            return self.me
        raise _err(f"The fake Jira does not support the function '{name}()' here.", tok)

    def date(self, text: str, tok: Token) -> int:
        m = _RELATIVE.match(text)
        if m:
            sign = -1 if m.group(1) == "-" else 1
            return self.now_ms + sign * int(m.group(2)) * _UNIT_MS[m.group(3)]
        if text.isdigit():
            return int(text)  # epoch milliseconds
        try:
            return self.time.parse_local(text)
        except ValueError:
            raise JqlError(
                f"Date value '{text}' for field 'updated' is invalid. Valid formats include: "
                "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a "
                "period format e.g. '-5d', '4w 2d'."
            ) from None


def parse_jql(
    jql: str, store: JiraStore, time: JiraTime, now_ms: int, me: str | None = None
) -> Query:
    """Parse ``jql``; require a search restriction, as ``/search/jql`` does (reference §1.2).

    Raises:
        JqlError: for an unbounded query or anything outside the subset.
    """
    query = _Parser(jql, store, time, now_ms, me).parse()
    if not query.clauses:
        raise JqlError(
            "Unbounded JQL queries are not allowed here. Please add a search restriction "
            "to your query."
        )
    return query


def _value(issue: Issue, field: str) -> Any:
    if field == "project":
        return issue.key.rsplit("-", 1)[0]
    if field == "issuekey":
        return issue.key
    if field == "key":
        return issue.key
    return getattr(issue, field)


def _holds(c: Clause, issue: Issue) -> bool:
    v = _value(issue, c.field)
    if c.op in ("is", "is not"):
        empty = v is None or v == []
        return empty if c.op == "is" else not empty
    if c.field == "labels":  # labels = x: the issue has label x
        has = any(x in v for x in c.values)
        return has if c.op in ("=", "in") else not has
    if c.op in ("in", "="):
        return v in c.values
    if c.op in ("not in", "!="):
        return v is not None and v not in c.values
    other = c.values[0]
    if v is None:
        return False
    return bool(
        {
            "<": v < other,
            ">": v > other,
            "<=": v <= other,
            ">=": v >= other,
        }[c.op]
    )
