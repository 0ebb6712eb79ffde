"""Start-up (#15): `cdss evaluate` imported every command group (catalogue, pack, bench, ...), a quarter of a
second of CPU before the first bundle was read. Now a typed command imports only its own group; help and the
docs still see every command."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from cdss.cli import GROUPS, _register
_register({command!r})
print(",".join(g for g in GROUPS if f"cdss.cli.{{g}}" in sys.modules))
"""


def _groups_loaded(command: str | None) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(command=command)], capture_output=True, text=True,
                         check=True).stdout.strip()
    return [g for g in out.split(",") if g]


def test_evaluate_loads_no_other_command_group() -> None:
    assert _groups_loaded("evaluate") == []


def test_a_group_loads_only_itself_and_help_loads_all() -> None:
    from cdss.cli import GROUPS

    assert _groups_loaded("pack") == ["pack"]
    assert _groups_loaded(None) == list(GROUPS)
