"""One base class for every configuration: typed, validated (pydantic), frozen.

Unknown keys are errors. :meth:`WimpsiftConfig.build` turns a pydantic
``ValidationError`` into a one-line :class:`~wimpsift.errors.ConfigError` that names
the parameter, the value and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from wimpsift.errors import ConfigError, validation_message

T = TypeVar("T", bound="WimpsiftConfig")


class WimpsiftConfig(BaseModel):
    """Frozen settings; unknown keys are errors. Build with :meth:`build` for a ConfigError."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

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


def config_error(origin: str, err: ValidationError) -> ConfigError:
    """A ConfigError ``"<origin>: <field>: <problem> (got <value>)"`` from a ValidationError."""
    return ConfigError(f"{origin}: {validation_message(err)}")
