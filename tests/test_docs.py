"""Docs stay true: generated references are fresh, every error code is documented, the README's quick
start is two commands and its worked example is what the CLI prints."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from typer.testing import CliRunner

from cdss.cli import _register, app
from cdss.cli.reference import cli_markdown, settings_markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CODE = re.compile(r"^[a-z]+(-[a-z0-9]+)+$")
# Calls that create a located problem, and the position of the code among their arguments.
CODE_ARG = {"Problem": 1, "one": 1, "add": 1, "problem": 2, "fail": 2}
# Codes made indirectly (from a table of pydantic error types, or returned as (message, code) pairs).
INDIRECT = {"unknown-key", "missing-key", "invalid-value", "malformed-tcm-code", "unknown-tcm-code",
            "temporary-tcm-code"}
# A code echoed at the end of a message without a Problem (`typer.echo("cdss: --sizes: ... [bad-sizes]")`).
ECHOED = re.compile(r"(?:^|\s)\[([a-z]+(?:-[a-z0-9]+)+)\]$")  # at the very end: a regex such as [a-z] is no code
# FHIR's own OperationOutcome issue codes (spec vocabulary, documented by HL7, not by us).
FHIR_ISSUE_CODES = {"not-found", "not-supported", "too-costly"}


def error_codes() -> set[str]:
    found = set(INDIRECT)
    for path in [*ROOT.joinpath("cdss").rglob("*.py"), *ROOT.joinpath("service").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found |= set(ECHOED.findall(node.value))
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = [kw.value for kw in node.keywords if kw.arg == "code"]
            if name in CODE_ARG and len(node.args) > CODE_ARG[name]:
                args.append(node.args[CODE_ARG[name]])
            found |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                      and CODE.match(a.value)}
    return found - FHIR_ISSUE_CODES


def test_every_error_code_has_a_heading_in_errors_md():
    headings = " / ".join(re.findall(r"^### (.+)$", (DOCS / "reference" / "errors.md").read_text(encoding="utf-8"),
                                     re.MULTILINE))
    missing = sorted(c for c in error_codes() if not re.search(rf"(^|[ /]){re.escape(c)}($|[ /])", headings))
    assert not missing, f"error codes without a heading in docs/reference/errors.md: {missing}"


def test_codes_the_cli_only_echoes_are_seen_too():
    """Regression (issue #16): `cdss bench` echoes [bad-sizes] and [bad-scales] without a Problem, and the
    scan above missed them, so they were never documented."""
    assert {"bad-sizes", "bad-scales", "bad-concurrency", "bad-requests"} <= error_codes()


def test_cli_reference_is_fresh():
    assert (DOCS / "reference" / "cli.md").read_text(encoding="utf-8") == cli_markdown(), \
        "regenerate: cdss reference show cli --out docs/reference/cli.md"


def test_settings_reference_is_fresh():
    assert (DOCS / "reference" / "settings.md").read_text(encoding="utf-8") == settings_markdown(), \
        "regenerate: cdss reference show settings --out docs/reference/settings.md"


def test_readme_quick_start_is_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert commands == ["python3 dev.py serve", "python3 dev.py test"]
    assert "python3 dev.py test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_readme_worked_example_is_what_the_cli_prints():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("## Worked example", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w*)\n(.*?)```", example, re.DOTALL)
    command, shown = blocks[0][1].strip(), blocks[1][1]
    args = command.removeprefix("python3 dev.py cdss ").split()
    _register()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # Pack versions are not compared: a pack's version moves with every change of its content (and with
    # `cdss pack migrate`); everything else of the example must be what the CLI prints.
    def unversioned(text: str) -> str:
        return re.sub(r"@\d+\.\d+\.\d+", "@VERSION", text)

    for line in shown.splitlines():
        if line.strip() and line.strip() != "...":
            assert unversioned(line) in unversioned(result.stdout), f"README line not in the output: {line!r}"
