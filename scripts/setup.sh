#!/usr/bin/env bash
# Set up rnnzoo in ./.venv on a fresh machine: torch pinned to the CPU build 2.13.0 (a bare
# `pip install torch` may pull a CUDA build of several GB), rnnzoo itself and the MGU plugin,
# both editable. `--test` adds the test tools and, where apt-get is at hand, the Debian
# Fashion-MNIST files that some tests and the seqmnist task read.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="[mnist1d]"
if [ "${1:-}" = "--test" ]; then
  extras="[test]"  # includes mnist1d
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && ! [ -d /usr/share/datasets/fashion-mnist ]; then
    apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
      || echo "note: could not install dataset-fashion-mnist; tests on the real files will skip" >&2
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>/dev/null || true
.venv/bin/python -m pip install -q "torch==2.13.0" -e ".${extras}" -e plugins/rnnzoo-mgu
