"""The durable_rules engine, wrapped so that none of its sharp edges reach a user.

durable_rules 2.0.28 is unmaintained C with measured crashes, limits and semantic drift (see
``docs/rules/engine.md`` and the research notes it cites). Every choice below exists to dodge
one of them; the comment next to each names the problem it prevents.

Encoding. durable never sees a user's field name or value. Each scalar field becomes small
integer *rank codes* relative to the literals the rules use (``-1`` = missing, ``2i+1`` = equal
to the i-th smallest literal, ``2i`` = strictly between literals), sent once ascending
(``a<n>``) and, when a rule orders on the field, once descending (``d<n>``). Each ``contains``
test becomes a precomputed ``0``/``1`` flag (``c<n>``). So:

* equality and order are exact (no ``True == 1`` coercion, no lexicographic ``"9" > 10``, no
  32-bit string hashes, no ``1e+20`` parse error 204, no unicode escapes);
* a missing field still has a value (``-1``), so ``$neq`` on a missing field matches, and every
  leaf *and its negation* is one alpha test: with the sentinel below every code, ``not (x > c)``
  is ``a <= c``, and ``not (x < c)`` is ``d <= 2n - c`` on the descending code;
* ``not contains`` on an empty or missing list is flag ``0``, never ``$iall`` (false on ``[]``);
* field names such as ``fields.tier``, ``id``, ``sid`` or ``$s`` cannot become dot paths or
  reserved keys, and there are never list literals (error 102).

Conditions are pushed to negation normal form (De Morgan) and expanded to a few flat
conjunctions per rule, one durable rule each: nested ``$or``/``$and`` hit durable's 32-entry
expression-sequence limit (error 113) after about 14 nodes, flat conjunctions do not.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import multiprocessing.connection
import signal
import threading
import warnings
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from slaplug.errors import EngineError
from slaplug.rules.conditions import (
    All,
    AnyOf,
    Compare,
    Condition,
    Contains,
    Exists,
    FieldType,
    In,
    Not,
    Rule,
    Scalar,
)
from slaplug.rules.engines.facts import iter_leaves, validate_rules

__all__ = ["CHUNK_SIZE", "DurableMatcher", "ProcessMatcher", "require_durable"]

Fact = Mapping[str, object]
Expr = dict[str, Any]
Terms = list[list[Expr]]  # disjunctive normal form: [] is false, [[]] is true

#: Facts per ``assert_facts`` call. durable identifies stored facts by a 32-bit hash; ids are
#: ``0..CHUNK_SIZE-1`` in every batch (tested collision-free), and small batches keep RSS low.
CHUNK_SIZE = 200
#: Flat conjunctions one rule may expand to before we refuse it as too complex for durable.
MAX_TERMS = 64
#: durable stores at most 255 properties per message; keep room for ``t``, ``id`` and ``sid``.
MAX_KEYS = 250

_RULESET = "slaplug"
_SID = "slaplug"  # one long-lived sid: never deleted (delete_state can segfault), never > 1024
_GUARD: Expr = {"t": "f"}  # positive test on every rule: never matches durable's state fact
_MISSING = -1


def require_durable() -> ModuleType:
    """Import ``durable.engine`` or explain, as an `EngineError`, why it cannot be used.

    Returns:
        The ``durable.engine`` module.

    Raises:
        EngineError: durable_rules is not installed or does not import (it fails on 3.13).
    """
    try:
        return importlib.import_module("durable.engine")
    except ImportError as exc:
        raise EngineError(
            f"the durable_rules engine cannot be loaded ({exc}). durable-rules 2.0.28 works on "
            "Python 3.11 and 3.12 only; run slaplug on one of those, or set `engine: python` "
            "to use the plain-Python engine explicitly."
        ) from exc


class _Scalar:
    """Rank codes for one STR, NUM or BOOL field (or the presence of a LIST field)."""

    def __init__(self, asc: str) -> None:
        self.asc = asc
        self.desc: str | None = None
        self.literals: list[Scalar] = []

    def code(self, value: Scalar) -> int:
        # Equal to literal i: 2i+1; between literals i-1 and i: 2i. Both sides compare exactly.
        i = bisect_left(self.literals, value)
        if i < len(self.literals) and self.literals[i] == value:
            return 2 * i + 1
        return 2 * i

    @property
    def top(self) -> int:
        return 2 * len(self.literals)


class _Plan:
    """The encoding of facts and the durable expressions of every rule."""

    def __init__(self, rules: Sequence[Rule], types: Mapping[str, FieldType]) -> None:
        self.scalars: dict[str, _Scalar] = {}
        self.flags: dict[tuple[str, str], str] = {}
        self.types = types
        for rule in rules:
            for leaf in iter_leaves(rule.condition):
                self._declare(leaf)
        for scalar in self.scalars.values():
            # set() merges 5 and 5.0; sorting is safe because literals match the field's type.
            scalar.literals = sorted(set(scalar.literals))
        keys = len(self.flags) + sum(1 + (s.desc is not None) for s in self.scalars.values())
        if keys > MAX_KEYS:
            raise EngineError(
                f"the rules need {keys} encoded fields; durable_rules allows {MAX_KEYS} per "
                "fact. Use fewer distinct 'contains' values, or set `engine: python`."
            )
        self.terms = [self._rule_terms(rule) for rule in rules]
        # The message keys in the order `encode_key` fills them.
        self.keys: list[str] = []
        for scalar in self.scalars.values():
            self.keys.append(scalar.asc)
            if scalar.desc is not None:
                self.keys.append(scalar.desc)
        self.keys.extend(self.flags.values())
        #: Per scalar, in `keys` order: (field, literals, how many, list field?, top code if
        #: a descending code is sent too, else None).
        self._fields = tuple(
            (
                name,
                s.literals,
                len(s.literals),
                types[name] is FieldType.LIST,
                s.top if s.desc is not None else None,
            )
            for name, s in self.scalars.items()
        )

    def encode_key(self, fact: Fact) -> tuple[int, ...]:
        """The codes durable will see for ``fact``, in `keys` order.

        durable's answer for a fact depends on these codes alone, so facts with equal keys
        match the same rules (see `_Dedupe`).

        Raises:
            EngineError: The fact was not normalized (a value of the wrong type).
        """
        # One loop over what `_fields` worked out once: this runs for every fact of every
        # batch, and a method call per field cost half its time.
        codes: list[int] = []
        append, get = codes.append, fact.get
        try:
            for name, literals, count, is_list, top in self._fields:
                value = get(name)
                if value is None:
                    code = _MISSING
                elif is_list:
                    code = 0  # a list field's scalar only says whether it is present
                else:  # `_Scalar.code`, inlined
                    i = bisect_left(literals, value)  # type: ignore[call-overload]
                    code = 2 * i + 1 if i < count and literals[i] == value else 2 * i
                append(code)
                if top is not None:
                    append(_MISSING if code == _MISSING else top - code)
            for name, item in self.flags:
                items = get(name)
                append(1 if items is not None and item in items else 0)  # type: ignore[operator]
        except TypeError as exc:
            raise EngineError(f"facts must be normalized first ({exc})") from exc
        return tuple(codes)

    def message(self, key: tuple[int, ...], fact_id: int) -> dict[str, object]:
        """The durable message for an encoded fact."""
        msg: dict[str, object] = {"t": "f", "id": fact_id, "sid": _SID}
        msg.update(zip(self.keys, key, strict=True))
        return msg

    def _scalar(self, name: str) -> _Scalar:
        if name not in self.scalars:
            self.scalars[name] = _Scalar(f"a{len(self.scalars)}")
        return self.scalars[name]

    def _declare(self, leaf: Compare | In | Contains | Exists) -> None:
        if isinstance(leaf, Contains):
            self.flags.setdefault((leaf.field, leaf.value), f"c{len(self.flags)}")
            return
        scalar = self._scalar(leaf.field)
        if isinstance(leaf, In):
            scalar.literals.extend(leaf.values)
        elif isinstance(leaf, Compare):
            scalar.literals.append(leaf.value)
            if leaf.op in ("lt", "le") and scalar.desc is None:
                scalar.desc = f"d{scalar.asc[1:]}"

    def _rule_terms(self, rule: Rule) -> Terms:
        try:
            return self._dnf(rule.condition, negate=False)
        except _TooComplexError:
            raise EngineError(
                f"rule {rule.id!r} expands to more than {MAX_TERMS} alternatives, more than "
                "durable_rules can hold; simplify it, or set `engine: python`."
            ) from None

    def _dnf(self, node: Condition, negate: bool) -> Terms:
        if isinstance(node, Not):
            return self._dnf(node.item, not negate)
        if isinstance(node, All | AnyOf):
            parts = [self._dnf(item, negate) for item in node.items]
            # De Morgan: a negated All is an AnyOf of negations, and the other way round.
            return _or(parts) if isinstance(node, AnyOf) != negate else _and(parts)
        return self._leaf(node, negate)

    def _leaf(self, leaf: Compare | In | Contains | Exists, negate: bool) -> Terms:
        if isinstance(leaf, Contains):
            return [[{self.flags[(leaf.field, leaf.value)]: 0 if negate != leaf.negate else 1}]]
        s = self.scalars[leaf.field]
        if isinstance(leaf, Exists):
            present = negate == leaf.negate
            return [[{"$neq": {s.asc: _MISSING}} if present else {s.asc: _MISSING}]]
        if isinstance(leaf, In):
            codes = sorted({s.code(v) for v in leaf.values})
            if negate == leaf.negate:  # one of: a flat $or of alpha tests is cheap in durable
                if not codes:
                    return []
                tests: list[Expr] = [{s.asc: c} for c in codes]
                return [[tests[0] if len(tests) == 1 else {"$or": tests}]]
            return [[{"$neq": {s.asc: c}} for c in codes]]
        return [[_compare(s, leaf.op, s.code(leaf.value), negate)]]


class _TooComplexError(Exception):
    pass


def _or(parts: list[Terms]) -> Terms:
    terms = [term for part in parts for term in part]
    if len(terms) > MAX_TERMS:
        raise _TooComplexError
    return terms


def _and(parts: list[Terms]) -> Terms:
    terms: Terms = [[]]
    for part in parts:
        if len(terms) * len(part) > MAX_TERMS:
            raise _TooComplexError
        terms = [left + right for left in terms for right in part]
    return terms


def _compare(s: _Scalar, op: str, c: int, negate: bool) -> Expr:
    # Every code of a present value is >= 0 and the missing sentinel is -1, below all of them.
    # Tests that must be false on missing use ascending codes for >, >= and descending codes
    # (top - code, missing still -1) for <, <=; their negations then include -1 for free.
    if op == "eq":
        return {"$neq": {s.asc: c}} if negate else {s.asc: c}
    if op == "ne":
        return {s.asc: c} if negate else {"$neq": {s.asc: c}}
    if op in ("gt", "ge"):
        positive, negative = ("$gt", "$lte") if op == "gt" else ("$gte", "$lt")
        return {negative if negate else positive: {s.asc: c}}
    assert s.desc is not None
    mirrored = s.top - c
    positive, negative = ("$gt", "$lte") if op == "lt" else ("$gte", "$lt")
    return {negative if negate else positive: {s.desc: mirrored}}


class _Dedupe:
    """Ask durable once per distinct encoded fact, and remember its answers.

    Facts reach durable only as rank codes (`_Plan.encode_key`), and its answer depends on the
    codes alone. Codes are coarse (a percentage is "below 50", "50", "between 50 and 75"...),
    so a batch of tickets holds few distinct keys: durable decides each of them once, here or
    in an earlier batch, and every fact gets the answer of its key. The cache is bounded and
    belongs to one matcher, so it never outlives the rules it was computed for.
    """

    #: Distinct keys remembered before the cache starts over.
    LIMIT = 65_536

    def __init__(self, plan: _Plan, enabled: bool = True) -> None:
        self._plan = plan
        self._enabled = enabled
        self._cache: dict[tuple[int, ...], tuple[str, ...]] = {}

    def match(
        self,
        facts: Sequence[Fact],
        ask: Callable[[Sequence[tuple[int, ...]]], list[tuple[str, ...]]],
    ) -> list[tuple[str, ...]]:
        keys = [self._plan.encode_key(f) for f in facts]
        if not self._enabled:
            return ask(keys)
        answers: dict[tuple[int, ...], tuple[str, ...]] = {}
        missing: list[tuple[int, ...]] = []
        cache = self._cache
        for key in keys:
            if key in answers:
                continue
            known = cache.get(key)
            if known is None:
                answers[key] = ()  # placeholder: asked below, once
                missing.append(key)
            else:
                answers[key] = known
        if missing:
            answers.update(zip(missing, ask(missing), strict=True))
            if len(cache) + len(missing) > self.LIMIT:
                cache.clear()
            cache.update((k, answers[k]) for k in missing)
        return [answers[k] for k in keys]


class DurableMatcher:
    """Matches facts with durable_rules inside this process.

    One matcher owns one durable host, one ruleset and one long-lived session (sid). Calls are
    serialized by a `threading.Lock`: durable's C calls hold the GIL anyway, and its
    action bookkeeping is not atomic, so one matcher serves one thread at a time. Scale with
    processes, not threads.

    durable_rules cannot unregister a ruleset: every ``DurableMatcher`` keeps about 0.5 MB until
    the process exits. Long-running services should use `ProcessMatcher`, which reloads rules by
    replacing a child process.

    Args:
        rules: The rules, in the order their ids are reported.
        types: The declared type of every field rules may use.
        dedupe: Ask durable once per distinct encoded fact (see `_Dedupe`).

    Raises:
        RuleError: A rule uses an undeclared field or a literal of the wrong type.
        EngineError: durable_rules is unavailable, or cannot hold these rules.
    """

    def __init__(
        self, rules: Sequence[Rule], types: Mapping[str, FieldType], *, dedupe: bool = True
    ) -> None:
        engine = require_durable()
        validate_rules(rules, types)
        self._plan = _Plan(rules, types)
        self._dedupe = _Dedupe(self._plan, enabled=dedupe)
        self._ids = tuple(rule.id for rule in rules)
        self._not_handled = engine.MessageNotHandledException
        self._observed = engine.MessageObservedException
        self._lock = threading.Lock()
        self._hits: list[tuple[int, int]] = []
        self._broken = ""
        self._host = _sync_host_class(engine)()
        ruleset: dict[str, Expr] = {}
        for r, terms in enumerate(self._plan.terms):
            for t, term in enumerate(terms):
                ruleset[f"r{r}_{t}"] = {
                    "all": [{"m": {"$and": [dict(_GUARD), *term]}}],
                    "pri": r,
                    "run": self._action(r),
                }
        try:
            if ruleset:  # durable rejects an empty ruleset; with no rules nothing can match
                self._host.set_rulesets({_RULESET: ruleset})
        except Exception as exc:
            raise EngineError(
                f"durable_rules rejected the rules ({exc}); simplify them or set `engine: python`."
            ) from exc
        self._empty = not ruleset

    def _action(self, rule_index: int) -> Callable[[Any], None]:
        # Actions stay trivial and total (durable swallows their errors): record and return.
        # A one-argument function, so durable runs it synchronously, on the caller's thread.
        def action(c: Any) -> None:
            self._record(c.m.id, rule_index)

        return action

    def _record(self, fact_id: int, rule_index: int) -> None:
        self._hits.append((fact_id, rule_index))

    def match(self, facts: Sequence[Fact]) -> list[tuple[str, ...]]:
        """Match each fact.

        Args:
            facts: Facts already passed through `slaplug.rules.engines.facts.normalize`.

        Returns:
            For each fact, the ids of the rules it matches, in rule order.

        Raises:
            EngineError: durable_rules failed; no partial result is returned.
        """
        with self._lock:
            return self._dedupe.match(facts, self._match_keys_locked)

    def match_keys(self, keys: Sequence[tuple[int, ...]]) -> list[tuple[str, ...]]:
        """Match facts already encoded by `_Plan.encode_key` (as `ProcessMatcher` sends them)."""
        with self._lock:
            return self._match_keys_locked(keys)

    def _match_keys_locked(self, keys: Sequence[tuple[int, ...]]) -> list[tuple[str, ...]]:
        if self._broken:
            raise EngineError(f"this durable matcher is unusable: {self._broken}")
        if self._empty:
            return [() for _ in keys]
        out: list[tuple[str, ...]] = []
        for start in range(0, len(keys), CHUNK_SIZE):
            out.extend(self._match_chunk(keys[start : start + CHUNK_SIZE]))
        return out

    def _match_chunk(self, chunk: Sequence[tuple[int, ...]]) -> list[tuple[str, ...]]:
        payload = [self._plan.message(key, i) for i, key in enumerate(chunk)]
        self._hits = []
        try:
            self._assert(payload)
        finally:
            self._retract(payload)
        self._raise_action_error()
        matched: list[set[int]] = [set() for _ in chunk]
        for fact_id, rule_index in self._hits:
            matched[fact_id].add(rule_index)
        ids = self._ids
        return [tuple(ids[r] for r in sorted(rules)) for rules in matched]

    def _assert(self, payload: list[dict[str, object]]) -> None:
        # Facts, not events: every matching rule fires (an event fires only the first).
        try:
            self._host.assert_facts(_RULESET, payload)
        except self._not_handled:
            # Some fact matched nothing; durable then skips running the matched ones inline.
            # dispatch() runs them now, on this thread (SyncHost has no thread to do it later).
            self._drain()
        except self._observed as exc:
            self._drain()
            raise EngineError(
                "durable_rules reported a duplicate fact (32-bit id hash collision); "
                "no result was returned for this batch"
            ) from exc
        except Exception as exc:
            raise EngineError(f"durable_rules failed: {exc!r}") from exc

    def _drain(self) -> None:
        ruleset = self._host.get_ruleset(_RULESET)
        while True:
            before = len(self._hits)
            ruleset.dispatch()
            if len(self._hits) == before:
                return

    def _retract(self, payload: list[dict[str, object]]) -> None:
        # Retracting after every batch keeps the session empty: memory stays flat (~8 KB per
        # stored fact otherwise) and ids 0..CHUNK_SIZE-1 can be reused without collisions.
        try:
            self._host.retract_facts(_RULESET, payload)
        except Exception as exc:
            self._broken = f"retracting facts failed: {exc!r}"
            raise EngineError(f"durable_rules failed to retract facts: {exc!r}") from exc

    def _raise_action_error(self) -> None:
        # durable catches exceptions raised by actions and stores them in the session state
        # instead of raising (issue #305). The text also stays in the state for later calls,
        # so clear it before reporting.
        state = self._host.get_state(_RULESET, _SID)
        if isinstance(state, dict) and "exception" in state:
            self._host.update_state(_RULESET, {"sid": _SID})
            raise EngineError(f"a durable_rules action failed: {state['exception']}")

    def close(self) -> None:
        """Stop accepting calls. The ruleset's memory is only returned when the process exits."""
        with self._lock:
            self._broken = "it was closed"
            self._hits = []


