"""Wall time of CNN trainings still to run, from the trainings already measured, for the
progress estimates of long runs (:class:`wimpsift.pipelines.stages.StagePlan`).

The grid search's trainings run ``parallel`` at a time, and each of its three stages
waits for its last training before the next stage can choose its settings, so a stage
of ``k`` trainings takes ``ceil(k / parallel)`` rounds, not ``k / parallel``: the quick
grid's 12 trainings (6, 3 and 3 per stage) take 7 rounds on two workers, not 6 (measured
on two cores: 158 s of stage for 12 trainings of 21.8 s mean fit time, where 6 rounds
make 131 s and 7 make 153 s; on 2026-12-06, 166 s with its figures for 22.3 s, 7 rounds
156 s). :func:`search_left_s` counts the rounds of every stage not finished. Its
round lasts the mean fit time of the finished trainings of the settings the later stages
train (stage 1's (layers, batch) choice), which the search measures as it goes and reads
back for the trainings found in its cache. A training that continues a checkpoint counts
with the share of its epochs still to run, from the moment it is submitted. Replayed on
the paper-scale restart of 2026-12-05 (the α stage's last training continuing its
checkpoint of 35 of 60 epochs, six trainings of the learning-rate stage to go, then the
final models: 65.3 and 21.8 min, 87.1 in all), the grid and final models end at 87.2 min
by the estimate as that training is submitted (98.3 min counting it whole, as this module
did before), at 86.2 min by the one at the learning-rate stage's start and at 87.9 min
by the one at the grid's end (the estimate before this module, the pace and the rescaled
final models, had the whole run of 87.3 min end at 101.9 min 46 min in, and at 99.8 min
at the grid's end). Live, a serial quick grid (12 trainings of about 13 s on noise
images, a checkpoint after every epoch) stopped after 6 of 12 epochs of its third
training and resumed: its end was put at 124.6 s as that training was submitted, 131.2 s
counting it whole, and came at 120.9 s (2026-12-06).

The final models train the chosen settings for the chosen epoch count on the
(1 - f):f split of all training events, and score their validation part after every epoch;
a grid training trains ``max(epochs)`` epochs on ``(k - 1) / k`` of them and scores its
fold at the grid's epochs only. :func:`final_models_s` scales a grid training's measured
time by the images each passes through, a scored image costing
:data:`SCORED_IMAGE_COST` of a trained one. The paper-scale run (two
workers, 3 layers, batch 300, 30 of 60 epochs, grid trainings of 1,136 s mean) estimates
672 s per final model, 22.6 min for the three with the test: they took 685, 600 and 684 s,
21.8 min; the estimate before, the final models' nominal share rescaled by the grid's
pace, said 34.3 min. At the quick scale (1,000 events per class, 12 epochs) it said 52 s
for 62: models of 25, 22 and 23 s, and about 10 s of starting two workers, saving the
models and drawing their figures, which it leaves out.

Hand-written: a model of this package's own schedule, which no library describes.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

#: a scored image's cost (forward pass) over a trained one's (forward and backward
#: passes and the optimiser step): the usual rule that a backward pass costs about two
#: forward passes
SCORED_IMAGE_COST = 1.0 / 3.0


@dataclass(frozen=True)
class SearchProgress:
    """What the exhaustive grid search reports after each distinct training finished."""

    done: int
    """distinct trainings finished, read from the cache or trained in this run"""
    total: int
    """distinct trainings of the whole search"""
    found: float
    """of ``done``, the trainings' worth done before this run (read from the cache, or
    the share of its epochs a training continued from a checkpoint)"""
    parallel: int
    """trainings running at once"""
    left_s: float | None
    """wall seconds the trainings not finished need (:func:`search_left_s`); None before
    any training's fit time is known"""
    training_s: float | None
    """mean fit time of one training of the settings the later stages train (all
    finished trainings' while stage 1 runs); None before any is known"""
    epochs: int | None
    """the epoch count stage 1 chose, once it has"""


def search_left_s(sizes: Sequence[int], stage: int, finished: int, parallel: int,
                  training_s: float, head_starts: Sequence[float] = ()) -> float:
    """Wall seconds a staged search still needs: ``sizes[stage] - finished`` trainings
    of the running stage and all of each later stage's, each stage in
    ``ceil(trainings / parallel)`` rounds of ``training_s`` seconds.

    ``head_starts``: of the running stage's trainings left, those that continue a
    checkpoint, the share of each done before. The running stage then lasts as long as
    its busiest worker when its trainings' rests go, longest first, each to the least
    loaded of ``parallel`` workers (for rests all whole, the ``ceil`` above).

    >>> round(search_left_s([6, 3, 3], 0, 0, 2, 21.8), 1)  # the quick grid: 3 + 2 + 2 rounds
    152.6
    >>> round(search_left_s([27, 9, 6], 1, 8, 2, 1.0, head_starts=[35 / 60]), 3)
    3.417
    """
    left = sizes[stage] - finished if 0 <= stage < len(sizes) else -1
    if not 0 <= left <= sizes[stage] or parallel < 1 or len(head_starts) > left:
        raise ValueError(f"search_left_s: got stage={stage}, finished={finished}, "
                         f"parallel={parallel}, {len(head_starts)} head starts for sizes "
                         f"{list(sizes)}, expected a stage of sizes, finished within it, "
                         "parallel >= 1 and no more head starts than trainings left")
    if not all(0 <= h < 1 for h in head_starts):
        raise ValueError(f"search_left_s: got head_starts={list(head_starts)}, expected "
                         "shares in [0, 1)")
    rests = sorted([1.0 - h for h in head_starts] + [1.0] * (left - len(head_starts)),
                   reverse=True)
    loads = [0.0] * parallel
    for rest in rests:
        heapq.heapreplace(loads, loads[0] + rest)
    later = sum(math.ceil(k / parallel) for k in sizes[stage + 1:])
    return training_s * (max(loads) + later)


def final_models_s(*, training_s: float, grid_epochs: Sequence[int], n_splits: int,
                   n_images: int, epochs: int, validation_fraction: float, n_models: int,
                   n_test_images: int, parallel: int) -> float:
    """Wall seconds of ``n_models`` final models (``ceil(n_models / parallel)`` rounds)
    and of scoring ``n_test_images`` with each, from ``training_s``, a grid training's
    time on the same ``n_images`` training images (module docstring)."""
    if training_s <= 0 or n_images < 1 or epochs < 1 or n_models < 1 or parallel < 1:
        raise ValueError(f"final_models_s: got training_s={training_s}, n_images={n_images}, "
                         f"epochs={epochs}, n_models={n_models}, parallel={parallel}, "
                         "expected positive values")
    fold = n_images / n_splits
    per_image_s = training_s / (max(grid_epochs) * (n_images - fold)
                                + len(grid_epochs) * fold * SCORED_IMAGE_COST)
    validation = n_images * validation_fraction
    one_s = per_image_s * epochs * (n_images - validation + validation * SCORED_IMAGE_COST)
    test_s = per_image_s * SCORED_IMAGE_COST * n_test_images * n_models
    return math.ceil(n_models / min(parallel, n_models)) * one_s + test_s
