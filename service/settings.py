"""Service: settings, one class read from ``CDSS_*`` environment variables; unsafe values refused at start.

Every field is documented in docs/reference/settings.md. Values that would make the service unsafe
(a symmetric or ``none`` JWT algorithm, a plain-http JWKS URL, an issuer without keys, auth switched off
silently on a public address, a limit of zero) raise :class:`cdss.errors.ConfigError` when the app is
created, so a mistake stops the start instead of weakening every request.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cdss.errors import ConfigError, Problem

log = logging.getLogger("cdss.service")

# Asymmetric JWS algorithms only: CDS Hooks 2.0 "Trusting CDS Clients" forbids `none` and every
# symmetric (HMAC) algorithm; ES384 and RS384 are the RECOMMENDED ones.
ASYMMETRIC_ALGORITHMS: tuple[str, ...] = (
    "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA",
)
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


# Appended to docs/reference/settings.md by `cdss reference show settings` (what a table row cannot say).
SETTINGS_NOTES = """
Lists (`CDSS_FHIR_SERVER_ALLOWLIST`, `CDSS_CORS_ORIGINS`, `CDSS_DEFAULT_PACKS`, `CDSS_AUTH_ALGORITHMS`,
`CDSS_SMART_ISSUERS`) are
JSON arrays, e.g. `CDSS_CORS_ORIGINS='["https://sandbox.cds-hooks.org"]'`.

## The audit key and its rotation

The stored patient hash is HMAC-SHA256 of the patient reference, keyed by `CDSS_AUDIT_SALT` when it is set,
otherwise by the key that `cdss serve` generates on first start in `DATA_DIR/audit.key` (32 random bytes,
hex, mode 0600; every worker reads the same file). No raw patient identifier is stored: the trace holds
`Patient/hmac-<first 16 hex digits>` in its place. Back the key up with the database: without it, stored
records can no longer be tied to a patient. To rotate it: stop the service, move `audit.key` away (or set a
new `CDSS_AUDIT_SALT`), start it: new records are hashed with the new key; records stored before keep the
old hash and can be linked to a patient only with the old key (keep it for as long as they are retained,
or destroy it to unlink them for good).

## The audit database

At start (`cdss serve`, before any worker starts) the database is opened, its tables created if new, and
read and written once; an empty (0-byte, truncated) or corrupt SQLite file, or a data folder that cannot be
written, stops the start with one line and exit code 2 (`database-unusable`). `GET /healthz` repeats that
read and write on every call and answers 503 when it fails or when the SQLite file was deleted or replaced
while the service runs. Workers starting together on a new SQLite file take turns (a lock of
`cdss.sqlite3.start-lock` beside it, then one write transaction): the tables are made once and every worker
starts. When the database fails during a request (SQLite locked or a disk I/O error, PostgreSQL down), the
API answers 503 with an OperationOutcome of code `transient` and `Retry-After: 5`, and the panel a 503 page;
the log gets one line with the database's reason, without patient data.

## Published packs

At start every pack is checked against `pathways/PUBLISHED.lock`: a pack version that is not published, or
whose content differs from what was published under its version, and a folder of `pathways/` without
`pack.yaml`, stop the start (`pack-unpublished`, `pack-changed`, `no-pack-file`, one line each with
`file:line`). `CDSS_ALLOW_UNPUBLISHED_PACKS=true` serves them anyway, with a warning per pack, for
development only. Packs are loaded once at start; restart the service to load changed packs.

## SMART App Launch

With `CDSS_SMART_CLIENT_ID` and `CDSS_SMART_ISSUERS` set, an EHR launches the panel at
`BASE_URL/smart/launch` (SMART App Launch v2, EHR launch; register `CDSS_SMART_REDIRECT_URL`, by default
`BASE_URL/smart/callback`, as the client's redirect URI). The service is a public client (PKCE S256, no
client secret). The issuer's `.well-known/smart-configuration`, its token endpoint and its FHIR searches are
called under the `fhirServer` rules (https only unless on `CDSS_FHIR_SERVER_ALLOWLIST`, `CDSS_FHIR_TIMEOUT_S`,
`CDSS_FHIR_MAX_BYTES`). The launch then opens the evaluation's page by a signed link valid
`CDSS_PANEL_LINK_TTL_S`; cards carry a `smart` link for each allowed issuer's EHR to launch.

