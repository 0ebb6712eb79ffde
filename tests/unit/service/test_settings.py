"""Settings: CDSS_ environment, and unsafe values refused at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdss.errors import ConfigError
from service.app import create_app
from service.settings import Settings, load_settings


def test_environment_prefix(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("CDSS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CDSS_MAX_RESOURCES", "7")
    monkeypatch.setenv("CDSS_AUTH_ISSUERS", '{"https://ehr.test/": {"jku": ["https://ehr.test/jwks"]}}')
    settings = load_settings()
    assert settings.data_dir == tmp_path and settings.max_resources == 7
    assert settings.auth_enabled
    assert settings.db_url == f"sqlite:///{tmp_path.as_posix()}/cdss.sqlite3"


@pytest.mark.parametrize("values, field", [
    ({"auth_algorithms": ["HS256"]}, "CDSS_AUTH_ALGORITHMS"),
    ({"auth_algorithms": ["none"]}, "CDSS_AUTH_ALGORITHMS"),
    ({"auth": "on"}, "CDSS_AUTH"),
    ({"auth": "auto", "host": "0.0.0.0"}, "CDSS_AUTH"),
    ({"auth_issuers": {"https://e/": {}}}, "CDSS_AUTH_ISSUERS"),
    ({"auth_issuers": {"https://e/": {"jku": ["http://e/jwks"]}}}, "CDSS_AUTH_ISSUERS"),
    ({"base_url": "ftp://x"}, "CDSS_BASE_URL"),
    ({"database_url": "mysql://x/y"}, "CDSS_DATABASE_URL"),
    ({"max_body_bytes": 0}, "CDSS_MAX_BODY_BYTES"),
    ({"retention_days": 0}, "CDSS_RETENTION_DAYS"),
])
def test_unsafe_values_are_refused(values: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**values)
    assert caught.value.problems[0].field == field, str(caught.value)


def test_create_app_checks_given_settings_and_does_no_io(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        create_app(Settings(auth="on", data_dir=tmp_path / "d"))
    create_app(Settings(auth="off", data_dir=tmp_path / "d"))
    assert not (tmp_path / "d").exists()  # the database is opened at start, not when the app is built


def test_auto_auth_is_off_on_loopback_only() -> None:
    assert not load_settings(auth="auto", host="127.0.0.1").auth_enabled
    assert load_settings(auth="off", host="0.0.0.0").auth_enabled is False
