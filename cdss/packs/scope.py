"""Packs: who a rule is for (population scope) and the safety settings that go with it.

A scope is declared in ``pack.yaml`` (the default of every rule of the pack) or on a rule (replacing the
pack default wholesale):

    population:
      age_years: {min: 18}        # min inclusive, max exclusive; either may be omitted
      sex: [female]               # omitted = any sex
      pregnant: exclude           # any (default) | exclude | only
      lactating: exclude          # any (default) | exclude | only

The engine's reading of a scope is in ``cdss.engine.population``; the reader-facing texts it needs (the
caution to confirm pregnancy status, the deceased note) and the childbearing age band are data, in
``catalogue/safety.yaml`` (``SafetySettings``), never in Python.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cdss.packs.loader import bundled_dir

Presence = Literal["any", "exclude", "only"]
SCOPED_KINDS: tuple[str, ...] = ("treatment", "medication")  # kinds that must have a scope


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class AgeBand(_Model):
    """Ages in completed years: `min` inclusive, `max` exclusive ("under 5" = `{max: 5}`)."""

    min: float | None = Field(default=None, ge=0, le=150, description="Lowest age in scope (inclusive).")
    max: float | None = Field(default=None, gt=0, le=150, description="First age out of scope (exclusive).")

    @model_validator(mode="after")
    def _order(self) -> AgeBand:
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError("`min` must be below `max` (max is exclusive)")
        if any(v is not None and not float(v).is_integer() for v in (self.min, self.max)):
            raise ValueError("ages are completed years: give whole numbers (a band such as `max: 0.5` holds "
                             "for every infant under 1; test `age_months` in the rule instead)")
        return self


class Population(_Model):
    """Who a rule applies to. Outside it the rule does not fire and reports no data gap."""

    age_years: AgeBand | None = Field(default=None, description="Age band in completed years; omitted = "
                                                                "any age. Unknown age against a band "
                                                                "makes the rule unknown (data gap "
                                                                "`age_years`).")
    sex: tuple[Literal["male", "female", "other", "unknown"], ...] | None = Field(
        default=None, min_length=1, description="FHIR administrative genders in scope; omitted = any sex.")
    pregnant: Presence = Field(default="any", description="`exclude`: not for pregnant women (for a woman "
                                                          "of childbearing age whose pregnancy status is "
                                                          "unknown the advice carries a caution to confirm "
                                                          "it first); `only`: for pregnant women only.")
    lactating: Presence = Field(default="any", description="`exclude`: not during lactation; `only`: "
                                                           "during lactation only.")

    def describe(self) -> str:
        """A short formula for traces: `age >= 18, not pregnant`."""
        parts = []
        if self.age_years is not None:
            if self.age_years.min is not None:
                parts.append(f"age >= {self.age_years.min:g}")
            if self.age_years.max is not None:
                parts.append(f"age < {self.age_years.max:g}")
        if self.sex:
            parts.append("sex in [" + ", ".join(self.sex) + "]")
        for name, value in (("pregnant", self.pregnant), ("lactating", self.lactating)):
            if value == "exclude":
                parts.append(f"not {name}")
            elif value == "only":
                parts.append(name)
        return "population: " + (", ".join(parts) if parts else "anyone")


class SafetyText(_Model):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class SafetySettings(_Model):
    """`catalogue/safety.yaml`: the data the engine-wide safety checks need."""

    childbearing_age_years: AgeBand = Field(description="Women of this age whose pregnancy status is unknown "
                                                        "get the `pregnancy_unknown` caution.")
    pregnancy_current_days: int = Field(ge=1, description="A pregnancy record (condition or status "
                                                          "observation) counts as current for this many "
                                                          "days after its date.")
    not_pregnant_current_days: int = Field(ge=1, description="An explicit 'not pregnant' status counts for "
                                                             "this many days after its date.")
    lactation_current_days: int = Field(ge=1, description="A lactation record counts as current for this "
                                                          "many days after its date.")
    pregnancy_ended_by: tuple[str, ...] = Field(description="Concepts (delivery, the puerperium) whose "
                                                            "record ends every pregnancy record dated on or "
                                                            "before it.")
    pregnancy_unknown: SafetyText = Field(description="Caution on advice scoped `pregnant: exclude` when "
                                                      "pregnancy status is unknown.")
    deceased: SafetyText = Field(description="The note shown instead of advice for a deceased patient.")
    source: str = Field(description="Where these choices come from.")


def bundled_settings_path() -> Path:
    return bundled_dir("catalogue") / "safety.yaml"


@lru_cache(maxsize=4)
def load_safety_settings(path: Path | None = None) -> SafetySettings:
    """The safety settings (bundled `catalogue/safety.yaml` by default), validated with file:line:col.

    Raises:
        PackError: the file is missing or invalid.
    """
    from cdss.packs.cache import cached
    from cdss.packs.loader import read_yaml, validate

    target = path or bundled_settings_path()  # from the pack cache while the file is unchanged
    return cached("safety", [target], lambda: validate(SafetySettings, read_yaml(target)))