## Workers

With `--workers N`, each worker watches its master process and stops (SIGTERM, then exit after 10 s) once
the master is gone, so killing the master never leaves workers serving and a restart can bind the port.
"""


class IssuerConfig(BaseModel):
    """One trusted CDS client (EHR): where its public keys come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jwks: dict[str, Any] | None = Field(default=None, description="The issuer's JWK Set, inline.")
    jwks_file: Path | None = Field(default=None, description="A file holding the issuer's JWK Set.")
    jku: tuple[str, ...] = Field(default=(), description="JWK Set URLs (https) a token's `jku` header may "
                                                         "name; any other `jku` is refused.")
    tenant: str | None = Field(default=None, description="If set, tokens must carry this `tenant` claim.")

    def load_jwks(self) -> dict[str, Any] | None:
        """The configured JWK Set (inline or from the file), or None when only `jku` is used."""
        if self.jwks is not None:
            return self.jwks
        if self.jwks_file is not None:
            return json.loads(self.jwks_file.read_text(encoding="utf-8"))
        return None


class Settings(BaseSettings):
    """All settings of the service. Environment: ``CDSS_<FIELD>`` (e.g. ``CDSS_DATA_DIR``)."""

    model_config = SettingsConfigDict(env_prefix="CDSS_", extra="ignore", frozen=True)

    host: str = Field(default="127.0.0.1", description="Address `cdss serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `cdss serve` listens on.")
    workers: int = Field(default=1, ge=1, le=64, description="Worker processes of `cdss serve`.")
    base_url: str = Field(
        default="", description="Public base URL of the service as EHRs call it (JWT `aud` is checked "
                                "against it; card links point under it). Default: http://HOST:PORT.")
    data_dir: Path = Field(default=Path("data"), description="Folder of the SQLite audit database.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; `postgresql+psycopg://...` for PostgreSQL. Default: "
                                  "SQLite file `cdss.sqlite3` in DATA_DIR.")
    retention_days: int = Field(default=3650, ge=1, le=36500,
                                description="Audit records older than this are deleted.")
    audit_salt: str = Field(default="", description="Secret keying the stored patient-reference hash "
                                                    "(HMAC-SHA256); empty: the key generated on first start "
                                                    "in DATA_DIR/audit.key.")
    auth: Literal["on", "off", "auto"] = Field(
        default="auto", description="JWT bearer tokens as CDS Hooks requires. `auto`: on when issuers are "
                                    "configured, otherwise off on a loopback host and refused elsewhere.")
    panel: Literal["on", "off", "auto"] = Field(
        default="auto", description="The clinician web panel (/panel/), which has no login of its own. `auto`: on "
                                    "while auth is off (local use), off once JWT auth is on; set `on` only "
                                    "behind a gateway that authenticates clinicians.")
    auth_issuers: dict[str, IssuerConfig] = Field(
        default_factory=dict, description="Trusted issuers (JSON object: iss -> {jwks | jwks_file, jku}).")
    auth_algorithms: tuple[str, ...] = Field(default=("ES384", "RS384", "ES256", "RS256", "ES512", "RS512"),
                                             description="Accepted JWS algorithms (asymmetric only).")
    auth_leeway_s: int = Field(default=30, ge=0, le=300, description="Clock skew allowed for exp/iat.")
    auth_max_age_s: int = Field(default=600, ge=10, le=3600,
                                description="A token issued longer ago than this is refused.")
    max_body_bytes: int = Field(default=10_000_000, ge=1024, description="Largest request body accepted.")
    max_resources: int = Field(default=5000, ge=1, description="Most FHIR resources in one request.")
    fhir_timeout_s: float = Field(default=5.0, gt=0, le=60,
                                  description="Total time allowed for all fhirServer fetches of one CDS Hooks "
                                              "call (every query and page together), and for one jku fetch.")
    fhir_max_pages: int = Field(default=10, ge=1, le=100,
                                description="Most `next` pages followed per prefetch query.")
    fhir_max_bytes: int = Field(default=20_000_000, ge=1024,
                                description="Largest answer accepted from one fhirServer or jku GET; a larger "
                                            "one is cut off and the call answered 412.")
    fhir_server_allowlist: tuple[str, ...] = Field(
        default=(), description="Hosts (`host` or `host:port`) a fhirServer URL may name although it is plain "
                                "http, or resolves to a loopback, link-local or private address, or is this "
                                "service. Any other such fhirServer is refused (400) and never fetched.")
    allow_unpublished_packs: bool = Field(
        default=False, description="Development only: serve packs that are not in pathways/PUBLISHED.lock or "
                                   "differ from it (logged as warnings). Off: such a pack stops the start.")
    feedback_max_comment_chars: int = Field(default=2000, ge=1, le=100_000,
                                            description="Longest feedback `overrideReason.userComment`.")
    feedback_max_item_bytes: int = Field(default=8192, ge=256,
                                         description="Largest feedback item (its JSON), extensions included.")
    feedback_rate_per_minute: int = Field(
        default=120, ge=1, description="Feedback items accepted per client per minute, counted in the audit "
                                       "database for all workers together; more are answered 429 with "
                                       "Retry-After.")
    panel_link_ttl_s: int = Field(
        default=43_200, ge=60, le=30 * 86_400,
        description="With JWT auth on (and the panel off), card links carry a signed token that opens that "
                    "evaluation's rationale page for this many seconds, without a login.")
    cors_origins: tuple[str, ...] = Field(
        default=(), description="Browser origins (e.g. `https://sandbox.cds-hooks.org`) allowed to call the "
                                "API cross-origin (CORS); `*` allows any. Empty: no CORS headers.")
    default_packs: tuple[str, ...] = Field(default=(),
                                           description="Pack pins used when a request names none.")
    smart_client_id: str = Field(
        default="", description="SMART App Launch: this service's client id at the EHRs' authorization servers "
                                "(a public client, PKCE S256). Set: `/smart/launch` opens the panel from an "
                                "EHR. Empty: no SMART launch, and cards carry no `smart` link.")
    smart_issuers: tuple[str, ...] = Field(
        default=(), description="SMART App Launch: FHIR base URLs (`iss`) allowed to launch the panel, exactly "
                                "as the EHR sends them (trailing `/` aside); any other `iss` is refused.")
    smart_redirect_url: str = Field(
        default="", description="SMART App Launch: the redirect URI registered for the client. Default: "
                                "BASE_URL/smart/callback.")
    smart_scope: str = Field(
        default="launch openid fhirUser patient/Patient.rs patient/Observation.rs patient/Condition.rs "
                "patient/MedicationRequest.rs patient/MedicationStatement.rs patient/AllergyIntolerance.rs "
                "patient/QuestionnaireResponse.rs",
        description="SMART App Launch: the scopes asked for (SMART v2 scope syntax).")
    concept_maps_dir: Path | None = Field(
        default=None, description="Folder of site ConceptMaps (FHIR R4/R5 JSON) mapping local codes to "
                                  "concepts, loaded at start; uploads (PUT /concept-maps) are written here and "
                                  "every worker serves them from the next request on. Needed for uploads "
                                  "with more than one worker.")

    @field_validator("auth_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in value if a not in ASYMMETRIC_ALGORITHMS]
        if bad or not value:
            raise ValueError(f"algorithms {bad!r} are not allowed (CDS Hooks forbids `none` and HMAC); "
                             f"choose from {', '.join(ASYMMETRIC_ALGORITHMS)}")
        return value

    @property
    def panel_enabled(self) -> bool:
        if self.panel == "auto":
            return not self.auth_enabled
        return self.panel == "on"

    @property
    def smart_enabled(self) -> bool:
        return bool(self.smart_client_id)

    @property
    def public_url(self) -> str:
        """Base URL without a trailing slash."""
        if self.base_url:
            return self.base_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'cdss.sqlite3').as_posix()}"

    @property
    def auth_enabled(self) -> bool:
        if self.auth == "auto":
            return bool(self.auth_issuers)
        return self.auth == "on"

    def check(self) -> None:
        """Refuse unsafe or contradictory values.

        Raises:
            ConfigError: one problem per unusable setting, naming the variable and what to do.
        """
        problems: list[Problem] = []

        def bad(name: str, message: str, got: Any, hint: str) -> None:
            problems.append(Problem(message, "unsafe-setting", field=f"CDSS_{name.upper()}", got=got,
                                    hint=hint))

        if self.base_url:
            parts = urlsplit(self.base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
                bad("base_url", "not an absolute http(s) URL", self.base_url,
                    "give the URL EHRs call, e.g. 'https://cds.example.org'")
        scheme = urlsplit(self.db_url).scheme.split("+")[0]
        if scheme not in ("sqlite", "postgresql"):
            bad("database_url", "unsupported database", self.database_url,
                "use 'postgresql+psycopg://user:pass@host/db' or leave it empty for SQLite")
        if self.auth == "on" and not self.auth_issuers:
            bad("auth", "auth is on but no issuer is trusted, so every request would be refused", self.auth,
                "set CDSS_AUTH_ISSUERS, or CDSS_AUTH=off for local use")
        if self.auth == "auto" and not self.auth_issuers and not is_loopback(self.host):
            bad("auth", "no JWT issuers configured while listening on a non-loopback address", self.host,
                "set CDSS_AUTH_ISSUERS, or CDSS_AUTH=off explicitly if a gateway authenticates callers")
        for iss, conf in self.auth_issuers.items():
            if conf.jwks is None and conf.jwks_file is None and not conf.jku:
                bad("auth_issuers", f"issuer {iss!r} has no keys", iss, "give `jwks`, `jwks_file` or `jku`")
            for url in conf.jku:
                if urlsplit(url).scheme != "https":
                    bad("auth_issuers", f"jku URL of {iss!r} is not https", url, "keys must come over TLS")
            if conf.jwks_file is not None and not conf.jwks_file.is_file():
                bad("auth_issuers", f"JWKS file of {iss!r} does not exist", str(conf.jwks_file),
                    "check the path")
        if self.smart_client_id and not self.smart_issuers:
            bad("smart_issuers", "SMART launch is on but no issuer may launch it", self.smart_client_id,
                "list the EHRs' FHIR base URLs in CDSS_SMART_ISSUERS")
        if self.smart_issuers and not self.smart_client_id:
            bad("smart_client_id", "SMART issuers are listed but no client id is set", None,
                "set CDSS_SMART_CLIENT_ID to the id registered at the EHR")
        for url in (*self.smart_issuers, *([self.smart_redirect_url] if self.smart_redirect_url else [])):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
                bad("smart_issuers" if url in self.smart_issuers else "smart_redirect_url",
                    "not an absolute http(s) URL", url, "e.g. 'https://ehr.example.org/fhir'")
        if problems:
            raise ConfigError(problems)

    def warn_if_open(self) -> None:
        """Log loudly when requests are not authenticated."""
        if not self.auth_enabled:
            log.warning("!!! CDSS AUTH IS OFF: requests are not authenticated (CDSS_AUTH=%s, host %s). "
                        "For local use only; configure CDSS_AUTH_ISSUERS before exposing this service. !!!",
                        self.auth, self.host)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment plus explicit overrides, checked.

    Raises:
        ConfigError: a value is malformed or unsafe.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError([
            Problem(err["msg"], "invalid-setting",
                    field="CDSS_" + "_".join(str(p) for p in err["loc"][:1]).upper(),
                    got=err.get("input") if isinstance(err.get("input"), str | int | float) else None)
            for err in exc.errors()
        ]) from exc
    settings.check()
    return settings
