#!/usr/bin/env python3
"""Set up the project in .venv and run it: `python3 dev.py serve` or `python3 dev.py test`.

Needs only Python 3.11 or 3.12 with pip. The first run creates .venv and installs the project
(editable, with test extras); later runs reinstall only when pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".cdss-installed"

USAGE = """usage: python3 dev.py serve [cdss serve options]   set up, then run the service on its defaults
       python3 dev.py test [pytest options]         set up, then run the whole test suite
       python3 dev.py cdss ARGS...                  set up, then run any cdss command"""

# The test suite also runs against a real PostgreSQL and drives a real Chromium. These scripts install
# them from Debian's packages when missing (as root) and start a throwaway PostgreSQL on loopback; where
# that is impossible they warn, and the tests that need them skip with the reason (under CI they fail).
SERVICES = (
    'bash .ci/browser.sh || echo "dev.py: WARNING: no browser; the panel browser test will skip" >&2; '
    '. .ci/postgres.sh; trap cdss_pg_stop EXIT; "$@"'
)


def ensure_venv() -> None:
    """Create .venv and install the project into it when pyproject.toml changed."""
    if not ((3, 11) <= sys.version_info[:2] < (3, 13)):
        sys.exit(f"dev.py: Python 3.11 or 3.12 is needed (durable-rules does not import on 3.13); "
                 f"this is {sys.version.split()[0]}")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("dev.py: creating .venv ...", file=sys.stderr)
        venv.create(VENV, with_pip=True)
    print("dev.py: installing cdss and its test tools into .venv ...", file=sys.stderr)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "cdss"}:
        print(USAGE, file=sys.stderr)
        return 2
    ensure_venv()
    command, rest = argv[0], argv[1:]
    if command == "serve":
        args = [str(BIN / "cdss"), "serve", *rest]
    elif command == "test":
        args = [str(BIN / "python"), "-m", "pytest", *rest]
        if shutil.which("bash"):
            args = ["bash", "-c", SERVICES, "dev.py", *args]
    else:
        args = [str(BIN / "cdss"), *rest]
    return subprocess.run(args, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
