"""CLI: `cdss serve`, the web service (CDS Hooks, FHIR $evaluate, packs) under uvicorn.

Options become ``CDSS_*`` environment variables so that every worker process builds the same settings
through ``service.app:create_app`` (uvicorn's factory mode). The settings are checked here first, so an
unsafe value stops the command with exit code 2 and a readable message instead of a worker traceback; so
do an unusable data folder or database and a pack that is not the published one (service.preflight).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import typer

from cdss.cli import app, fail
from cdss.errors import ConfigError, PackError

FACTORY = "service.app:create_app"


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (CDSS_HOST)."),
    port: int = typer.Option(8000, "--port", help="Port (CDSS_PORT)."),
    data: Path = typer.Option(None, "--data", help="Folder of the SQLite audit database (CDSS_DATA_DIR); "
                                                   "default ./data."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (CDSS_WORKERS)."),
) -> None:
    """Run the service: CDS Hooks 2.0 at /cds-services, FHIR at /fhir/$evaluate, readiness at /healthz."""
    os.environ["CDSS_HOST"] = host
    os.environ["CDSS_PORT"] = str(port)
    os.environ["CDSS_WORKERS"] = str(workers)
    if data is not None:
        os.environ["CDSS_DATA_DIR"] = str(data)
    # The service package sits above cdss; it is loaded by name, as uvicorn loads the factory.
    settings_module = importlib.import_module("service.settings")
    try:
        settings = settings_module.load_settings()
        # Data folder, database, audit key, JWT keys and published packs: one line per problem, exit 2.
        importlib.import_module("service.preflight").preflight(settings)
    except ConfigError as exc:
        fail(exc)
        return
    except PackError as exc:
        fail(exc)
        return
    busy = _port_in_use(host, port)
    if busy:
        fail(ConfigError.one(f"cannot listen on {host}:{port}: {busy}", "port-unavailable", field="--port",
                             hint="stop the other server (an earlier cdss serve?) or choose another port"))
        return
    if not settings.auth_enabled:
        typer.echo("cdss: WARNING: authentication is OFF (local use only); set CDSS_AUTH_ISSUERS before "
                   "exposing the service", err=True)
    typer.echo(f"cdss: serving on http://{host}:{port} with {workers} worker(s); data in "
               f"{settings.data_dir if settings.database_url is None else 'CDSS_DATABASE_URL'}", err=True)
    import uvicorn

    uvicorn.run(FACTORY, factory=True, host=host, port=port, workers=workers, log_level="info",
                proxy_headers=True, server_header=False)


def _port_in_use(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on (e.g. 'address already in use'), or None when it can."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            return (exc.strerror or str(exc)).lower()
    return None
