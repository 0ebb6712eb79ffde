"""Service: authentication of CDS clients by JWT bearer token (CDS Hooks 2.0, "Trusting CDS Clients").

Checks, in order: the header names an allowed asymmetric ``alg`` (never ``none`` nor HMAC), a ``kid``
and ``typ`` JWT; the unverified ``iss`` is on the allowlist; the key comes from that issuer's configured
JWK Set, or from its ``jku`` URL when that URL is allowed for the issuer; then the signature, ``aud`` (the
URL of the endpoint called), ``exp``, ``iat`` (not in the future, not older than the maximum age), and
``jti`` not seen before. Any failure is one and the same 401 to the caller; the reason goes to the log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt import PyJWK

from service.errors import ApiError
from service.outbound import TooLarge, bounded_get
from service.settings import Settings
from service.storage import Storage

log = logging.getLogger("cdss.service.auth")

JKU_CACHE_S = 300.0


class AuthFailed(Exception):
    """Why a token was refused (logged, never sent)."""


@dataclass(frozen=True)
class Caller:
    """Who called: the verified claims, or an anonymous caller when auth is off."""

    issuer: str | None
    subject: str | None
    tenant: str | None = None


def unauthorized() -> ApiError:
    # RFC 6750: the challenge names the scheme only; no hint of what was wrong.
    return ApiError(401, "authentication required", code="login",
                    headers={"WWW-Authenticate": 'Bearer realm="cdss"'})


class TokenVerifier:
    """Verifies CDS Hooks bearer tokens against the configured issuers."""

    def __init__(self, settings: Settings, storage: Storage, http: httpx.AsyncClient):
        self.settings = settings
        self.storage = storage
        self.http = http
        self._static: dict[str, list[dict[str, Any]] | None] = {}
        for iss, conf in settings.auth_issuers.items():
            jwks = conf.load_jwks()
            self._static[iss] = _jwk_list(jwks) if jwks else None
        self._jku_cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    async def verify(self, authorization: str | None, audience: str) -> Caller:
        """Check an Authorization header for the endpoint at `audience`.

        Raises:
            ApiError: 401 for any problem with the token.
        """
        try:
            return await self._verify(authorization, audience)
        except AuthFailed as exc:
            log.warning("token refused for %s: %s", audience, exc)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError) as exc:
            log.warning("token refused for %s: %s: %s", audience, type(exc).__name__, exc)
        raise unauthorized()

    async def _verify(self, authorization: str | None, audience: str) -> Caller:
        if not authorization:
            raise AuthFailed("no Authorization header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthFailed("not a Bearer token")
        token = token.strip()
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if alg not in self.settings.auth_algorithms:
            raise AuthFailed(f"alg {alg!r} not allowed")
        if header.get("typ", "JWT").upper() != "JWT":
            raise AuthFailed(f"typ {header.get('typ')!r} is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthFailed("no kid in the header")
        unverified = jwt.decode(token, options={"verify_signature": False})
        iss = unverified.get("iss")
        conf = self.settings.auth_issuers.get(iss) if isinstance(iss, str) else None
        if conf is None:
            raise AuthFailed(f"issuer {iss!r} not trusted")
        key = await self._key(iss, conf.jku, header.get("jku"), kid, alg)
        leeway = self.settings.auth_leeway_s
        claims = jwt.decode(
            token, key=key, algorithms=[alg], audience=audience, issuer=iss, leeway=leeway,
            options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_iat": True},
        )
        now = time.time()
        iat = claims["iat"]
        if not isinstance(iat, int | float) or iat > now + leeway:
            raise AuthFailed("iat in the future")
        if now - iat > self.settings.auth_max_age_s + leeway:
            raise AuthFailed("token too old")
        if conf.tenant is not None and claims.get("tenant") != conf.tenant:
            raise AuthFailed("tenant does not match")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthFailed("jti is not a string")
        # A validly signed `exp` may be absurd (1e20): the replay record needs only to outlive the token's
        # maximum age, which bounds how long it can be accepted anyway.
        exp = min(float(claims["exp"]), now + self.settings.auth_max_age_s)
        expires = dt.datetime.fromtimestamp(exp + leeway, dt.UTC)
        if not self.storage.remember_token(iss, jti, expires, dt.datetime.now(dt.UTC)):
            raise AuthFailed(f"jti {jti!r} replayed")
        return Caller(issuer=iss, subject=claims.get("sub"), tenant=claims.get("tenant"))

    async def _key(self, iss: str, allowed_jku: tuple[str, ...], jku: Any, kid: str, alg: str) -> PyJWK:
        if jku is not None:
            if jku not in allowed_jku:
                raise AuthFailed(f"jku {jku!r} not allowed for {iss!r}")
            keys = await self._fetch_jwks(jku)
        else:
            keys = self._static.get(iss)
            if keys is None:
                raise AuthFailed(f"no jku in the token and no configured keys for {iss!r}")
        for jwk in keys:
            if jwk.get("kid") != kid:
                continue
            if jwk.get("alg", alg) != alg:
                raise AuthFailed(f"key {kid!r} is for {jwk.get('alg')}, the token says {alg}")
            if jwk.get("kty") != _KTY[alg[:2]]:
                raise AuthFailed(f"key {kid!r} has kty {jwk.get('kty')!r}, not usable with {alg}")
            # The key is bound to the (allowed) algorithm of the token: a JWK without "alg" would
            # otherwise default to RS256 / ES256 in PyJWT.
            return PyJWK(jwk, algorithm=alg)
        raise AuthFailed(f"no key {kid!r} for {iss!r}")

    async def _fetch_jwks(self, url: str) -> list[dict[str, Any]]:
        cached = self._jku_cache.get(url)
        if cached and time.monotonic() - cached[0] < JKU_CACHE_S:
            return cached[1]
        try:
            async with asyncio.timeout(self.settings.fhir_timeout_s):  # total, not per read
                status, content = await bounded_get(self.http, url, headers={"Accept": "application/json"},
                                                    max_bytes=self.settings.fhir_max_bytes,
                                                    timeout_s=self.settings.fhir_timeout_s)
            if status // 100 != 2:
                raise ValueError(f"HTTP {status}")
            keys = _jwk_list(json.loads(content))
        except (httpx.HTTPError, ValueError, TooLarge, TimeoutError) as exc:
            raise AuthFailed(f"cannot load JWKS from {url}: {exc}") from exc
        self._jku_cache[url] = (time.monotonic(), keys)
        return keys


_KTY = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def _jwk_list(jwks: Any) -> list[dict[str, Any]]:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise ValueError("a JWK Set is an object with a 'keys' array")
    return [k for k in keys if isinstance(k, dict)]
