"""Engine: one test per measured defect of durable-rules 2.0.28 that the adapter makes harmless."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cdss.engine import durable
from cdss.engine.evaluate import evaluate
from cdss.errors import EngineError
from tests.conftest import load_bundle


def _ruleset(name: str, n: int = 1) -> durable.Ruleset:
    return durable.Ruleset(name, {f"L{i}": {"$and": [{"k": "a"}, {"$gte": {"v": i}}]} for i in range(n)})


def test_run_fact_matching_no_rule_is_not_an_error():
    # Also defect 10: deleting that session (which holds no state) would abort the process.
    rs = _ruleset("t-unmatched")
    assert durable.run([(rs, [{"id": 1, "k": "other", "v": 5}])]) == []


def test_run_repeated_identical_fact_is_not_an_error():
    rs = _ruleset("t-repeated")
    fired = durable.run([(rs, [{"id": 1, "k": "a", "v": 5}, {"id": 1, "k": "a", "v": 5}])])
    assert fired == [("t-repeated", "L0", 1)]


def test_run_action_records_its_own_rule_name():
    rs = _ruleset("t-identity", 3)
    fired = durable.run([(rs, [{"id": 7, "k": "a", "v": 1}])])
    assert sorted(fired) == [("t-identity", "L0", 7), ("t-identity", "L1", 7)]


def test_run_retracts_its_facts_so_the_next_run_matches_afresh():
    # Defect 12: the session is kept between runs. Without the retraction the second run's identical fact
    # would be "observed" (already held) and fire nothing, and the held facts would pile up run after run.
    rs = _ruleset("t-kept", 2)
    first = durable.run([(rs, [{"id": 1, "k": "a", "v": 5}])])
    again = durable.run([(rs, [{"id": 1, "k": "a", "v": 5}])])
    other = durable.run([(rs, [{"id": 1, "k": "a", "v": 0}])])
    assert sorted(first) == sorted(again) == [("t-kept", "L0", 1), ("t-kept", "L1", 1)]
    assert other == [("t-kept", "L0", 1)]  # the v=5 fact of the runs before is gone


def test_run_keeps_one_session_per_ruleset_however_many_runs():
    rs = _ruleset("t-one-session")
    for v in range(50):
        durable.run([(rs, [{"id": 1, "k": "a", "v": v}])])
    sid = durable._sessions[rs.name]
    assert durable._engine.get_state(durable._handles[rs.name], sid)  # alive: made once, never deleted
    assert len([n for n in durable._sessions if n == rs.name]) == 1


def test_a_failed_run_drops_the_session_and_the_next_run_is_correct():
    # A batch the engine refuses (error 303, defect 10) leaves the kept session in an unknown state: it is
    # dropped, and the next run of the same ruleset starts from a new session and fires correctly.
    rs = _ruleset("t-recover", 70)
    fired = [("t-recover", f"L{i}", 1) for i in range(4)]
    assert sorted(durable.run([(rs, [{"id": 1, "k": "a", "v": 3}])])) == fired
    before = durable._sessions[rs.name]
    with pytest.raises(EngineError):
        durable.run([(rs, [{"id": 1, "k": "a", "v": 1000}])])
    assert rs.name not in durable._sessions
    assert sorted(durable.run([(rs, [{"id": 1, "k": "a", "v": 3}])])) == fired
    assert durable._sessions[rs.name] != before


def test_register_same_ruleset_twice_is_harmless():
    rs = _ruleset("t-twice")
    rs.register()
    rs.register()
    assert durable.run([(rs, [{"id": 1, "k": "a", "v": 0}])]) == [("t-twice", "L0", 1)]


def test_register_refuses_an_oversized_ruleset():
    with pytest.raises(EngineError) as info:
        _ruleset("t-big", durable.MAX_RULES_PER_RULESET + 1).register()
    assert info.value.code == "ruleset-too-large"


def test_the_engine_runs_no_background_threads():
    # defect 8: durable's Host starts timer threads that dispatch work outside our lock; no Host is used.
    durable.run([(_ruleset("t-threads"), [{"id": 1, "k": "a", "v": 5}])])
    names = [t.name for t in threading.enumerate()]
    assert not [n for n in names if "Timer" in n], names


def test_evaluate_from_many_threads_matches_serial(registry, now):
    bundles = [load_bundle(n) for n in ("htn-emergency.json", "htn-controlled.json", "htn-new-diagnosis.json",
                                        "healthy-adult.json")] * 4
    serial = [evaluate(b, now=now, registry=registry).model_dump(mode="json") for b in bundles]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda b: evaluate(b, now=now, registry=registry).model_dump(mode="json"), bundles))
    assert threaded == serial


def test_run_one_fact_matching_over_64_rules_is_a_defect_compile_avoids():
    # The raw engine fails (error 303) when one fact matches more than 64 rules of a ruleset ...
    with pytest.raises(EngineError):
        durable.run([(_ruleset("t-wide", 70), [{"id": 1, "k": "a", "v": 1000}])])
    # ... which is why compile keeps at most MAX_RULES_PER_MEASURE rules per measure in a ruleset
    # (test_evaluate_pack_larger_than_one_ruleset_is_split runs 600 tests on one measure).
    assert durable.MAX_RULES_PER_MEASURE <= 64


def test_run_many_sessions_where_facts_fire_nothing_neither_leak_nor_crash():
    # Defect 11: without the sentinel, each such session stays (MemoryError after 1,024) or, if deleted,
    # corrupts the heap. The test would crash the process or raise before the fix.
    rs = _ruleset("t-partial", 3)
    for _ in range(1100):
        assert durable.run([(rs, [{"id": 1, "k": "a", "v": -1}])]) == []


def test_run_ignores_facts_of_keys_the_ruleset_does_not_test():
    rs = _ruleset("t-keys")
    assert durable.run([(rs, [{"id": 1, "k": "other", "v": 5}, {"id": 2, "k": "a", "v": 5}])]) == [("t-keys", "L0", 2)]


def test_an_interrupted_run_leaves_no_fact_behind_for_the_next_patient(monkeypatch):
    # Found in review: only Exception dropped the kept session, so an interrupt (Ctrl-C in a notebook, a
    # batch loop that carries on) between the assert and the retract left that run's facts in the session,
    # and the next patients' facts were "observed" and fired nothing (wrong advice for someone else).
    rs = _ruleset("t-interrupted")
    real = durable._retract

    def interrupted(name: str, text: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(durable, "_retract", interrupted)
    with pytest.raises(KeyboardInterrupt):
        durable.run([(rs, [{"id": 1, "k": "a", "v": 5}])])
    monkeypatch.setattr(durable, "_retract", real)
    assert rs.name not in durable._sessions
    assert durable.run([(rs, [{"id": 1, "k": "a", "v": 5}])]) == [("t-interrupted", "L0", 1)]


def test_a_fact_with_id_0_is_not_taken_for_the_sentinel():
    # Found in review: the sentinel had id 0 in the same session, so a fact with id 0 was "observed" and
    # fired nothing, and its retraction removed the sentinel.
    rs = _ruleset("t-id0")
    assert durable.run([(rs, [{"id": 0, "k": "a", "v": 5}])]) == [("t-id0", "L0", 0)]
    assert durable.run([(rs, [{"id": 0, "k": "a", "v": 5}])]) == [("t-id0", "L0", 0)]


def test_a_process_forked_while_another_thread_runs_the_engine_can_run_it():
    # Found in review: a child forked while a thread of the parent was inside run() waited for ever on the
    # lock that thread held (the thread does not exist in the child). The child now gets its own lock and
    # sessions. (The alarm only ends a child that would hang; the parent waits for the child, no timing.)
    import os
    import signal

    rs = _ruleset("t-fork")
    durable.run([(rs, [{"id": 1, "k": "a", "v": 5}])])  # the parent keeps a session for the ruleset
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with durable._LOCK:
            holding.set()
            release.wait()

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    holding.wait()
    try:
        pid = os.fork()
        if pid == 0:  # the child
            signal.alarm(20)
            fired = durable.run([(rs, [{"id": 1, "k": "a", "v": 5}])])
            os._exit(0 if fired == [("t-fork", "L0", 1)] else 3)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        thread.join()
    assert os.waitstatus_to_exitcode(status) == 0
