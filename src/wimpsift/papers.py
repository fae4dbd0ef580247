"""Published numbers of the reproduced papers, each with its source.

These numbers are shown beside ours for comparison only; no computation uses them.
The two papers (their full text is the project's reference material, not shipped):

- ``CNN``: "Convolutional neural networks for WIMP/background discrimination in
  XENON1T" (XENON1T SR0 simulation, Hit/Peak/HitPeak images; the project's seed 000).
- ``LUX``: "Machine learning and the profile likelihood fit with data from the LUX
  experiment" (a 1-D neural-network discriminant against the standard 4-D profile
  likelihood; the project's seed 003).

``SOURCES[name]`` says where in its paper each constant is printed.
"""

from __future__ import annotations

#: Expected events in the analysis window, XENON1T SR0 (34.2 live days, laidbax),
#: a 500 GeV/c², 1e-45 cm² WIMP.
CNN_TABLE_I_EXPECTED_EVENTS: dict[str, float] = {
    "er": 61.879487,
    "cevns": 0.000901,
    "neutrons": 0.058570,
    "accidental": 0.220000,
    "wall": 0.520000,
    "anomalous": 0.090004,
    "wimp": 35.029005,
}

#: Test-set accuracy, recall and average precision of the final CNN per image kind.
CNN_TABLE_IV: dict[str, dict[str, float]] = {
    "hit": {"accuracy": 0.872, "recall": 0.934, "average_precision": 0.812},
    "peak": {"accuracy": 0.889, "recall": 0.937, "average_precision": 0.831},
    "hitpeak": {"accuracy": 0.904, "recall": 0.962, "average_precision": 0.848},
}

#: The HitPeak confusion matrix's rates and the ER rejections at 50 % WIMP acceptance.
CNN_HEADLINE: dict[str, object] = {
    "hitpeak_confusion": {"recall": 0.9618, "precision": 0.8615, "accuracy": 0.9037},
    "cnn_er_rejection_at_50pct": 0.993,
    "standard_selection_er_rejection": 0.998,
}

#: CPU hours for the limit of one signal model: the original EFT analysis and the NN.
LUX_TABLE_I_CPU_HOURS: dict[str, dict[str, float]] = {
    "original": {"workspace_creation": 2.7, "toy_generation": 39.0, "hypothesis_testing": 8.8,
                 "training": 0.0, "total": 50.5},
    "neural_network": {"workspace_creation": 2.4e-3, "toy_generation": 1.0e-2,
                       "hypothesis_testing": 0.81, "training": 0.64, "total": 1.46},
}
#: Speed-up of the NN analysis in CPU time and in wall-clock time.
LUX_SPEEDUP_CPU = 35.0
LUX_SPEEDUP_WALL = 47.0

SOURCES: dict[str, str] = {
    "CNN_TABLE_I_EXPECTED_EVENTS": "CNN paper, Table I (expected events per background, SR0)",
    "CNN_TABLE_IV": "CNN paper, Table IV (final models on the test set)",
    "CNN_HEADLINE": "CNN paper, Sec. IV B and Fig. 17 (confusion matrix; 99.3 % ER rejection "
                    "at 50 % WIMP acceptance) and Sec. II (99.8 % for the standard selection)",
    "LUX_TABLE_I_CPU_HOURS": "LUX paper, Table I (CPU hours per signal model)",
    "LUX_SPEEDUP_CPU": "LUX paper, Table I and abstract (35x in CPU time)",
    "LUX_SPEEDUP_WALL": "LUX paper, Table I caption (47x in wall-clock time)",
}
