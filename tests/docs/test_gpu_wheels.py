"""The wheels that ``scripts/gpu_wheels.sh`` carries to the lent GPU machine (docs/gpu.md)
cover every requirement of wimpsift that the machine's image lacks: each one, followed
through the installed packages' metadata, is either in the script's PACKAGES or needed by
one of its IMAGE_PACKAGES (which the image holds with their own requirements)."""

from __future__ import annotations

import importlib.metadata as metadata
import re

from packaging.requirements import Requirement

from tests._scripts import ROOT


def _listed(name: str) -> set[str]:
    text = (ROOT / "scripts" / "gpu_wheels.sh").read_text()
    found = re.search(rf'^{name}="([^"]*)"', text, flags=re.MULTILINE)
    assert found is not None, name
    return {_norm(p) for p in found.group(1).split()}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.lower())


def _closure(names: set[str], python_version: str = "3.12") -> set[str]:
    """``names`` and everything they require on Linux with ``python_version``, extras
    followed where a requirement asks for them."""
    seen: set[str] = set()
    todo = [(n, {""}) for n in names]
    while todo:
        name, extras = todo.pop()
        if _norm(name) in seen:
            continue
        seen.add(_norm(name))
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            env = {"python_version": python_version, "sys_platform": "linux",
                   "platform_system": "Linux"}
            if req.marker is not None and not any(
                    req.marker.evaluate({**env, "extra": e}) for e in extras):
                continue
            todo.append((req.name, {"", *req.extras}))
    return seen


def test_every_requirement_the_image_lacks_travels_as_a_wheel():
    image = _closure(_listed("IMAGE_PACKAGES"))
    needed = _closure({"wimpsift"}) - image - {"wimpsift"}
    assert needed - _listed("PACKAGES") == set()
