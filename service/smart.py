"""Service: SMART App Launch (v2) EHR launch of the clinician panel, the steps that hold no route.

An EHR opens ``/smart/launch?iss=FHIR-BASE&launch=OPAQUE``; the service discovers the authorization
server at ``iss/.well-known/smart-configuration`` (through service.outbound: https only, the allowlist,
one deadline, a size limit), and redirects the browser to its ``authorization_endpoint`` with PKCE (S256,
RFC 7636) and a random ``state``. The code verifier, the state, the issuer and the token endpoint travel
in an HttpOnly cookie signed with a key derived from the audit key (so any worker can finish the launch and
no server-side session is kept); ``/smart/callback`` checks the state against that cookie before the code
is exchanged. Specification: https://hl7.org/fhir/smart-app-launch/ (app-launch.html, conformance.html).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import orjson

from service.outbound import Refused, Resolver, TooLarge, bounded_get, bounded_request, check_url

PURPOSE = b"cdss-smart-launch-v1"
COOKIE = "cdss_smart"
LAUNCH_TTL_S = 600  # the clinician has ten minutes to pass the EHR's authorization screen


class LaunchError(Exception):
    """A launch that cannot go on; `key` names the message of MESSAGES (Chinese first, English beside)."""

    def __init__(self, key: str, detail: str = "", status: int = 400):
        super().__init__(f"{key}: {detail}")
        self.key = key
        self.detail = detail
        self.status = status


# Reader-facing messages of the launch error page: (zh, en), the same content in both.
MESSAGES: dict[str, tuple[str, str]] = {
    "bad-request": ("启动请求缺少 iss 或 launch 参数。", "The launch request lacks `iss` or `launch`."),
    "wrong-issuer": ("该 EHR（iss）不在本服务允许的发起方列表中，未连接。",
                     "This EHR (iss) is not among the issuers this service allows; nothing was contacted."),
    "discovery-failed": ("无法读取该 EHR 的 SMART 配置（.well-known/smart-configuration）。",
                         "The EHR's SMART configuration (.well-known/smart-configuration) could not be read."),
    "no-pkce": ("该 EHR 的授权服务器不支持 PKCE S256，为安全起见不启动。",
                "The EHR's authorization server does not support PKCE S256; the launch is not started."),
    "authorization-denied": ("EHR 拒绝了授权。", "The EHR refused the authorization."),
    "session-expired": ("启动会话已过期或不存在，请从 EHR 重新打开。",
                        "The launch session has expired or is missing; open the panel again from the EHR."),
    "state-mismatch": ("启动状态（state）不匹配，可能是伪造的请求；已拒绝。",
                       "The launch state does not match (a possibly forged request); refused."),
    "token-error": ("向 EHR 换取访问令牌失败。", "Exchanging the code for an access token at the EHR failed."),
    "no-patient": ("EHR 返回的令牌中没有当前患者（patient）。",
                   "The EHR's token response names no current patient (`patient`)."),
    "data-unavailable": ("无法从 EHR 取得该患者的数据。", "The patient's data could not be had from the EHR."),
    "evaluation-failed": ("该患者的数据无法评估。", "The patient's data could not be evaluated."),
}


@dataclass(frozen=True)
class Endpoints:
    """What the SMART configuration says (only what the launch needs)."""

    authorize: str
    token: str
    capabilities: tuple[str, ...]


def cookie_key(audit_key: bytes) -> bytes:
    """The cookie-signing key, derived from the audit key (rotating that key ends every launch under way)."""
    return hmac.new(audit_key, PURPOSE, hashlib.sha256).digest()


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, code_challenge) for PKCE S256 (RFC 7636 §4.1-4.2): 43+ unreserved characters,
    and the unpadded base64url SHA-256 of them."""
    verifier = secrets.token_urlsafe(48)  # 64 characters
    return verifier, s256(verifier)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def seal(key: bytes, payload: dict[str, Any], now: float) -> str:
    """A signed, expiring cookie value holding `payload`."""
    body = dict(payload, exp=int(now) + LAUNCH_TTL_S)
    data = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).rstrip(b"=").decode()
    mac = hmac.new(key, data.encode(), hashlib.sha256).hexdigest()
    return f"{data}.{mac}"


def unseal(key: bytes, value: str | None, now: float) -> dict[str, Any]:
    """The payload of a cookie made by `seal`.

    Raises:
        LaunchError: session-expired when it is missing, tampered with or expired.
    """
    if not value or "." not in value or len(value) > 8192:
        raise LaunchError("session-expired", "no launch cookie")
    data, _, mac = value.rpartition(".")
    if not hmac.compare_digest(mac, hmac.new(key, data.encode(), hashlib.sha256).hexdigest()):
        raise LaunchError("session-expired", "the launch cookie's signature does not match")
    try:
        payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except ValueError:
        raise LaunchError("session-expired", "unreadable launch cookie") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int) or payload["exp"] < now:
        raise LaunchError("session-expired", "the launch has expired")
    return payload


