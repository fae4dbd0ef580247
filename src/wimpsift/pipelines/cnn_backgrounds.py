"""`wimpsift reproduce cnn --backgrounds all`: the WIMP against every background.

Events: the WIMP and every background of the detector definition at waveform level,
with their topology, in the whole active volume, weighted by their expected rates, their
tails importance-sampled (:mod:`wimpsift.training.mix_samples`). Classifiers, trained on
the training set and scored on the same test events: the standard selection, a dense
network on the event variables, a binary and a multi-class CNN
(:mod:`wimpsift.training.background_classifiers`, which also gives the measurements
behind each choice). This module compares them.

Remaining background (:func:`wimpsift.metrics.remaining.remaining_at_acceptance`): the
expected events of each background, and their total, that pass each classifier's threshold
set at 50 % WIMP acceptance, with Feldman–Cousins 68 % intervals of the number of passing
test events × their weight (meaningful at zero passing events); the ratio of each total to
the standard selection's with a 68 % interval and the verdict on the ≤ 0.5 target
(:func:`~wimpsift.metrics.background_comparison.verdict`), from test events only; the same
verdict with every error (``ratio_interval_all_errors``, ``target_ratio_met_all_errors``):
the test events', the CNN ensembles' training noise
(:func:`~wimpsift.metrics.background_comparison.training_noise`) and the acceptance
threshold's (:func:`~wimpsift.metrics.background_comparison.threshold_error`: every
threshold is a quantile of the WIMP test events' scores; a bootstrap over them, one
resample for all classifiers), added in quadrature on each side of the ratio (the
threshold's error on the CNNs' ratios was 0.016–0.049 in three quick runs with 2,500 WIMP
test events, 2026-12-02, comparable to the training noise; it turned one fiducial verdict,
0.43 with its upper end at 0.501, from met to undecided); and the floor of an ideal NR/ER
separator (:func:`~wimpsift.metrics.background_comparison.ideal_nr_floor`): CEvNS and
neutrons are nuclear recoils in the bulk, so a separator that removes every other source
perfectly still keeps them — half of them if it ignores energy, fewer if it also ranks by
the WIMP/NR-like cS1 spectrum ratio. When that floor is above 0.5 × the standard
selection's total, no classifier can meet the target on these events. Two comparisons:

- ``fiducial``: events in the analysis window *and* the fiducial volume
  (reconstructed position); acceptance relative to the WIMPs there;
- ``active_volume``: every event in the window; the classifiers get no fiducial cut,
  the standard selection keeps its own. All are compared at one WIMP acceptance
  relative to all WIMPs in the window of the active volume: the one that keeps as many
  WIMPs as 50 % of the fiducial ones, 0.5 × (fiducial share of the window's WIMPs),
  recorded as ``signal_acceptance_of_active_wimps`` (the standard selection alone
  cannot reach 50 % of the active volume's WIMPs: its fiducial cut keeps about half).
  The standard selection then sits at its fiducial operating point, and a classifier
  that rejects what lives near the walls finds the same WIMPs with less background.
  The key stays ``remaining_at_50pct`` so both comparisons share one structure.
  Should a classifier not reach the acceptance, it is compared at the most it keeps,
  and ``details.<classifier>.signal_acceptance`` says so.

The classifiers are trained once, on the active volume; the fiducial comparison applies
them to the fiducial events. ``no_discrimination`` is the expected count in the window.

Mutual information (:func:`wimpsift.metrics.mutual_information.mutual_information`,
bits): between the class (WIMP or background, the two classes weighted to equal total,
backgrounds in their expected mix) and the event variables — the information any
classifier of those variables can use — beside the MI between the class and each
classifier's output, on the same test events. The data-processing inequality makes the
event variables' MI an upper bound for the dense network; the CNNs see images, not the
variables, so for them it is the bound of the variables only. The k-nearest-neighbour
estimate in twelve dimensions is biased low: at the quick scale it falls below the MI of
(cS1, log10 cS2) alone (``cs1_cs2``) and of the dense network's output, both of which
data processing puts below the true value of all twelve. ``event_variables_lower_bound``,
the largest of the three, is the bound that holds. Discrete variables (the
number of S2s) are dithered by uniform noise within their unit step (invertible, so the
MI is unchanged) because the k-nearest-neighbour estimator needs distinct values.

Position reconstruction: the position CNN of :mod:`wimpsift.training.position` trained
and evaluated at a small scale against the likelihood fit (``position_*`` settings).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from wimpsift.detectors import Detector, load_detector
from wimpsift.execution import ExecutionConfig, Executor, in_process
from wimpsift.metrics.background_comparison import EVENT_VARIABLES, comparison
from wimpsift.plots.remaining import plot_remaining_curves
from wimpsift.processing.background_mix import SIGNAL
from wimpsift.processing.standard_selection import StandardSelection
from wimpsift.seeding import int_seed
from wimpsift.training.background_classifiers import (
    ACTIVE_MIX,
    FIDUCIAL_MIX,
    AllBackgroundsSettings,
    fit_classifiers,
    volume_scores,
)
from wimpsift.training.mix_samples import Mix, simulate_train_test


def cut_fractions(standard: StandardSelection, mix: Mix) -> dict[str, dict[str, float]]:
    """Per source, the share of its events in the active volume's window that pass each
    cut of the standard selection on its own (fiducial, single scatter, S2 width,
    cS1–cS2 below the NR median)."""
    flags = standard.flags(mix.table)
    source = mix.table["source"].to_numpy(object)
    out = {}
    for name in mix.weight_per_event:
        rows = source == name
        out[name] = {cut: (float(flags[cut].to_numpy()[rows].mean()) if rows.any() else None)
                     for cut in ("fiducial", "single_scatter", "s2_width", "cs1_cs2")}
    return out


def published_counts(detector: Detector) -> dict[str, Any]:
    """The published expected counts beside ours: the paper's Table I for XENON1T SR0
    (:mod:`wimpsift.papers` and the detector file), else the detector file's own."""
    from wimpsift.papers import paper_numbers

    counts = {b.name: b.published_expected_events for b in detector.backgrounds
              if b.published_expected_events is not None}
    if detector.name == "xenon1t_sr0":
        table_i = paper_numbers()["cnn_paper"]["table_i"]
        return {"source": table_i["source"], "counts": counts, "wimp": table_i["wimp"]}
    return {"source": f"published_expected_events of the detector file {detector.name}",
            "counts": counts}


