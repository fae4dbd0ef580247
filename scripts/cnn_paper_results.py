"""The CNN paper's full grid at its own scale, run on CPU: our Table IV beside the seed's,
the grid search's every setting, and the compute they took, generated from the run.

``wimpsift reproduce cnn --scale paper`` writes its test metrics to ``metrics.json`` and
writes the grid search's table, each setting's mean and spread over the folds at each
evaluated epoch count (:meth:`wimpsift.training.grid_search.GridSearchResult.rows`), to
``search/results.json``, and keeps every grid training in its lineage cache
(``search/cnn.grid_trial``), with its fit time. :func:`summarise` collects the three into
one JSON summary, small enough to ship (the trainings must be of one image set and hold
the run's epochs, else exit code 2); :func:`render` writes the Markdown block between the
``cnn-paper-cpu`` markers of ``docs/gpu.md``. The Table IV rows are those of the
README's quick-scale table (``scripts/main_job_results.py``).

``tests/pipelines/test_cnn_paper_results.py`` checks that the block in ``docs/gpu.md`` is
:func:`render` of the shipped summary ``tests/data/cnn_paper_cpu.json`` and that a
summary's choice is the run's. Numbers in the docs are never typed.

Usage::

    python scripts/cnn_paper_results.py out/paper --summary tests/data/cnn_paper_cpu.json \\
        --write docs/gpu.md
    python scripts/cnn_paper_results.py --from-summary tests/data/cnn_paper_cpu.json \\
        --write docs/gpu.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from main_job_results import KIND_LABELS, cnn_lines, replace_block  # noqa: E402
from main_job_results import markers as block_markers  # noqa: E402

from wimpsift.cache import Cache  # noqa: E402
from wimpsift.provenance import atomic_path, write_json  # noqa: E402
from wimpsift.training.grid_search import TRIAL_STAGE  # noqa: E402

NAME = "cnn-paper-cpu"
SETTING = ("n_conv_layers", "batch_size", "leaky_alpha", "learning_rate")


SCRIPT = Path(__file__).name


def markers() -> tuple[str, str]:
    return block_markers(NAME, SCRIPT)


def summarise(out: Path) -> dict[str, Any]:
    """``out/metrics.json``, the grid search's rows and every grid training of
    ``out/search``, as one summary."""
    metrics = json.loads((out / "metrics.json").read_text())
    rows = json.loads((out / "search" / "results.json").read_text())["rows"]
    scoring = metrics["grid_search"]["scoring"]
    trials, images = [], set()
    for entry in Cache(out / "search").entries(TRIAL_STAGE):
        result = entry.load()
        if result is None:
            continue
        config = entry.record["config"]
        images.add(config["data"])
        trials.append({**{k: config["params"][k] for k in SETTING}, "fold": config["fold"],
                       "fit_time_s": result["fit_time_s"],
                       "epochs_trained": result["epochs_trained"],
                       "images_per_s": result["images_per_s"]})
    if len(images) != 1:
        raise ValueError(f"{out / 'search'}: expected the grid trainings of one image set, "
                         f"found {len(images)}")
    epochs = sum(t["epochs_trained"] for t in trials)
    if epochs != metrics["grid_search"]["epochs_trained"]:
        raise ValueError(f"{out / 'search'}: its grid trainings hold {epochs} epochs, expected "
                         f"the run's {metrics['grid_search']['epochs_trained']}")
    trials.sort(key=lambda t: (*(t[k] for k in SETTING), t["fold"]))
    return {"metrics": metrics, "scoring": scoring, "rows": rows, "trials": trials}


def settings(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each setting's mean and spread over the folds at every evaluated epoch count (the
    grid search's rows; a setting two stages share is in both, with the same values),
    and its trainings' mean fit time."""
    fit_s: dict[tuple, list[float]] = {}
    for t in summary["trials"]:
        fit_s.setdefault(tuple(t[k] for k in SETTING), []).append(t["fit_time_s"])
    table: dict[tuple, dict[str, Any]] = {}
    for r in summary["rows"]:
        key = tuple(r[k] for k in SETTING)
        row = table.setdefault(key, {**{k: r[k] for k in SETTING}, "n_folds": r["n_folds"],
                                     "mean": {}, "std": {},
                                     "fit_time_s": statistics.fmean(fit_s[key])})
        row["mean"][r["epochs"]], row["std"][r["epochs"]] = r["mean"], r["std"]
    return [table[key] for key in sorted(table)]