def _sync_host_class(engine: ModuleType) -> type:
    class SyncHost(engine.Host):  # type: ignore[name-defined,misc]
        """A durable Host without its two background timer threads.

        The stock Host dispatches actions and timers on daemon threads every 0.2 s; those threads
        sometimes steal an action from the caller and can free a state that is in use. Without
        them every action runs inside our own call, and durable timers are never used.
        """

        def _run(self) -> None:
            pass

    return SyncHost


# -- One durable engine per child process --------------------------------------------------------


def _serve(
    conn: multiprocessing.connection.Connection,
    rules: tuple[Rule, ...],
    types: dict[str, FieldType],
) -> None:
    """Child process main loop: build a DurableMatcher, then answer match requests."""
    # Ctrl-C reaches the whole process group: the parent decides how to stop (and closes
    # the pipe, which ends this loop), so the child must not die printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The process is ours, so a global filter is safe here: Python 3.12 warns on every action.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="durable.engine")
    try:
        matcher = DurableMatcher(rules, types)
    except Exception as exc:
        conn.send(("error", str(exc)))
        return
    conn.send(("ok", None))
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if kind == "close":
            return
        try:
            answer = matcher.match_keys(payload) if kind == "match_keys" else matcher.match(payload)
            conn.send(("ok", answer))
        except Exception as exc:
            conn.send(("error", str(exc)))


