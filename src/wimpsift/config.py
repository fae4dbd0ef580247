"""One base class for every configuration: typed, validated (pydantic), frozen.

Unknown keys are errors that name the key and the settings there are (or the one it
resembles, for a typo). :meth:`WimpsiftConfig.build` turns a pydantic
``ValidationError`` into a one-line :class:`~wimpsift.errors.ConfigError` that names
the parameter, the value and what was expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from wimpsift.errors import ONLY_WITH, UNKNOWN_SETTING, WRONG_KIND, ConfigError, validation_message

T = TypeVar("T", bound="WimpsiftConfig")


class WimpsiftConfig(BaseModel):
    """Frozen settings; unknown keys are errors. Build with :meth:`build` for a ConfigError."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_settings(cls, data: Any) -> Any:
        """An unknown key (a typo in a TOML file) is named with what was meant: pydantic's
        own check (``extra="forbid"``) says only that extra inputs are not permitted.
        pydantic's lax mode would also convert values of the wrong kind (``events_per_source
        = true`` to 1, ``"500"`` to 500, ``enabled = "no"`` or ``0`` to false): a number or
        true/false setting refuses them (:func:`_wrong_kind`)."""
        if isinstance(data, Mapping):
            for key, value in data.items():
                if key not in cls.model_fields:
                    raise PydanticCustomError(UNKNOWN_SETTING, unknown_setting(str(key), cls.model_fields),
                                              {"setting": str(key)})
                expected = _wrong_kind_within(value, cls.model_fields[key].annotation)
                if expected:
                    raise PydanticCustomError(WRONG_KIND, expected, {"setting": str(key)})
        return data

    @classmethod
    def build(cls: type[T], **values: Any) -> T:
        """Validate ``values``; a bad value raises :class:`ConfigError` naming the parameter."""
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            raise config_error(cls.__name__, err) from err

    @classmethod
    def from_options(cls: type[T], options: Mapping[str, str], **values: Any) -> T:
        """Validate ``values`` that a command's options set; a bad value raises
        :class:`ConfigError` naming the option (``options`` maps fields to options, e.g.
        ``{"confidence_level": "--cl"}``; a field not in it is named as it is)."""
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            raise ConfigError(validation_message(err, options)) from err


def _wrong_kind_within(value: Any, annotation: Any) -> str:
    """:func:`_wrong_kind` for ``value``, or for each item of a list or mapping given where
    the annotation admits ``list[X]`` or ``dict[K, X]`` (``{"er": true}`` for widths)."""
    allowed = _base_types(annotation)
    containers = {get_origin(t): get_args(t) for t in allowed if get_origin(t) in (list, dict)}
    if isinstance(value, Mapping) and dict in containers:
        items, inner = list(value.values()), containers[dict][-1]
    elif isinstance(value, list) and list in containers:
        items, inner = value, containers[list][0]
    else:
        return _wrong_kind(value, allowed)
    return next((p for p in (_wrong_kind_within(v, inner) for v in items) if p), "")


def _wrong_kind(value: Any, allowed: set[Any]) -> str:
    """What a setting admitting only ``allowed`` (numbers, true/false, None) expects
    instead of ``value``; "" when ``value`` is of a kind it takes (a whole float for an
    integer count included) or when the setting admits anything else."""
    number = bool(allowed & {int, float})
    if not allowed <= {int, float, bool, type(None)}:
        return ""
    if isinstance(value, bool):
        return "" if bool in allowed or not number else "expected a number, not true/false"
    if isinstance(value, int | float):
        return "" if number or bool not in allowed else "expected true or false, not a number"
    if isinstance(value, str):
        return f"expected {'a number' if number else 'true or false'}, not text"
    return ""


def _base_types(annotation: Any) -> set[Any]:
    """The types an annotation admits: the members of a union (``None`` included), each
    without its ``Annotated`` constraints; a container (``list[int]``) is one type."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _base_types(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return {t for member in get_args(annotation) for t in _base_types(member)}
    return {annotation}


def only_with(other: str, value: str, detail: str = "") -> PydanticCustomError:
    """The error of a field validator whose setting has no effect unless setting ``other``
    is ``value``: ``only with other value<detail>``, ``other`` spelt as a command's option
    where :meth:`WimpsiftConfig.from_options` names it (``--toys: only with --experiment
    xenonnt_20ty``). A setting taken and ignored would give the same results as without it."""
    return PydanticCustomError(ONLY_WITH, "only with {other} {value}{detail}",
                               {"other": other, "value": value, "detail": detail})


def unknown_setting(key: str, known: Iterable[str]) -> str:
    """``unknown setting; did you mean 'x'?`` for a near miss, else the settings there are."""
    known = list(known)
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"unknown setting; did you mean {close[0]!r}?"
    return f"unknown setting; expected one of {', '.join(known)}"


def config_error(origin: str, err: ValidationError) -> ConfigError:
    """A ConfigError ``"<origin>: <field>: <problem> (got <value>)"`` from a ValidationError."""
    return ConfigError(f"{origin}: {validation_message(err)}")
