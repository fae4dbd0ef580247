"""Randomness: one root ``numpy.random.SeedSequence`` per run, named children per stage.

A run's integer ``seed`` is the entropy of its root sequence. Every stage, source,
mass, chunk, fold or attempt draws from a *child* of that root, addressed by a path
(``seed_sequence(seed, "samples", "wimp", 50.0, chunk)``). The child is the one
``SeedSequence.spawn`` would give: its ``spawn_key`` is the root's plus one integer per
path part. Integers are used as they are (part ``i`` is the ``i``-th spawned child);
names and non-integral numbers become integers through their exact UTF-8 bytes or
float hex form, so two different parts never collide and nothing depends on the order
in which children are asked for. A number that is an integer (``50`` or ``50.0``) gives
the same child, so a mass given either way gives the same sample.

No seed is made by arithmetic on another (``seed + index`` made two sources share a
stream; ``seed * 7919 + mass * 31`` can collide). Torch code takes a
``torch.Generator`` seeded from a child (:func:`torch_generator`), never the global one.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

SeedLike = int | np.random.SeedSequence
PathPart = str | int | float


def _part(part: PathPart) -> int:
    if isinstance(part, bool):
        raise TypeError(f"seed path part: got {part!r}, expected a name or a number")
    if isinstance(part, numbers.Integral) and int(part) >= 0:
        return int(part)
    if isinstance(part, numbers.Real):
        value = float(part)
        if math.isfinite(value) and value.is_integer() and value >= 0:
            return int(value)
        text = "float:" + value.hex()
    elif isinstance(part, str):
        text = "name:" + part
    else:
        raise TypeError(f"seed path part: got {part!r}, expected a name or a number")
    # a marker bit above the bytes keeps these apart from small integers
    data = text.encode()
    return int.from_bytes(data, "little") | (1 << (8 * len(data)))


def seed_sequence(seed: SeedLike, *path: PathPart) -> np.random.SeedSequence:
    """The child of ``seed``'s root sequence (or of a sequence) addressed by ``path``."""
    if isinstance(seed, np.random.SeedSequence):
        root = seed
    else:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
            raise TypeError(f"seed: got {seed!r}, expected a non-negative integer or a SeedSequence")
        root = np.random.SeedSequence(int(seed))
    if not path:
        return root
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, *map(_part, path)),
                                  pool_size=root.pool_size)


def generator(seed: SeedLike, *path: PathPart) -> np.random.Generator:
    """A numpy Generator on the child ``path`` of ``seed``."""
    return np.random.default_rng(seed_sequence(seed, *path))


def int_seed(seed: SeedLike, *path: PathPart) -> int:
    """A 31-bit integer from the child ``path``, for libraries that take an integer
    seed (NEST, torch.Generator.manual_seed)."""
    return int(seed_sequence(seed, *path).generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)


def torch_generator(seed: SeedLike, *path: PathPart, device: str | object = "cpu"):
    """A ``torch.Generator`` on ``device`` seeded from the child ``path`` (never the
    global one)."""
    import torch

    return torch.Generator(device=device).manual_seed(int_seed(seed, *path))
