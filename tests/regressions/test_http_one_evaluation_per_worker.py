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
import pytest

from service.app import create_app
from service.deps import Engine
from service.settings import Settings
from tests.unit.service.support import BASE_URL, NOW, fake_evaluate, load_hook

BUNDLE = {"resourceType": "Bundle", "type": "collection", "entry": [
    {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1950-01-01"}},
    {"resource": {"resourceType": "Observation", "id": "o1", "status": "final"}}]}
HEADERS = {"content-type": "application/fhir+json"}
TURNS = 10_000  # event-loop turns the test gives the second request to reach the queue


ROUTES = {  # every route that evaluates: the FHIR operation and CDS Hooks (the panel and SMART use run_cpu too)
    "fhir": ("/fhir/$evaluate", BUNDLE, HEADERS),
    "cds-hooks": ("/cds-services/cdss-patient-view", load_hook("patient-view-emergency.json"), {}),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_second_evaluation_waits_for_the_first_and_health_is_answered_meanwhile(tmp_path, registry, route):
    path, body, headers = ROUTES[route]
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
                    answers.append(await client.post(path, json=body, headers=headers))

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


def test_cds_hooks_cards_are_rendered_in_the_cpu_hop_not_in_the_event_loop(tmp_path, registry, monkeypatch):
    # Cards were rendered in the event loop after the evaluation: CPU work that held up every other request
    # of the worker (and /healthz). Now evaluation and rendering are one hop to the worker thread.
    from service.routes import cds_hooks

    loop_thread: list[threading.Thread] = []
    render_thread: list[threading.Thread] = []
    real = cds_hooks.render_cards

    def render(*args: Any, **kwargs: Any) -> Any:
        render_thread.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(cds_hooks, "render_cards", render)
    settings = Settings(data_dir=tmp_path / "data", base_url=BASE_URL, auth="off", database_url=None)
    app = create_app(settings, engine=Engine(registry, fake_evaluate), clock=lambda: NOW)

    async def main() -> httpx.Response:
        loop_thread.append(threading.current_thread())
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
                path, body, _ = ROUTES["cds-hooks"]
                return await client.post(path, json=body)

    answer = anyio.run(main)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["cards"]
    assert render_thread and render_thread[0] is not loop_thread[0]