def _context() -> multiprocessing.context.BaseContext:
    # forkserver forks each child from a small clean server that has durable imported: about
    # 10 ms per reload, against ~100 ms for spawn, and never a fork of a threaded parent.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # "__main__" too: the server imports it once, instead of every child re-running it.
        ctx.set_forkserver_preload(["__main__", __name__, "durable.engine"])
        return ctx
    return multiprocessing.get_context("spawn")


class ProcessMatcher:
    """A `DurableMatcher` hosted in a child process.

    Why a process: durable_rules leaks every ruleset it registers (about 0.5 MB each, no way to
    free it) and can crash the whole process. A child process is freed on exit, and a crash in it
    becomes an `EngineError` here. Replacing rules means making a new ``ProcessMatcher`` and
    closing the old one; after an error, the next call starts a fresh child.

    Calls are serialized by a `threading.Lock`; the parent starts no threads.

    Args:
        rules: The rules, in the order their ids are reported.
        types: The declared type of every field rules may use.
        timeout: Seconds to wait for the child on any call before killing it.
        dedupe: Ask durable once per distinct encoded fact (see `_Dedupe`); off only to
            measure durable itself.

    Raises:
        RuleError: A rule uses an undeclared field or a literal of the wrong type.
        EngineError: durable_rules is unavailable, or the child could not load the rules.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        types: Mapping[str, FieldType],
        *,
        timeout: float = 120.0,
        dedupe: bool = True,
    ) -> None:
        require_durable()
        validate_rules(rules, types)
        # Built here too: it refuses rules durable cannot hold before a child starts, and it
        # encodes facts in the parent, so only distinct, unseen keys cross the pipe.
        self._dedupe = _Dedupe(_Plan(rules, types), enabled=dedupe)
        self._rules = tuple(rules)
        self._types = dict(types)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._closed = False
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: multiprocessing.connection.Connection | None = None
        with self._lock:
            self._start()

    def _start(self) -> None:
        ctx = _context()
        parent, child = ctx.Pipe()
        proc = ctx.Process(  # type: ignore[attr-defined]
            target=_serve,
            args=(child, self._rules, self._types),
            daemon=True,
            name="slaplug-durable",
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self._call_locked(None)  # wait for "ok" from the constructor in the child

    def _call_locked(self, request: tuple[str, object] | None) -> Any:
        assert self._conn is not None and self._proc is not None
        try:
            if request is not None:
                self._conn.send(request)
            if not self._conn.poll(self._timeout):
                raise EngineError(f"the durable_rules worker did not answer in {self._timeout} s")
            status, payload = self._conn.recv()
        except (EOFError, OSError) as exc:
            code = self._stop_locked()
            raise EngineError(
                f"the durable_rules worker died (exit code {code}); if this is a script that "
                "builds a matcher at import time, guard it with `if __name__ == '__main__':`"
            ) from exc
        except EngineError:
            self._stop_locked()
            raise
        if status != "ok":
            self._stop_locked()
            raise EngineError(str(payload))
        return payload

    def match(self, facts: Sequence[Fact]) -> list[tuple[str, ...]]:
        """Match each fact in the child process.

        Args:
            facts: Facts already passed through `slaplug.rules.engines.facts.normalize`.

        Returns:
            For each fact, the ids of the rules it matches, in rule order.

        Raises:
            EngineError: The child failed, died or timed out; the next call starts a new one.
        """
        with self._lock:
            if self._closed:
                raise EngineError("this matcher was closed")
            if self._conn is None:
                self._start()
            return self._dedupe.match(facts, self._ask_child_locked)

    def _ask_child_locked(self, keys: Sequence[tuple[int, ...]]) -> list[tuple[str, ...]]:
        result: list[tuple[str, ...]] = self._call_locked(("match_keys", list(keys)))
        return result

    def _stop_locked(self) -> int | None:
        code = None
        conn, proc = self._conn, self._proc
        self._conn = self._proc = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.send(("close", None))
            conn.close()
        if proc is not None:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
            code = proc.exitcode
            proc.close()
        return code

    def close(self) -> None:
        """Stop the child process. Safe to call twice."""
        with self._lock:
            self._closed = True
            self._stop_locked()
