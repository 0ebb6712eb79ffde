"""Vocabulary: the base of every result record (evaluation, suggestion, data gap, unrecognised coding ...).

A record is a frozen, typed pydantic model whose ``model_dump(mode="json")`` *is* its JSON form: field
order is the key order, ``alias`` renames a key (``condition`` for ``ConditionTrace.text``), and
``Field(exclude_if=...)`` leaves out an empty optional key (``omit_empty``). No hand ``to_json``.

Records are built by the engine and intake, often positionally like the dataclasses they replace:
``Evidence(concept, value, unit, time, source, stat)``. Positional arguments fill ``positional`` (default:
the fields in declaration order), so that a JSON key order can differ from the order of construction.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


def _empty(value: Any) -> bool:
    return not value


def omit_empty(default: Any = None, **kwargs: Any) -> Any:
    """A field left out of the JSON form when it is empty (None, "", (), {}, False)."""
    return Field(default=default, exclude_if=_empty, **kwargs)


class Record(BaseModel):
    """Frozen, typed, strict about unknown keys; `model_dump(mode="json")` is the JSON form."""

    model_config = ConfigDict(frozen=True, extra="forbid", serialize_by_alias=True, validate_by_name=True,
                              validate_by_alias=True, defer_build=True)
    positional: ClassVar[tuple[str, ...]] = ()  # names filled by positional arguments; () = field order

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.positional = cls.positional or tuple(cls.model_fields)

    def __init__(self, /, *args: Any, **data: Any) -> None:
        if args:
            names = self.positional
            if len(args) > len(names):
                raise TypeError(f"{type(self).__name__} takes at most {len(names)} positional arguments")
            for name, value in zip(names, args, strict=False):
                if name in data:
                    raise TypeError(f"{type(self).__name__} got two values for {name!r}")
                data[name] = value
        # What BaseModel.__init__ does, without its extra frame: ~20 % of the cost of a small record, and
        # the engine builds hundreds per evaluation. The same validation, errors and post-init.
        self.__pydantic_validator__.validate_python(data, self_instance=self)