def _setting(row: dict[str, Any]) -> str:
    return (f"{row['n_conv_layers']} | {row['batch_size']} | {row['leaky_alpha']:g} | "
            f"{row['learning_rate']:g}")


def _workers(cfg: dict[str, Any]) -> str:
    n = 1 if cfg["executor"] == "serial" else cfg["n_workers"]
    return f"{n} worker{'s' if n > 1 else ''}"


def render(summary: dict[str, Any]) -> str:
    metrics = summary["metrics"]
    grid = metrics["grid_search"]
    best = grid["best_params"]
    cfg = metrics["provenance"]["config"]
    cpu = metrics["provenance"].get("cpu") or {}
    rows = settings(summary)
    epochs = sorted(rows[0]["mean"])
    finals = {k: metrics[k]["final_training"]["fit_time_s"] for k in KIND_LABELS if k in metrics}
    fit_h = sum(t["fit_time_s"] for t in summary["trials"]) / 3600
    start, end = markers()
    lines = [start, *cnn_lines(metrics), "",
             f"Machine: {cpu.get('brand') or 'not recorded'} "
             f"(`{cpu.get('microarchitecture') or '?'}`), "
             f"torch {metrics['provenance']['versions'].get('torch', '?')}, "
             f"{_workers(cfg)} of {cfg['threads']} thread each. The grid search: "
             f"{len(summary['trials'])} trainings ({grid['epochs_trained']} epochs), "
             f"{fit_h:.1f} h of fit time summed over them; the final models "
             + ", ".join(f"{KIND_LABELS[k]} {v / 60:.1f} min" for k, v in finals.items())
             + f". Its choice: {best['n_conv_layers']} convolution layer(s), "
             f"batch {best['batch_size']}, {best['epochs']} epochs, α {best['leaky_alpha']:g}, "
             f"learning rate {best['learning_rate']:g}: cross-validated {summary['scoring']} "
             f"{grid['best_score']:.3f}.", "",
             f"Cross-validated {summary['scoring']} of every setting (mean ± s.d. over "
             f"{rows[0]['n_folds']} folds) after each number of epochs, and its mean fit time "
             "per training:", "",
             "| layers | batch | α | learning rate | " + " | ".join(f"{e} epochs" for e in epochs)
             + " | fit time |",
             "|---|---|---|---|" + "---|" * len(epochs) + "---|"]
    for row in rows:
        chosen = all(row[k] == best[k] for k in SETTING)
        cells = [f"{row['mean'][e]:.3f} ± {row['std'][e]:.3f}" for e in epochs]
        if chosen:
            cells[epochs.index(best["epochs"])] = f"**{cells[epochs.index(best['epochs'])]}**"
        lines.append(f"| {_setting(row)} | " + " | ".join(cells) + f" | {row['fit_time_s']:.0f} s |")
    lines.append(end)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path,
                        help="the output folder of `wimpsift reproduce cnn --scale paper`")
    parser.add_argument("--from-summary", type=Path, help="render a written summary instead")
    parser.add_argument("--summary", type=Path, help="write the summary (JSON) here")
    parser.add_argument("--write", type=Path, metavar="MARKDOWN",
                        help=f"replace the {NAME} block in this file")
    args = parser.parse_args(argv)
    if (args.out is None) == (args.from_summary is None):
        print("cnn_paper_results: error: out, --from-summary: expected exactly one",
              file=sys.stderr)
        return 2
    source = f"--from-summary {args.from_summary}" if args.from_summary else f"out {args.out}"
    try:
        summary = (json.loads(args.from_summary.read_text()) if args.from_summary
                   else summarise(args.out))
        block = render(summary)
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(f"cnn_paper_results: error: {source}: expected a paper-scale run's folder or "
              f"summary: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    try:
        text = args.write.read_text() if args.write else None
        if text is not None:
            text = replace_block(text, NAME, block, SCRIPT)
    except (OSError, ValueError) as err:
        print(f"cnn_paper_results: error: --write {args.write}: {err}", file=sys.stderr)
        return 2
    if args.summary:
        write_json(args.summary, summary)
    if text is None:
        print(block)
    else:
        with atomic_path(args.write) as tmp:
            tmp.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
