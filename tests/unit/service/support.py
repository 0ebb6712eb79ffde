"""Helpers of the service tests: a stand-in for the engine's evaluate (so these tests check the service,
not the rules), a stub FHIR server, hook fixtures by name, JWT keys and tokens."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from cdss.engine.results import (
    Citation,
    ConditionTrace,
    DataGap,
    DiseaseRef,
    Evaluation,
    Evidence,
    PackStamp,
    Suggestion,
)
from cdss.errors import IntakeError, Problem

NOW = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)
HOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "hooks"
BASE_URL = "https://cds.test"
ISSUER = "https://ehr.test/"


def load_hook(name: str) -> dict[str, Any]:
    return json.loads((HOOKS / name).read_text(encoding="utf-8"))


def suggestion(kind: str, urgency: str, sources: tuple[str, ...], sid: str, *,
               disease: bool = True) -> Suggestion:
    """A suggestion as the engine makes them (texts are placeholders, not clinical content)."""
    fact = Evidence(concept="sbp", value=190.0, unit="mm[Hg]", time="2026-05-01T07:30:00+00:00",
                    source=sources)
    return Suggestion(
        id=sid, kind=kind, urgency=urgency,
        disease=DiseaseRef(id="hypertension", system="http://hl7.org/fhir/sid/icd-10", code="I10",
                           display="高血压", display_en="Hypertension") if disease else None,
        title={"zh": f"测试建议 {kind}", "en": f"test advice {kind}"},
        detail={"zh": "测试说明", "en": "test detail"},
        rule_id=f"test-pack/{kind}/rule-{sid}", pack_id="test-pack", pack_version="1.0.0",
        rationale=(ConditionTrace(text="sbp >= x", outcome="true", facts=(fact,)),),
        citations=(Citation(source="guide", title="测试指南", year=2020, section="§1",
                            url="https://guide.example/1"),),
        evidence="secondary",
    )


def fake_evaluate(bundle: Any, *, now: dt.datetime, registry: Any, pins: tuple[str, ...] = ()) -> Evaluation:
    """Stand-in for cdss.evaluate with the same contract: an Observation -> an emergency referral, a draft
    MedicationRequest -> a medication problem, a Condition -> a diagnosis; nothing -> a data gap."""
    registry.select(pins)  # unknown pins raise EngineError, as in the engine
    if isinstance(bundle, bytes | str):
        bundle = json.loads(bundle)
    resources = [e["resource"] for e in bundle.get("entry") or () if isinstance(e, dict) and "resource" in e]
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1:
        raise IntakeError(Problem("a bundle holds exactly one Patient", "no-patient", field="Bundle.entry",
                                  got=len(patients)))
    if patients[0].get("birthDate") == "not-a-date":
        i = next(i for i, e in enumerate(bundle["entry"]) if e["resource"] is patients[0])
        raise IntakeError(Problem("birthDate is not a FHIR date", "bad-date",
                                  field=f"Bundle.entry[{i}].resource.birthDate", got="not-a-date",
                                  expected="YYYY-MM-DD"))
    out: list[Suggestion] = []
    for r in resources:
        ref = f"{r.get('resourceType')}/{r.get('id')}"
        if r.get("resourceType") == "Observation":
            out.append(suggestion("referral", "emergency", (ref,), f"ref{r['id']}"[:16]))
        elif r.get("resourceType") == "MedicationRequest" and r.get("status") == "draft":
            out.append(suggestion("medication", "urgent", (ref,), f"med{r['id']}"[:16]))
        elif r.get("resourceType") == "Condition":
            out.append(suggestion("diagnosis", "routine", (ref,), f"dx{r['id']}"[:16]))
    gaps = () if any(r.get("resourceType") == "Observation" for r in resources) else (
        DataGap(concept="sbp", title={"zh": "收缩压", "en": "Systolic BP"}, reason="absent",
                rules=("test-pack/referral/rule-x",), urgency="emergency"),)
    return Evaluation(patient=f"Patient/{patients[0].get('id')}", now=now,
                      packs=(PackStamp("test-pack", "1.0.0", "0" * 64),),
                      suggestions=tuple(sorted(out, key=Suggestion.sort_key)), data_gaps=gaps)


class FhirStub:
    """A stand-in FHIR server behind httpx.MockTransport: answers from a dict, records requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Any] = {}
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = str(request.url)
        if url not in self.routes:
            raise httpx.ConnectError("unreachable", request=request)
        answer = self.routes[url]
        if isinstance(answer, int):
            return httpx.Response(answer)
        return httpx.Response(200, json=answer)



def public_jwk(key: Any, kid: str, alg: str | None = None) -> dict[str, Any]:
    algo = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else jwt.algorithms.ECAlgorithm
    jwk = json.loads(algo.to_jwk(key.public_key()))
    jwk["kid"] = kid
    if alg:
        jwk["alg"] = alg
    return jwk


def make_token(key: Any, *, alg: str = "RS384", kid: str = "k1", aud: str = f"{BASE_URL}/cds-services",
               iss: str = ISSUER, jti: str | None = None, iat_offset_s: int = 0, exp_in_s: int = 300,
               headers: dict[str, Any] | None = None, **claims: Any) -> str:
    now = int(dt.datetime.now(dt.UTC).timestamp()) + iat_offset_s
    payload = {"iss": iss, "aud": aud, "iat": now, "exp": now + exp_in_s, "jti": jti or uuid.uuid4().hex,
               "sub": "ehr-client", **claims}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, "typ": "JWT", **(headers or {})})


@contextlib.contextmanager
def open_client(data_dir: Path, *, engine: Any = None, transport: httpx.MockTransport | None = None,
                clock: Any = None, **settings: Any) -> Iterator[TestClient]:
    """The app on `data_dir` (auth off unless given), lifespan entered; the real engine unless given."""
    from service.app import create_app
    from service.settings import Settings

    values: dict[str, Any] = {"data_dir": data_dir, "base_url": BASE_URL, "auth": "off", "database_url": None}
    values.update(settings)
    app = create_app(Settings(**values), engine=engine,
                     http_transport=transport or httpx.MockTransport(FhirStub().handler),
                     clock=clock or (lambda: NOW))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


class StubRegistry:
    """A registry with no packs, for tests that must not depend on the bundled pack content."""

    packs: dict[str, Any] = {}
    catalogue = None
    concepts = SimpleNamespace(by_id={})  # the cards' wording (cdss.render.conditions) reads concept names

    def all(self) -> tuple[Any, ...]:
        return ()

    def select(self, pins: Any = ()) -> tuple[Any, ...]:
        if pins:
            from cdss.errors import EngineError

            raise EngineError(Problem(f"unknown pack {pins[0]!r}", "unknown-pack", field="pack"))
        return ()
