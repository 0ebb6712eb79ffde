"""Engine: the only module that imports durable_rules; `DurableMatcher`, the production matcher
(`cdss.engine.matcher`), an adapter that makes its measured defects harmless.

Its whole dialect lives here: engine-neutral `LeafTest`s become durable-rules conditions (`$gt`, `$and`, ...,
fields `k`, `v`, `vmax`) in rules named `L<leaf>` (the test) and `P<leaf>` (a derived fact's "possible"
bound), split into rulesets within its limits; facts become its JSON messages.

durable-rules 2.0.28 is unmaintained. What was measured here, and what this adapter does about it:

1. A ruleset of ~512 rules or more hangs (fixed table sizes in its C core): callers hand at most
   MAX_RULES_PER_RULESET rules to one ruleset; `compile` splits larger packs into chunks.
2. It is not thread-safe (8 threads on separate sessions lose firings, error 307): every call into the
   engine holds one process-wide lock; scale with processes, not threads. A process forked while a thread
   holds that lock gets a new lock and new sessions (`_after_fork_in_child`).
3. Each live session holds megabytes: a process keeps one session per ruleset it uses, never one per
   evaluation (defect 12).
4. A fact that matches no rule raises MessageNotHandledException, a repeated identical fact raises
   MessageObservedException: neither is an error for us. Through `Host.assert_facts` a batch in which one
   fact matches nothing raises before running any action (they stay queued in the session). So the adapter
   asserts each session's facts in one batch through the engine's own calls (`assert_facts`, then the
   loop of durable's `Ruleset.do_actions`: `start_action_for_state`, `update_state`,
   `complete_and_start_action`) and runs every queued action whatever the batch's result code; identical
   facts are asserted once. One crossing per ruleset for the batch instead of one per fact, the same firings.
5. A ruleset name cannot be registered twice: names carry the pack version and content hash, and a
   compiled ruleset is registered once per process and reused.
6. It does not import on Python 3.13: pyproject declares requires-python ">=3.11,<3.13".
7. An action gets no rule identity: the adapter runs the queued actions itself (defect 4) and reads the
   rule's name from each queued message (its key); the registered actions are never called.
8. `Host()` starts two timer threads that dispatch queued work in the background, outside our lock, and
   registers a ruleset by writing it with `json.dumps` (defect 13): the adapter uses no Host; it registers
   each ruleset with the engine's own `create_ruleset`, from JSON it writes itself, and keeps the handles.
9. A catch-all rule matching every fact hangs the engine on assert: there is none here.
10. One fact matching more than 64 rules of a ruleset fails the assert (error 303) and runs no action:
    `compile` puts at most MAX_RULES_PER_MEASURE rules testing the same measure into one ruleset.
11. Sessions are fragile to delete. `delete_state` on a session that holds no state aborts the process
    (SIGABRT); on a session whose facts passed a rule's first test but fired no rule it corrupts the heap
    (free(): invalid pointer); and a session left undeleted stays for ever: after 1,024 of them the engine
    fails with MemoryError, having grown by megabytes per evaluation. Only a session in which a rule fired
    deletes cleanly. So every ruleset has a sentinel rule, and every session starts with the sentinel fact,
    which fires it; a session is deleted only when a failure drops it. The sentinel's firing is not reported.
12. Making a session costs about 12 KB of freshly initialised C memory per rule (each rule's frame pools and
    indexes: `createStateNode`), 2-3 MB per ruleset of 200 rules, whatever the number of facts: a fresh
    session per ruleset per evaluation was most of the matcher's time (3-10 ms per evaluation of all packs,
    worst when the evaluation's own work has pushed that memory out of the CPU caches), and it grew with
    the rules, not the data. So each ruleset's session is made once per process and kept; every fact a run
    asserts is retracted from it before the run returns (one `retract_facts` crossing per ruleset), and a
    run that fails drops the sessions it used (the next run makes new ones).
13. A number written with an exponent and no decimal point (`1e-05`, `2e-05`, `1e16`: how Python writes
    some floats) crashes the process (SIGSEGV) in `assert_facts`; `1.5e-05` and `1.0e-05` are read
    correctly. A reading of 0.00001 in a concept whose plausible range starts at 0, or a unit conversion
    that gives such a value, reaches it. So facts are written with a point before every exponent (`_json`).
    (A threshold so written is refused at registration, error 204, as an engine failure.)
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import durable_rules_engine as _engine
import orjson

from cdss.engine.matcher import Fact, Firing, LeafTest, LeafTestId, StageTests
from cdss.errors import EngineError
from cdss.vocab.locks import module_lock

MAX_RULES_PER_RULESET = 200  # defect 1: hangs at ~512 (one more rule is the sentinel)
SENTINEL_KEY = "__session__"  # defect 11: the fact that makes every session deletable
SENTINEL_RULE = "S"
MAX_RULES_PER_MEASURE = 60  # defect 10: one fact may match at most 64 rules of a ruleset
# The engine's ERR_EVENT_DEFERRED: the message was handed to a queue callback instead of being applied. No
# callback is set here, so it does not happen (every assert and retract of the pack cases returns 0 or 1).
DEFERRED = 3

_LOCK = module_lock(globals(), "_LOCK", reentrant=True)  # (a fresh one in a forked child)
_session_ids = itertools.count(1)


_handles: dict[str, int] = {}  # ruleset name -> its handle in the engine, once registered (defect 5)
_sessions: dict[str, str] = {}  # ruleset name -> the session this process keeps for it (defect 12)


def _after_fork_in_child() -> None:
    """A process forked while another of its threads was inside `run()` has that run's session
    half-asserted: the child makes its own sessions (the parent's stay allocated in its copy of the engine,
    unused), as it takes a fresh lock (`module_lock`)."""
    _sessions.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass(frozen=True)
class Ruleset:
    """A named durable-rules ruleset: rule name -> durable condition (the JSON form of durable.lang).

    Every condition is `{"$and": [{"k": KEY}, ...]}` or `{"k": KEY}`: the measure key is tested first.
    """

    name: str
    rules: Mapping[str, Mapping[str, Any]]
    keys: frozenset[str] = field(init=False, repr=False, compare=False)  # the measure keys the rules test
    # (set when made: functools.cached_property holds a lock per property on Python 3.11, unsafe at fork)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", frozenset(
            (cond["$and"][0] if "$and" in cond else cond)["k"] for cond in self.rules.values()))

    def register(self) -> None:
        """Register with the engine once per process (defect 5)."""
        if len(self.rules) > MAX_RULES_PER_RULESET or SENTINEL_RULE in self.rules:
            raise EngineError.one(f"ruleset {self.name!r} has {len(self.rules)} rules", "ruleset-too-large",
                                  expected=f"at most {MAX_RULES_PER_RULESET}; split it")
        with _LOCK:
            if self.name in _handles:
                return
            conditions = {**self.rules, SENTINEL_RULE: {"k": SENTINEL_KEY}}
            definition = {name: {"all": [{"m": cond}]} for name, cond in conditions.items()}
            try:  # (what durable's Host.register_rulesets does, from our JSON, without its action table)
                _handles[self.name] = _engine.create_ruleset(self.name, _json(definition))
            except Exception as exc:
                raise EngineError.one(f"durable-rules refused ruleset {self.name!r}: {exc}",
                                      "engine-failure") from exc


def _assert_batch(ruleset_name: str, text: str, firings: list[tuple[str, str, int]]) -> None:
    """Assert a session's facts (`text`, a JSON list) in one call and run every action they queued (defect 4),
    as durable's own `Ruleset.do_actions` / `_flush_actions` would, without their per-action Python plumbing:
    the state is handed back unchanged (our actions do not touch it) and each message names its rule."""
    handle = _handles[ruleset_name]
    code, state_handle = _engine.assert_facts(handle, text)
    if code == DEFERRED:  # (as durable's `_handle_result`: not applied, nothing to run; see DEFERRED)
        return
    started = _engine.start_action_for_state(handle, state_handle)
    if not started:
        return
    state, message = started[0], started[1]
    while message:
        for rule_name, fired in orjson.loads(message).items():  # (the engine's own JSON: ids, keys, numbers)
            if rule_name != SENTINEL_RULE:
                firings.append((ruleset_name, rule_name, int(fired["m"]["id"])))
            break  # one action per message, as in durable's `_flush_actions`
        _engine.update_state(handle, state)
        message = _engine.complete_and_start_action(handle, state_handle)


# A number value such as 1e-05 (a mantissa with no point), after a key: `": ` whose quote is not escaped
# (inside a string, a quote is `\"`; no key of ours ends with a backslash).
_EXPONENT = re.compile(r'((?<!\\)": -?\d+)([eE][-+]?\d+)')


def _json(value: Any) -> str:
    """Facts or a ruleset as the engine's JSON (defect 13): an exponent always after a decimal point
    (`1.0e-05`, which it reads correctly, not `1e-05`, which crashes it or refuses the ruleset); NaN and
    infinities refused (ValueError)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    # (a number with an exponent is written `1e-05` / `1e+16`: without either, there is nothing to rewrite)
    return _EXPONENT.sub(r"\1.0\2", text) if "e-" in text or "e+" in text else text