def same_issuer(iss: str, allowed: tuple[str, ...]) -> str | None:
    """The allowed issuer `iss` names (trailing slashes aside), or None."""
    wanted = iss.rstrip("/")
    return next((a.rstrip("/") for a in allowed if a.rstrip("/") == wanted), None)


async def _get_json(http: httpx.AsyncClient, url: str, *, allowlist: tuple[str, ...], own: set[str],
                    resolver: Resolver, max_bytes: int, timeout_s: float) -> Any:
    await check_url(url, allowlist=allowlist, own=own, resolver=resolver)
    status, body = await bounded_get(http, url, headers={"Accept": "application/json"}, max_bytes=max_bytes,
                                     timeout_s=timeout_s)
    if status // 100 != 2:
        raise LaunchError("discovery-failed", f"GET {url}: HTTP {status}", status=502)
    return orjson.loads(body)


async def discover(http: httpx.AsyncClient, iss: str, *, allowlist: tuple[str, ...], own: set[str],
                   resolver: Resolver, max_bytes: int, timeout_s: float) -> Endpoints:
    """The authorization and token endpoints of `iss` (SMART App Launch "Conformance").

    Raises:
        LaunchError: discovery-failed (unreachable, refused by the outbound rules, not JSON, no endpoints)
            or no-pkce (S256 not among `code_challenge_methods_supported`).
    """
    url = f"{iss.rstrip('/')}/.well-known/smart-configuration"
    try:
        async with asyncio.timeout(timeout_s):
            config = await _get_json(http, url, allowlist=allowlist, own=own, resolver=resolver,
                                     max_bytes=max_bytes, timeout_s=timeout_s)
            if not isinstance(config, dict):
                raise LaunchError("discovery-failed", f"{url} is not a JSON object", status=502)
            endpoints = Endpoints(config.get("authorization_endpoint"), config.get("token_endpoint"),
                                  tuple(c for c in config.get("capabilities") or () if isinstance(c, str)))
            for name, value in (("authorization_endpoint", endpoints.authorize),
                                ("token_endpoint", endpoints.token)):
                if not isinstance(value, str):
                    raise LaunchError("discovery-failed", f"{url} has no {name}", status=502)
                await check_url(value, allowlist=allowlist, own=own, resolver=resolver)
    except TimeoutError:
        raise LaunchError("discovery-failed", f"{url}: no answer within {timeout_s:g} s", status=504) from None
    except Refused as exc:
        raise LaunchError("discovery-failed", f"refused by the outbound rules: {exc}") from None
    except (httpx.HTTPError, TooLarge, ValueError) as exc:
        raise LaunchError("discovery-failed", f"{url}: {type(exc).__name__}", status=502) from None
    if "S256" not in (config.get("code_challenge_methods_supported") or ()):
        raise LaunchError("no-pkce", f"code_challenge_methods_supported of {iss}: "
                                     f"{config.get('code_challenge_methods_supported')!r}")
    return endpoints


def authorize_url(endpoints: Endpoints, *, client_id: str, redirect_uri: str, scope: str, launch: str,
                  state: str, challenge: str, aud: str) -> str:
    """The authorization request of an EHR launch (SMART App Launch "Obtain authorization code")."""
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                       "launch": launch, "scope": scope, "state": state, "aud": aud,
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    sep = "&" if urlsplit(endpoints.authorize).query else "?"
    return f"{endpoints.authorize}{sep}{query}"


async def exchange_code(http: httpx.AsyncClient, token_endpoint: str, *, code: str, verifier: str,
                        client_id: str, redirect_uri: str, allowlist: tuple[str, ...], own: set[str],
                        resolver: Resolver, max_bytes: int, timeout_s: float) -> dict[str, Any]:
    """The token response for an authorization code (public client: client_id and the PKCE verifier).

    Raises:
        LaunchError: token-error (refused, unreachable, not JSON, no access_token), no-patient.
    """
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": client_id, "code_verifier": verifier}
    try:
        await check_url(token_endpoint, allowlist=allowlist, own=own, resolver=resolver)
        async with asyncio.timeout(timeout_s):
            status, body = await bounded_request(http, "POST", token_endpoint, data=form, timeout_s=timeout_s,
                                                 max_bytes=max_bytes, headers={"Accept": "application/json"})
        answer = orjson.loads(body) if body else None
    except TimeoutError:
        raise LaunchError("token-error", f"no answer within {timeout_s:g} s", status=504) from None
    except Refused as exc:
        raise LaunchError("token-error", f"token endpoint refused by the outbound rules: {exc}") from None
    except (httpx.HTTPError, TooLarge, ValueError) as exc:
        raise LaunchError("token-error", type(exc).__name__, status=502) from None
    if status // 100 != 2 or not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        error = answer.get("error") if isinstance(answer, dict) else None
        raise LaunchError("token-error", f"HTTP {status}" + (f", error {str(error)[:100]!r}" if error else ""),
                          status=502)
    if not isinstance(answer.get("patient"), str) or not answer["patient"]:
        raise LaunchError("no-patient", "the token response has no `patient`")
    return answer


def now_s() -> float:
    return time.time()
