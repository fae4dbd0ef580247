"""``wimpsift images`` (build an image dataset) and ``wimpsift show`` (one event as PNG)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wimpsift.cli import load_detector_option, options, seed
from wimpsift.errors import ConfigError, DataError, bad_value, renamed

# the dataset configuration's fields as the options spell them, for error messages
_OPTIONS = options("detector", "signal", "background", "events_per_class", "kinds", "selection",
                   "chunk_events", "seed", "instructions", "label", shapes="--shape")
# the processing settings' fields that --positions and --position-model set
_POSITION_OPTIONS = options(xy_method="--positions", xy_model_path="--position-model")

DATASET_NAME = "images.h5"


def _shape(text: str) -> tuple[str, tuple[int, int]]:
    """``kind=HxW`` → (kind, (H, W)), checked as the image settings check it."""
    from wimpsift.images.raster import image_settings

    kind, sep, size = text.partition("=")
    h, x, w = size.lower().partition("x")
    try:
        if not sep or not x:
            raise ValueError
        shape = kind.strip(), (int(h), int(w))
    except ValueError:
        raise bad_value("--shape", text, "KIND=HEIGHTxWIDTH, e.g. hitpeak=75x75") from None
    try:
        image_settings(dict([shape]))
    except ConfigError as err:  # "<kinds or shapes[kind]>: got ..., expected ..."
        raise bad_value("--shape", text, str(err).partition(", expected ")[2] or str(err)) from None
    return shape


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("images", help="simulate events and write hit/peak/hitpeak images")
    p.add_argument("--detector", "-d", default="xenon1t_sr0", help="shipped detector name or TOML path")
    p.add_argument("--signal", help="signal source, e.g. wimp:500 (label 1; default wimp:500); "
                   "not with --instructions")
    p.add_argument("--background", help="background source (label 0; default er); not with "
                   "--instructions")
    p.add_argument("--events-per-class", type=int,
                   help="events per class to simulate (required unless --instructions)")
    p.add_argument("--instructions", metavar="FILE.csv",
                   help="take the events from this instruction CSV (one event per instruction "
                        "number) instead of simulating --signal and --background")
    p.add_argument("--label", type=int, choices=(0, 1),
                   help="label of every instruction event when the file has no label column")
    p.add_argument("--kinds", default="hit,peak,hitpeak", help="comma-separated image kinds")
    p.add_argument("--shape", action="append", default=[], metavar="KIND=HxW",
                   help="image size (height x width), e.g. hitpeak=75x75; repeatable")
    p.add_argument("--selection",
                   help="window (default), threshold or none; not with --instructions, "
                        "which keeps every event")
    p.add_argument("--chunk-events", type=int, default=256, help="events per class per chunk")
    p.add_argument("--execution", default=None, metavar="FILE",
                   help="TOML or JSON file with where the chunks are simulated: backend "
                        "in_process|local|scheduler|jobqueue (n_workers, a [jobqueue] section "
                        "for Slurm/HTCondor/PBS); the dataset does not depend on it")
    p.add_argument("--peak-secondary-s2", action="store_true",
                   help="peak/hitpeak images get a third panel, the whole event's waveform, "
                        "where secondary S2s show beside the main S2")
    p.add_argument("--examples", type=int, default=0, help="also write N example PNGs per kind")
    p.add_argument("--positions", choices=("likelihood", "cnn"), default="likelihood",
                   help="(x, y) reconstruction in processing: the likelihood fit or a position "
                        "CNN (needs --position-model)")
    p.add_argument("--position-model", metavar="FILE.pt",
                   help="network written by 'wimpsift positions train' (with --positions cnn)")
    p.add_argument("--seed", type=seed, required=True)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("-o", "--output", required=True,
                   help=f"output directory (the dataset is DIR/{DATASET_NAME}; reruns resume)")
    p.set_defaults(func=_images, output_spec={"folder": True})

    s = subparsers.add_parser("show", help="draw one event: full labelled figure or a network image")
    s.add_argument("--detector", "-d", default="xenon1t_sr0")
    s.add_argument("--source", default="wimp:500", help="source to simulate, e.g. wimp:500 or er")
    s.add_argument("--seed", type=seed, default=0)
    s.add_argument("--event", type=int, default=0, help="event number (simulated or dataset row)")
    s.add_argument("--kind", default="figure",
                   help="figure (PaX-like display), hit, peak, hitpeak or event (the whole waveform)")
    s.add_argument("--dataset", help="take the image from this dataset file instead of simulating")
    s.add_argument("--instructions", metavar="FILE.csv",
                   help="draw instruction number --event of this instruction CSV instead of "
                        "simulating --source (same pulses as 'images --instructions' with the "
                        "same seed and chunk size)")
    s.add_argument("--chunk-events", type=int, default=256,
                   help="with --instructions: events per chunk of the dataset to match")
    s.add_argument("--scale", type=int, default=4, help="pixel enlargement of network images")
    s.add_argument("-o", "--output", required=True, help="output .png")
    s.set_defaults(func=_show, output_spec={"suffixes": (".png",)})


def _processing(args: argparse.Namespace):
    """Processing settings of ``--positions``; a CNN file is read and checked first."""
    from wimpsift.processing.reconstruction import ProcessingSettings

    if args.positions == "likelihood":  # a --position-model is refused, naming it
        return ProcessingSettings.from_options(_POSITION_OPTIONS, xy_method=args.positions,
                                               xy_model_path=args.position_model)
    if not args.position_model:
        raise ConfigError("--position-model: required with --positions cnn")
    from wimpsift.detectors.pmt_arrays import pmt_arrays
    from wimpsift.training.position import load_position_model, same_layout

    model = load_position_model(args.position_model, "--position-model")
    arrays = pmt_arrays(load_detector_option(args.detector))
    if not same_layout(model.arrays, arrays):
        raise ConfigError(f"--position-model: trained for another PMT layout "
                          f"({model.arrays.n_top} + {model.arrays.n_bottom} PMTs), expected the "
                          f"detector's ({arrays.n_top} + {arrays.n_bottom})")
    return ProcessingSettings(xy_method="cnn", xy_model_path=Path(args.position_model))


def _images(args: argparse.Namespace) -> int:
    try:
        return _build_images(args)
    except (ConfigError, DataError) as err:  # the dataset's checks and the instruction
        # reader name their fields; the user typed options
        raise renamed(err, _OPTIONS) from None


def _build_images(args: argparse.Namespace) -> int:
    from wimpsift.images.dataset import build_image_dataset

    out = Path(args.output)
    if args.examples < 0:
        raise bad_value("--examples", args.examples, "a non-negative number")
    processing = _processing(args)
    shapes = dict(_shape(text) for text in args.shape)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unused = [kind for kind in shapes if kind not in kinds]
    if unused:  # a size for images that are not made would be ignored without a word
        raise ConfigError(f"--shape: {unused[0]!r} images are not made (--kinds "
                          f"{','.join(kinds)}); add the kind to --kinds or drop its --shape")
    if args.peak_secondary_s2 and not {"peak", "hitpeak"} & set(kinds):  # it would be ignored
        raise ConfigError(f"--peak-secondary-s2: only for peak and hitpeak images (--kinds "
                          f"{','.join(kinds)}); add one of them to --kinds or drop the option")
    if args.instructions:
        if args.execution:
            raise ConfigError("--execution: only for simulated sources, not with --instructions")
        return _images_from_instructions(args, out, kinds, shapes, processing)
    if args.label is not None:
        raise ConfigError("--label: only with --instructions (simulated signal is 1, "
                          "background 0)")
    if args.events_per_class is None:
        raise ConfigError("--events-per-class: required unless --instructions is given")
    selection = args.selection or "window"
    from wimpsift.execution import load_execution_config
    from wimpsift.images.dataset import ImageDatasetConfig, make_config

    fields = ImageDatasetConfig.model_fields
    signal = fields["signal"].default if args.signal is None else args.signal
    background = fields["background"].default if args.background is None else args.background
    scaling = {"peak_secondary_s2": True} if args.peak_secondary_s2 else None
    make_config(args.detector, signal, background, args.events_per_class, kinds,
                args.seed, shapes or None, selection, args.chunk_events,
                processing=processing, scaling=scaling)  # validate first
    execution = (load_execution_config(args.execution, "--execution") if args.execution
                 else None)
    out.mkdir(parents=True, exist_ok=True)
    path = build_image_dataset(
        out / DATASET_NAME, args.detector, signal=signal, background=background,
        events_per_class=args.events_per_class, kinds=kinds, seed=args.seed,
        shapes=shapes or None, progress=not args.no_progress, chunk_events=args.chunk_events,
        selection=selection, processing=processing, scaling=scaling, execution=execution,
    )
    _write_examples(args, out, path, kinds, 2 * args.events_per_class)
    return 0


def _images_from_instructions(args: argparse.Namespace, out: Path, kinds: list[str],
                              shapes: dict, processing) -> int:
    from wimpsift.images.instruction_dataset import build_instruction_dataset, read_instruction_events

    for option, value in (("--events-per-class", args.events_per_class),
                          ("--selection", args.selection)):
        if value is not None:
            raise ConfigError(f"{option}: not with --instructions (every instruction becomes "
                              "one event)")
    for option, value in (("--signal", args.signal), ("--background", args.background)):
        if value is not None:
            raise ConfigError(f"{option}: not with --instructions (the events come from the "
                              "file; its label column or --label says which are signal)")
    from wimpsift.images.raster import check_kinds, image_settings

    check_kinds(kinds)
    scaling = {"peak_secondary_s2": True} if args.peak_secondary_s2 else None
    image_settings(shapes or None, **(scaling or {}))
    for option, value, low in (("--seed", args.seed, 0), ("--chunk-events", args.chunk_events, 1)):
        if value < low:
            raise bad_value(option, value, f"an integer of at least {low}")
    detector = load_detector_option(args.detector)
    _, numbers, _ = read_instruction_events(args.instructions, detector, args.label)  # validate
    out.mkdir(parents=True, exist_ok=True)
    path = build_instruction_dataset(
        out / DATASET_NAME, detector, args.instructions, label=args.label, kinds=kinds,
        seed=args.seed, shapes=shapes or None, progress=not args.no_progress,
        chunk_events=args.chunk_events, processing=processing, scaling=scaling,
    )
    _write_examples(args, out, path, kinds, int(numbers.size))
    return 0


def _write_examples(args: argparse.Namespace, out: Path, path: Path, kinds: list[str],
                    n_events: int) -> None:
    from wimpsift.images.dataset import dataset_provenance, load_images
    from wimpsift.images.png import save_png

    written = []
    record = dataset_provenance(path) if args.examples else None  # the examples carry it too
    for kind in kinds if args.examples else []:
        images, labels, _ = load_images(path, kind)
        for row in range(min(args.examples, len(labels))):
            name = f"{kind}_{row:03d}_{'signal' if labels[row] else 'background'}.png"
            written.append(str(save_png(images[row], out / name, provenance=record)))
    print(json.dumps({"dataset": str(path), "events": n_events,
                      "kinds": kinds, "examples": written}))


def _check_scale(image, scale: int) -> None:
    """The enlarged image (float32, and its 8-bit RGBA copy) must fit in memory."""
    from wimpsift.provenance import check_resources

    check_resources("--scale", memory_bytes=image.size * scale**2 * (4 + 4))


def _show(args: argparse.Namespace) -> int:
    from wimpsift.images.png import event_figure, save_png
    from wimpsift.images.raster import ALL_IMAGE_KINDS
    from wimpsift.provenance import provenance

    if args.kind not in ("figure", *ALL_IMAGE_KINDS):
        raise bad_value("--kind", args.kind, f"figure or one of {', '.join(ALL_IMAGE_KINDS)}")
    if args.event < 0:
        raise bad_value("--event", args.event, "a non-negative event number")
    if args.dataset and args.instructions:
        raise ConfigError("--instructions: not with --dataset (choose one event source)")
    if args.scale < 1:
        raise bad_value("--scale", args.scale, "a positive integer")
    if args.dataset:
        from wimpsift.images.dataset import load_images

        if args.kind == "figure":
            raise ConfigError("--kind: 'figure' needs a simulated event; drop --dataset")
        try:
            images, _, _ = load_images(args.dataset, args.kind)
        except DataError as err:
            raise renamed(err, {"dataset": "--dataset"}) from None
        if args.event >= len(images):
            raise bad_value("--event", args.event, f"a row in [0, {len(images)})")
        _check_scale(images[args.event], args.scale)
        record = provenance({"dataset": str(args.dataset), "kind": args.kind, "event": args.event,
                             "scale": args.scale}, None, "show")
        save_png(images[args.event], args.output, args.scale, record)
        print(args.output)
        return 0

    from wimpsift.detectors.pmt_arrays import pmt_arrays
    from wimpsift.images.dataset import parse_source
    from wimpsift.images.raster import render_images
    from wimpsift.processing.reconstruction import process_events
    from wimpsift.provenance import check_resources
    from wimpsift.waveforms.event import simulate_waveform_events

    detector = load_detector_option(args.detector)
    title = None
    if args.instructions:
        try:
            raw, index, title = _instruction_event(args, detector)
        except DataError as err:
            raise renamed(err, {"instructions": "--instructions"}) from None
    else:
        source = parse_source(detector, args.source, "--source")
        # events 0 .. --event are simulated; each holds its S1 and S2 hit patterns (float64)
        check_resources("--event", memory_bytes=(args.event + 1) * 2 * 8 * pmt_arrays(detector).n_pmts)
        raw = simulate_waveform_events(detector, source, args.event + 1, args.seed)
        index = args.event
    record = provenance({"detector": detector.model_dump(mode="json"), "source": args.source,
                         "instructions": args.instructions, "chunk_events": args.chunk_events,
                         "event": args.event, "kind": args.kind, "scale": args.scale},
                        args.seed, "show")
    if args.kind == "figure":
        event_figure(raw, index, args.output, title=title, provenance=record)
    else:
        images = render_images(process_events(raw), [args.kind])[args.kind]
        _check_scale(images[index], args.scale)
        save_png(images[index], args.output, args.scale, record)
    print(args.output)
    return 0


def _instruction_event(args: argparse.Namespace, detector):
    """Raw events of the chunk holding instruction ``--event``, its index, a title."""
    import numpy as np

    from wimpsift.images.instruction_dataset import instruction_chunk
    from wimpsift.io.instructions import instructions_to_interactions, read_instructions

    if args.seed < 0:
        raise bad_value("--seed", args.seed, "a non-negative integer")
    if args.chunk_events <= 0:
        raise bad_value("--chunk-events", args.chunk_events, "a positive integer")
    interactions, numbers = instructions_to_interactions(
        read_instructions(args.instructions, detector))
    row = int(np.searchsorted(numbers, args.event))
    if row >= numbers.size or numbers[row] != args.event:
        raise bad_value("--event", args.event,
                        f"an instruction number of {args.instructions!r} "
                        f"({numbers.size} from {numbers[0]} to {numbers[-1]})")
    chunk, index = divmod(row, args.chunk_events)
    raw = instruction_chunk(detector, interactions, numbers, chunk, args.chunk_events, args.seed)
    n_interactions = int(raw.truth["n_interactions"].iloc[index])
    title = (f"instruction {args.event} of {args.instructions}: {n_interactions} "
             f"interaction{'s' if n_interactions > 1 else ''}, "
             f"{int(raw.truth['n_photons'].iloc[index])} photons, "
             f"{int(raw.truth['n_electrons'].iloc[index])} electrons")
    return raw, index, title
