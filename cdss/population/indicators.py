"""Population: quality indicators, defined as data (`catalogue/indicators/*.yaml`): an indicator counts
the patients for whom its numerator / denominator rules fired, overall and per centre, family-doctor team
and doctor. Nothing clinical here: the criteria live in the packs' rules.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from ruamel.yaml import YAML, YAMLError

from cdss.errors import ConfigError, Problem
from cdss.packs.schema import Model, Text

LEVELS: tuple[str, ...] = ("overall", "centre", "team", "doctor")


class Indicator(Model):
    """One indicator: numerator / denominator as the rules whose firing puts a patient in them."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: Text
    formula: Text = Field(description="The source's formula, in its words.")
    citation: str = Field(min_length=1, description="Section of the source.")
    evidence: Literal["verified", "secondary", "unverified"]
    note: str | None = None
    numerator: tuple[str, ...] = Field(min_length=1, description="Full rule ids `pack/kind/slug`.")
    denominator: tuple[str, ...] = Field(min_length=1, description="Full rule ids `pack/kind/slug`.")


class Worklist(Model):
    rule: str
    status: Literal["due", "overdue"]


class IndicatorSource(Model):
    title: str
    year: int
    publisher: str | None = None
    note: str | None = None


class IndicatorFile(Model):
    """`catalogue/indicators/<id>.yaml`."""

    id: str
    version: str
    source: IndicatorSource
    contract_concept: str | None = None
    indicators: tuple[Indicator, ...] = Field(min_length=1)
    worklists: tuple[Worklist, ...] = ()


def load_indicators(path: Path | None = None) -> IndicatorFile:
    """The indicator definitions (default: the catalogue's `phs-2017.yaml`).

    Raises:
        ConfigError: unreadable or invalid file [indicators-invalid].
    """
    name = str(path) if path else "catalogue/indicators/phs-2017.yaml"
    try:
        text = path.read_text(encoding="utf-8") if path else \
            resources.files("catalogue").joinpath("indicators/phs-2017.yaml").read_text(encoding="utf-8")
        return IndicatorFile.model_validate(YAML(typ="safe").load(text))
    except (OSError, YAMLError) as exc:
        raise ConfigError.one(f"cannot read the indicator definitions: {exc}", "indicators-invalid",
                              file=name) from exc
    except ValidationError as exc:
        raise ConfigError([Problem(e["msg"], "indicators-invalid", file=name,
                                   field=".".join(str(p) for p in e["loc"])) for e in exc.errors()]) from exc


class Tally:
    """Streaming counts: feed each patient's record once; memory grows with the number of groups only."""

    def __init__(self, definitions: IndicatorFile):
        self.definitions = definitions
        self.counts: dict[tuple[str, str, str | None], list[int]] = {}

    def add(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Count one patient; return its membership rows (for indicator_members.parquet)."""
        fired = set(record.get("fired") or ())
        rows = []
        for ind in self.definitions.indicators:
            if not fired.intersection(ind.denominator):
                continue
            num = bool(fired.intersection(ind.numerator))
            for level in LEVELS:
                ref = None if level == "overall" else record.get(level)
                if level != "overall" and ref is None:
                    continue
                c = self.counts.setdefault((ind.id, level, ref), [0, 0])
                c[0] += int(num)
                c[1] += 1
            rows.append({"indicator": ind.id, "patient": record["patient"], "in_numerator": num,
                         "in_denominator": True, "centre": record.get("centre"), "team": record.get("team"),
                         "doctor": record.get("doctor")})
        return rows

    def to_json(self, period: dict[str, str]) -> dict[str, Any]:
        out = []
        for ind in self.definitions.indicators:
            keys = [("overall", None)] + sorted({(lvl, ref) for (i, lvl, ref) in self.counts
                                                 if i == ind.id and lvl != "overall"},
                                                key=lambda k: (LEVELS.index(k[0]), k[1] or ""))
            for level, ref in keys:
                num, den = self.counts.get((ind.id, level, ref), [0, 0])
                out.append({"id": ind.id, "title": {"zh": ind.title.zh, "en": ind.title.en},
                            "numerator": num, "denominator": den,
                            "value": round(num / den, 4) if den else None,
                            "group": {"level": level, "ref": ref},
                            "formula": {"zh": ind.formula.zh, "en": ind.formula.en},
                            "citation": f"{self.definitions.source.title} {self.definitions.source.year}: "
                                        f"{ind.citation}", "evidence": ind.evidence})
        return {"period": period, "definitions": f"{self.definitions.id}@{self.definitions.version}",
                "indicators": out}
