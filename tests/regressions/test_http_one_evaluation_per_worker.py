"""Regression: a worker ran every concurrent `$evaluate` in its own thread of Starlette's pool (40), all of
them fighting for the GIL with each other and with the event loop; at 32 clients the slowest answer took
several times the median (issue #15, `cdss bench --http`). Now a worker evaluates one request at a time
(service.compute) and the others wait their turn in the event loop, which stays free: a second request
waits while the first is evaluated, `/healthz` is answered meanwhile, and both requests get their answer.
No timing: the first evaluation is held on an event until the test has seen the second one queued."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import httpx

from service.app import create_app
from service.deps import Engine
from service.settings import Settings
from tests.unit.service.support import BASE_URL, NOW, fake_evaluate

BUNDLE = {"resourceType": "Bundle", "type": "collection", "entry": [
    {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1950-01-01"}},
    {"resource": {"resourceType": "Observation", "id": "o1", "status": "final"}}]}
HEADERS = {"content-type": "application/fhir+json"}
TURNS = 10_000  # event-loop turns the test gives the second request to reach the queue


def test_second_evaluation_waits_for_the_first_and_health_is_answered_meanwhile(tmp_path, registry):
    started = threading.Event()
    release = threading.Event()
    running = 0
    most = 0
    lock = threading.Lock()

    def evaluate(bundle: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            if not started.is_set():
                started.set()
                assert release.wait(30), "the test never released the first evaluation"
            return fake_evaluate(bundle, **kwargs)
        finally:
            with lock:
                running -= 1

    settings = Settings(data_dir=tmp_path / "data", base_url=BASE_URL, auth="off", database_url=None)
    app = create_app(settings, engine=Engine(registry, evaluate), clock=lambda: NOW)
    answers: list[httpx.Response] = []

    async def main() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

                async def post() -> None:
                    answers.append(await client.post("/fhir/$evaluate", json=BUNDLE, headers=HEADERS))

                async with anyio.create_task_group() as tg:
                    tg.start_soon(post)
                    assert await anyio.to_thread.run_sync(started.wait, 30), "the first evaluation never started"
                    tg.start_soon(post)
                    limiter = app.state.cpu_limiter
                    for _ in range(TURNS):
                        if limiter.statistics().tasks_waiting == 1:
                            break
                        await anyio.sleep(0)  # one turn of the event loop, not a timed wait
                    stats = limiter.statistics()
                    assert (stats.borrowed_tokens, stats.tasks_waiting) == (1, 1), stats
                    health = await client.get("/healthz")  # the loop is free while an evaluation runs
                    assert health.status_code == 200, health.text
                    release.set()

    anyio.run(main)
    assert [a.status_code for a in answers] == [200, 200], [a.text[:300] for a in answers]
    assert most == 1, "two evaluations ran at the same time in one worker"
    assert answers[0].content == answers[1].content  # same input, same bytes
