"""One configuration base; background specs as a union discriminated by kind."""

from __future__ import annotations

import pydantic
import pytest

from wimpsift.config import WimpsiftConfig
from wimpsift.detectors import Detector, load_detector
from wimpsift.detectors.backgrounds import AccidentalBackground, ChargeLossBackground
from wimpsift.errors import ConfigError
from wimpsift.execution import ExecutionConfig
from wimpsift.response.pmt_light import OpticalSettings
from wimpsift.simulation import SimulationConfig
from wimpsift.stats.limits import LimitConfig
from wimpsift.training.grid_search import GridSearchConfig


@pytest.mark.parametrize("cls", [OpticalSettings, SimulationConfig, LimitConfig, GridSearchConfig,
                                 ExecutionConfig])
def test_every_config_is_a_frozen_validated_wimpsift_config(cls):
    assert issubclass(cls, WimpsiftConfig)
    with pytest.raises(ConfigError, match="colour"):
        cls.build(colour="red")
    assert cls.model_config["frozen"] is True and cls.model_config["extra"] == "forbid"


def test_a_built_config_cannot_be_changed():
    config = ExecutionConfig.build(backend="local")
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        config.n_workers = 8  # type: ignore[misc]


def test_optical_settings_are_validated():
    with pytest.raises(ConfigError, match="surface_transmission"):
        OpticalSettings.build(surface_transmission=1.5)
    assert OpticalSettings() == OpticalSettings.build()  # one value: hashable, comparable
    assert hash(OpticalSettings()) == hash(OpticalSettings.build())


def _with_backgrounds(*specs):
    data = load_detector("xenon1t_sr0").model_dump()
    data["backgrounds"] = list(specs)
    return Detector.model_validate(data)


def test_background_kind_selects_its_model_and_keys():
    det = load_detector("xenon1t_sr0")
    kinds = {b.kind: type(b) for b in det.backgrounds}
    assert kinds["accidental"] is AccidentalBackground and kinds["wall"] is ChargeLossBackground
    wall = det.background("wall")
    assert wall.charge_kept_range == (wall.charge_kept_min, wall.charge_kept_max)
    assert det.background("accidental").charge_kept_range == (1.0, 1.0)
    # a missing key names the kind and the key
    with pytest.raises(pydantic.ValidationError, match=r"wall\.charge_kept_min\s+Field required"):
        _with_backgrounds({"name": "w", "kind": "wall", "expected_events": 1.0,
                           "reference_exposure_kg_days": 10.0, "charge_kept_max": 0.5,
                           "energy_min_kev": 1.0, "energy_max_kev": 5.0})
    # a key of another kind is an error, not silently ignored
    with pytest.raises(pydantic.ValidationError, match="flux_per_cm2_s"):
        _with_backgrounds({"name": "e", "kind": "er_flat", "rate_per_kg_day_kev": 1e-4,
                           "energy_min_kev": 1.0, "energy_max_kev": 5.0, "flux_per_cm2_s": 1.0})
    with pytest.raises(pydantic.ValidationError, match="energy_min_kev must be below"):
        _with_backgrounds({"name": "e", "kind": "er_flat", "rate_per_kg_day_kev": 1e-4,
                           "energy_min_kev": 5.0, "energy_max_kev": 1.0})
    with pytest.raises(pydantic.ValidationError, match="kind"):
        _with_backgrounds({"name": "x", "kind": "gamma_lines"})


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_pydantic_model_of_the_package_is_on_the_one_base():
    import importlib
    import pkgutil

    import wimpsift

    for info in pkgutil.walk_packages(wimpsift.__path__, "wimpsift."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    models = [c for c in _subclasses(pydantic.BaseModel) if c.__module__.startswith("wimpsift.")]
    assert Detector in models and len(models) > 30
    assert [c.__qualname__ for c in models if not issubclass(c, WimpsiftConfig)] == []
    # the detector schema's sections too: frozen, unknown keys and non-finite numbers refused
    data = load_detector("xenon1t_sr0").model_dump()
    data["geometry"]["tpc_radius_cm"] = float("inf")
    with pytest.raises(pydantic.ValidationError, match="tpc_radius_cm"):
        Detector.model_validate(data)
    data = load_detector("xenon1t_sr0").model_dump()
    data["backgrounds"][0]["published_expected_events"] = float("nan")
    with pytest.raises(pydantic.ValidationError, match="published_expected_events"):
        Detector.model_validate(data)


def test_a_cross_check_of_several_keys_reads_as_its_own_message():
    """A model validator's message reaches the user without pydantic's 'Value error, '."""
    with pytest.raises(ConfigError) as err:
        SimulationConfig.build(source="wimp", n_events=10)
    assert str(err.value) == "SimulationConfig: (top level): source 'wimp' needs mass_gev"


def test_a_check_that_names_its_field_is_not_named_twice():
    """A field validator whose message starts with the field's name (as the input check
    shared with the command line does) reads 'inputs: unknown ...', not 'inputs: inputs: ...';
    built from a command's options, the option is named instead."""
    from wimpsift.training.discriminant import DiscriminantConfig, validated_config

    with pytest.raises(ConfigError) as err:
        validated_config(inputs="bogus")
    assert str(err.value).startswith("discriminant config: inputs: unknown input variable 'bogus'")
    with pytest.raises(ConfigError) as err:
        DiscriminantConfig.from_options({"inputs": "--inputs"}, inputs="bogus")
    assert str(err.value).startswith("--inputs: unknown input variable 'bogus'")


def test_true_or_false_where_a_number_is_expected_is_an_error():
    """pydantic's lax mode reads ``events_per_source = true`` as 1 event; a number field
    refuses a truth value, an optional one too, and a true/false setting still takes it."""
    from wimpsift.run_config import RunConfig

    for section, key in (("simulation", "events_per_source"), ("simulation", "sigma_cm2")):
        with pytest.raises(ConfigError, match=rf"{section}\.{key}: expected a number, not true/false"):
            RunConfig.build(**{section: {key: True}})
    with pytest.raises(ConfigError, match="n_workers: expected a number"):
        ExecutionConfig.build(backend="local", n_workers=True)  # an optional number
    assert RunConfig.build(simulation={"enabled": False}).simulation.enabled is False
    assert RunConfig.build(simulation={"events_per_source": 300.0}).simulation.events_per_source == 300


@pytest.mark.parametrize(("section", "key", "value", "expected"), [
    ("simulation", "wimp_mass_gev", "500", "expected a number, not text"),
    ("simulation", "events_per_source", "50", "expected a number, not text"),
    ("cnn", "enabled", "no", "expected true or false, not text"),
    ("lux", "enabled", 0, "expected true or false, not a number"),
])
def test_text_or_a_number_of_the_wrong_kind_is_an_error(section, key, value, expected):
    """pydantic's lax mode would read "500" as 500 and "no" or 0 as false."""
    from wimpsift.run_config import RunConfig

    with pytest.raises(ConfigError, match=rf"{section}\.{key}: {expected} \(got {value!r}\)"):
        RunConfig.build(**{section: {key: value}})


def test_items_of_a_mapping_or_list_setting_are_checked_too():
    from wimpsift.stats.likelihood import LikelihoodConfig

    for widths, expected in (({"er": True}, "not true/false"), ({"er": "0.1"}, "not text")):
        with pytest.raises(ConfigError, match=f"background_rel_uncertainty: expected a number, {expected}"):
            LikelihoodConfig.build(background_rel_uncertainty=widths)
    config = LikelihoodConfig.build(background_rel_uncertainty={"er": 1})
    assert config.background_rel_uncertainty == {"er": 1.0}