def _session(ruleset: Ruleset) -> str:
    """The session this process keeps for a ruleset (defect 12), made on first use with the sentinel fired
    in it (defect 11), so that it holds state and deletes cleanly if it must be dropped."""
    sid = _sessions.get(ruleset.name)
    if sid is None:
        ruleset.register()
        sid = f"p{next(_session_ids)}"
        _assert_batch(ruleset.name, _json([{"sid": sid, "id": SENTINEL_KEY, "k": SENTINEL_KEY}]), [])
        _sessions[ruleset.name] = sid
    return sid


def _drop(ruleset_name: str) -> None:
    """Forget a ruleset's kept session after a failure (its state is unknown); the next run makes a new one."""
    sid = _sessions.pop(ruleset_name, None)
    if sid is not None:
        try:
            _engine.delete_state(_handles[ruleset_name], sid)
        except Exception:  # noqa: BLE001 - already failing; an undeletable session only costs memory
            pass


def run(rulesets: Sequence[tuple[Ruleset, Iterable[Mapping[str, Any]]]]) -> list[tuple[str, str, int]]:
    """Assert facts into the kept session of each given ruleset; return (ruleset, rule, fact id) firings.

    Each fact must carry a unique integer "id" (the sentinel's id is a string: no fact is mistaken for it).
    Every fact asserted is retracted before returning, so each run starts from a session holding only the
    sentinel (defect 12); a run that fails or is interrupted drops the sessions it used.

    Raises:
        EngineError: durable-rules failed in a way the adapter does not know.
    """
    firings: list[tuple[str, str, int]] = []
    with _LOCK:  # defect 2
        asserted: list[tuple[str, str]] = []  # (ruleset name, the facts as JSON), to retract
        current = ""
        try:
            for ruleset, facts in rulesets:
                keys = ruleset.keys
                batch = [fact for fact in facts if fact["k"] in keys]  # the others would match nothing
                if len({fact["id"] for fact in batch}) < len(batch):  # (with distinct ids no two are identical)
                    batch = _distinct(batch)
                if not batch:
                    continue  # not even registered: a process registers only the rulesets it uses
                current = ruleset.name
                sid = _session(ruleset)
                text = _json([dict(f, sid=sid) for f in batch])
                asserted.append((current, text))
                _assert_batch(current, text, firings)
            for current, text in asserted:
                _retract(current, text)
        except BaseException as exc:  # also an interrupt between assert and retract: never keep those facts
            for name in {current, *(name for name, _ in asserted)} - {""}:
                _drop(name)
            if isinstance(exc, EngineError) or not isinstance(exc, Exception):
                raise
            raise EngineError.one(f"durable-rules failed: {exc}", "engine-failure") from exc
    return firings


