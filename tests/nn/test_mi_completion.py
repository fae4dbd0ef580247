"""The MI completion rule: combined error, at most 1 % of the MI, 0.94 never complete."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wimpsift.errors import ConfigError
from wimpsift.metrics.mutual_information import MutualInformation, mi_completion
from wimpsift.training.discriminant import validated_config


def _mi(bits: float, error: float, n: int = 10_000) -> MutualInformation:
    return MutualInformation(mi_bits=bits, error_bits=error, k=5, n_events=n, subset_values_bits=())


@settings(max_examples=200, deadline=None)
@given(err_in=st.floats(0.0, 0.2), err_out=st.floats(0.0, 0.2), mi_in=st.floats(0.05, 1.0))
def test_a_094_network_is_never_complete(err_in, err_out, mi_in):
    cfg = validated_config(masses_gev=[10.0])
    rule = mi_completion(_mi(0.94 * mi_in, err_out), _mi(mi_in, err_in), epsilon=cfg.mi_epsilon,
                         n_sigma=cfg.mi_n_sigma, max_rel_error=cfg.mi_max_rel_error)
    assert rule["complete"] is False


def test_resolved_comparisons_decide_and_unresolved_ones_say_what_they_need():
    inputs = _mi(0.40, 0.002, n=20_000)
    good = mi_completion(_mi(0.396, 0.002), inputs)
    assert good["resolved"] and good["complete"]
    short = mi_completion(_mi(0.375, 0.002), inputs)  # ratio 0.9375
    assert short["resolved"] and not short["complete"] and short["below_target"]
    # the same networks on a test set 16 times smaller: errors 4 times larger
    small_in = _mi(0.40, 0.008, n=1250)
    vague = mi_completion(_mi(0.396, 0.008), small_in)
    assert not vague["resolved"] and not vague["complete"] and not vague["below_target"]
    assert vague["relative_error"] == pytest.approx(np.hypot(0.008, 0.008) / 0.40)
    assert vague["test_events_needed"] == int(np.ceil(1250 * (vague["relative_error"] / 0.01) ** 2))


def test_config_refuses_a_rule_that_accepts_094():
    with pytest.raises(ConfigError, match="mi_epsilon"):
        validated_config(masses_gev=[10.0], mi_epsilon=0.05)
    with pytest.raises(ConfigError, match="mi_max_rel_error"):
        validated_config(masses_gev=[10.0], mi_max_rel_error=0.1)
