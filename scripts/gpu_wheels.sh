#!/usr/bin/env bash
# Wheels for the lent GPU machine (docs/gpu.md): wimpsift's requirements that its image
# lacks, at the versions installed here, for its Python 3.12 on x86-64, into .whl/ (which
# git ignores through .git/info/exclude). The image holds IMAGE_PACKAGES and the libraries
# they need (the device library's package list, read 2026-11-17); PACKAGES is the rest of
# wimpsift's requirements and of theirs, about 45 MB (tests/docs/test_gpu_wheels.py checks
# that nothing is missing).
#
#   bash scripts/gpu_wheels.sh        # from the repository root, wimpsift installed here
#
# PY_VERSION (default 3.12) and WHEELS (default .whl) fetch the same set for another
# Python elsewhere: with 3.11, a check here that the list is complete (docs/gpu.md).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
IMAGE_PACKAGES="torch numpy scipy pandas pyarrow scikit-learn matplotlib h5py jinja2 tqdm
psutil threadpoolctl click msgpack pyyaml sortedcontainers toolz"
PACKAGES="annotated-types archspec awkward awkward-cpp boltons boost-histogram dask dask-jobqueue
distributed hist histoprint iminuit importlib-metadata lazy-importer locket nestpy
numericalunits partd pydantic pydantic-core tblib tornado typing-extensions
typing-inspection tzdata uhi wimprates xe-likelihood zict"
PYTHON=${PYTHON:-python}
PY_VERSION=${PY_VERSION:-3.12}
WHEELS=${WHEELS:-.whl}
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
pins=()
for name in $PACKAGES; do
    version=$("$PYTHON" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$name") || {
        echo "gpu_wheels: $name is not installed here; install wimpsift first" >&2; exit 2; }
    pins+=("$name==$version")
done
platforms=()
for tag in manylinux_2_{17,24,27,28,31,34,35} manylinux2014 manylinux2010 manylinux1; do
    platforms+=(--platform "${tag}_x86_64")
done
rm -rf "$WHEELS.partial"
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" \
    --implementation cp "${platforms[@]}" -d "$WHEELS.partial" "${pins[@]}"
rm -rf "$WHEELS"
mv "$WHEELS.partial" "$WHEELS"
echo "gpu_wheels: $(ls "$WHEELS" | wc -l) wheels, $(du -sh "$WHEELS" | cut -f1) in $WHEELS/"