def _distinct(facts: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The facts without repeats (defect 4: an identical fact is observed, not matched again), in order; equal
    by name, type and value (True is not 1)."""
    seen: set[tuple[tuple[str, str, Any], ...]] = set()
    out = []
    for fact in facts:
        same = tuple(sorted((name, type(v).__name__, v) for name, v in fact.items()))
        if same not in seen:
            seen.add(same)
            out.append(fact)
    return out


def _retract(ruleset_name: str, text: str) -> None:
    """Retract a run's facts from the kept session. A deferred retraction (not applied) would leave them for
    the next run: a failure, so that the sessions are dropped."""
    code, _ = _engine.retract_facts(_handles[ruleset_name], text)
    if code == DEFERRED:
        raise EngineError.one(f"durable-rules deferred the retraction of the facts of {ruleset_name!r}",
                              "engine-failure")


# --- the matcher port ---------------------------------------------------------------------------------

_OPS = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte", "!=": "$neq"}
_FIELDS = {"value": "v", "upper": "vmax"}


def _rule_name(test: LeafTestId) -> str:
    return f"{'P' if test.possible else 'L'}{test.leaf}"


def condition(test: LeafTest) -> dict[str, Any]:
    """A test as a durable-rules condition: the measure key first, then the comparison."""
    if test.op is None:
        return {"k": test.key}
    name = _FIELDS[test.field]
    if test.op == "==":
        compare: dict[str, Any] = {name: test.value}
    elif test.op == "in":
        compare = {"$or": [{name: v} for v in test.value]}  # type: ignore[union-attr]
    else:
        compare = {_OPS[test.op]: {name: test.value}}
    return {"$and": [{"k": test.key}, compare]}


def _chunks(tests: Sequence[LeafTest]) -> list[list[LeafTest]]:
    """Split tests into rulesets within durable-rules' limits (rules per ruleset, per measure)."""
    chunks: list[list[LeafTest]] = []
    counts: dict[str, int] = {}
    for test in tests:
        if not chunks or len(chunks[-1]) >= MAX_RULES_PER_RULESET or counts.get(test.key, 0) >= MAX_RULES_PER_MEASURE:
            chunks.append([])
            counts = {}
        chunks[-1].append(test)
        counts[test.key] = counts.get(test.key, 0) + 1
    return chunks


@dataclass(frozen=True)
class _Prepared:
    ruleset: Ruleset
    tests: Mapping[str, LeafTestId]  # rule name -> test


_prepared: dict[str, tuple[_Prepared, ...]] = {}


def rulesets_for(group: StageTests) -> tuple[_Prepared, ...]:
    """The rulesets of a test group, built once per process (a ruleset name registers once, defect 5)."""
    with _LOCK:
        found = _prepared.get(group.name)
        if found is None:
            found = tuple(
                _Prepared(Ruleset(f"{group.name}:c{c}", {_rule_name(t.id): condition(t) for t in chunk}),
                          {_rule_name(t.id): t.id for t in chunk})
                for c, chunk in enumerate(_chunks(group.tests)))
            _prepared[group.name] = found
        return found


def _message(fact: Fact) -> dict[str, Any]:
    out: dict[str, Any] = {"id": fact.id, "k": fact.key, "v": fact.value}
    if fact.upper is not None:
        out["vmax"] = fact.upper
    return out


class DurableMatcher:
    """The production matcher: durable-rules, one run (the kept session of each ruleset) for all the groups
    given."""

    name = "durable"

    def match(self, work: Sequence[tuple[StageTests, Iterable[Fact]]]) -> set[Firing]:
        runs: list[tuple[Ruleset, list[dict[str, Any]]]] = []
        names: dict[str, tuple[str, Mapping[str, LeafTestId]]] = {}
        for group, facts in work:
            messages = [_message(f) for f in facts]
            for prepared in rulesets_for(group):
                runs.append((prepared.ruleset, messages))
                names[prepared.ruleset.name] = (group.name, prepared.tests)
        fired: set[Firing] = set()
        for ruleset_name, rule_name, fact_id in run(runs):
            group_name, tests = names[ruleset_name]
            fired.add(Firing(group_name, tests[rule_name], fact_id))
        return fired