def position_reconstruction(detector: Detector, settings: AllBackgroundsSettings, seed: int,
                            threads: int) -> dict[str, Any]:
    """The position CNN against the likelihood fit at a small scale (training/position)."""
    from wimpsift.training.position import (
        PositionTrainingConfig,
        evaluate_positions,
        train_position_cnn,
    )

    config = PositionTrainingConfig(detector=detector.name,
                                    n_events=settings.position_train_events,
                                    epochs=settings.position_epochs, threads=threads,
                                    seed=int_seed(seed, "positions", "train"))
    reconstructor = train_position_cnn(config)
    result = evaluate_positions(reconstructor, settings.position_test_events,
                                int_seed(seed, "positions", "test"))
    keep = ("cnn_rms_cm", "likelihood_rms_cm", "likelihood_true_lrf_rms_cm",
            "centre_of_gravity_rms_cm", "n_test_events", "published_anchors")
    out = {k: result[k] for k in keep}
    out["n_train_events"] = int(reconstructor.meta.get("n_train", 0))
    out["methods"] = {name: {k: m[k] for k in ("rms_cm", "bulk_rms_cm", "wall_rms_cm",
                                               "wall_radial_bias_cm")}
                      for name, m in result["methods"].items()}
    return out


def write_test_scores(path: Path, mix: Mix, scores: dict[str, np.ndarray],
                      provenance_record: dict[str, Any] | None) -> Path:
    """The test events (source, weight, window flags, event variables, the truth's recoil
    type and deposited energy) and every score."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from wimpsift.provenance import atomic_path

    columns = ["source", "weight", "in_window", "n_interactions", "true_recoil_type",
               "true_energy_kev", "cs1_pe", "cs2_pe",
               *[c for c in EVENT_VARIABLES if c not in ("cs1_pe", "log10_cs2")]]
    frame = mix.table[columns].assign(**{f"score_{k}": v for k, v in scores.items()})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({"wimpsift": json.dumps(provenance_record or {},
                                                                  default=str)})
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def run_all_backgrounds(detector_name: str, n_train: int, n_test: int, seed: int,
                        settings: AllBackgroundsSettings, mass_gev: float,
                        sigma_cm2: float | None, figures_dir: Path, threads: int = 1,
                        device: str | None = None, plan=None, data_dir: Path | None = None,
                        provenance_record: dict[str, Any] | None = None,
                        execution: ExecutionConfig | None = None,
                        cache_dir: Path | None = None
                        ) -> tuple[dict[str, Any], dict[str, str]]:
    """Simulate and fit (the sources and the CNNs' ensemble members as parallel tasks on
    ``execution``), score and compare; returns (metrics sections, figures).

    With ``data_dir``, the test events' variables, weights and scores are written to
    ``test_scores.parquet`` there (``provenance_record`` in its metadata, as in the
    figures'). With
    ``cache_dir``, each source's events and each trained CNN ensemble member are kept
    in the lineage cache there, so a rerun after a stop resumes from them."""
    detector = load_detector(detector_name)
    timings: dict[str, float] = {}

    def stage(name: str) -> None:
        if plan is not None:
            plan.start(name)

    with (Executor(execution) if execution else in_process()) as executor:
        stage("images")
        t0 = time.perf_counter()
        train, test, in_volume = simulate_train_test(detector, n_train, n_test, seed,
                                                     settings, mass_gev, sigma_cm2, executor,
                                                     cache_dir)
        timings["events_and_images_s"] = time.perf_counter() - t0

        stage("classifiers")
        t0 = time.perf_counter()
        classifiers, fit_info = fit_classifiers(detector, train, settings, seed, threads,
                                                device, in_volume["fiducial"], executor,
                                                cache_dir, in_volume["active"])
        scores = classifiers.scores(test, executor)
    # each CNN in the version for the volume compared: the multi-class likelihood ratio
    # with that volume's mix, the binary CNN trained on it
    fiducial_scores = volume_scores(scores, FIDUCIAL_MIX)
    active_scores = volume_scores(scores, ACTIVE_MIX)
    timings["classifiers_s"] = time.perf_counter() - t0

    stage("comparison")
    t0 = time.perf_counter()
    table = test.table
    listed = {v: table["source"].isin(n).to_numpy() for v, n in in_volume.items()}
    fiducial_rows = table["in_window"].to_numpy(bool) & listed["fiducial"]
    all_rows = listed["active"]
    mi_settings = {"mi_neighbours": settings.mi_neighbours, "mi_subsets": settings.mi_subsets}
    fiducial = comparison(table, test.weight_per_event, fiducial_rows, fiducial_scores, seed,
                          names=in_volume["fiducial"], reference=train.table[
                              train.table["in_window"].to_numpy(bool)
                              & train.table["source"].isin(in_volume["fiducial"]).to_numpy()],
                          **mi_settings)
    wimp = (table["source"] == SIGNAL).to_numpy()
    fiducial_share = float(table["weight"][wimp & fiducial_rows].sum()
                           / table["weight"][wimp].sum())
    active = comparison(table, test.weight_per_event, all_rows, active_scores, seed,
                        0.5 * fiducial_share, names=in_volume["active"], reference=train.table[
                            train.table["source"].isin(in_volume["active"]).to_numpy()],
                        **mi_settings)
    figures = {
        "Expected background remaining against WIMP acceptance, fiducial volume, every "
        "background of the detector (no seed counterpart)": plot_remaining_curves(
            table, fiducial_rows, fiducial_scores, figures_dir / "remaining_fiducial.png",
            "Fiducial volume", provenance=provenance_record).name,
        "The same on the whole active volume (the standard selection keeps its fiducial cut)":
            plot_remaining_curves(table, all_rows, active_scores,
                                  figures_dir / "remaining_active.png", "Active volume",
                                  0.5 * fiducial_share, provenance=provenance_record).name,
    }
    cuts = cut_fractions(classifiers.standard, test)
    if data_dir is not None:
        write_test_scores(data_dir / "test_scores.parquet", test, scores, provenance_record)
    timings["comparison_s"] = time.perf_counter() - t0

    stage("positions")
    t0 = time.perf_counter()
    positions = position_reconstruction(detector, settings, seed, threads)
    timings["positions_s"] = time.perf_counter() - t0

    all_backgrounds = {
        **fiducial,
        "active_volume": active,
        "detector": detector.name,
        "image_kind": settings.image_kind,
        "cnn_event_scalars": list(settings.cnn_event_scalars),
        "event_variables": list(EVENT_VARIABLES),
        "classes_multiclass": classifiers.classes,
        "standard_selection_cuts": cuts,
        "training": fit_info,
        "n_train_events": {s: int(n) for s, n in train.table["source"].value_counts().items()},
        # every source's test events in the window of either volume (``n_test_events``:
        # the fiducial comparison's; the active one's lacks the fiducial-only sources)
        "n_test_events_window": {s: int(n) for s, n in test.table["source"].value_counts().items()},
        "n_simulated": {"train": train.n_simulated, "test": test.n_simulated},
        "tail_sampling": {"train": train.strata, "test": test.strata},
        "exposure_kg_days": float(detector.exposure_kg_days),
        "published": published_counts(detector),
        "settings": settings.model_dump(mode="json"),
    }
    return {"all_backgrounds": all_backgrounds, "position_reconstruction": positions,
            "timings_s": timings}, figures
