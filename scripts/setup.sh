#!/usr/bin/env bash
# Set up rnnzoo in ./.venv on a fresh machine: torch pinned to the CPU build 2.13.0 (a bare
# `pip install torch` may pull a CUDA build of several GB), rnnzoo itself and the cell plugins
# under plugins/, all editable. `--test` adds the test tools, the other runtimes exports are verified on
# (tract and OpenVINO from PyPI; onnxruntime-node and onnxruntime-web from npm, install
# scripts skipped: the CPU binaries are in the package) and, where apt-get is at hand, the
# Debian Fashion-MNIST files that some tests and the seqmnist task read, node and Chromium
# (the web page's test). What cannot be
# installed is said on one line; the tests that need it skip with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--chip" ]; then
  # the emulated Cortex-M runs (rnnzoo export --format c / micro, -m chip): Debian's Arm
  # toolchain, newlib and QEMU; what cannot be installed is said on one line (the tests skip)
  if command -v arm-none-eabi-gcc >/dev/null && command -v qemu-system-arm >/dev/null; then
    exit 0
  fi
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt_log=$(mktemp)
    { apt-get update -q && apt-get install -y -q gcc-arm-none-eabi libnewlib-arm-none-eabi \
        libstdc++-arm-none-eabi-newlib qemu-system-arm; } >"$apt_log" 2>&1 \
      || echo "note: could not install the Arm toolchain and QEMU ($(tail -1 "$apt_log")); the chip tests will skip" >&2
    rm -f "$apt_log"
  else
    echo "note: no apt-get as root here: install gcc-arm-none-eabi, libnewlib-arm-none-eabi, libstdc++-arm-none-eabi-newlib and qemu-system-arm; the chip tests will skip" >&2
  fi
  exit 0
fi
extras="[mnist1d]"
if [ "${1:-}" = "--test" ]; then
  extras="[test,runtimes]"  # test includes mnist1d
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    missing=""
    [ -d /usr/share/datasets/fashion-mnist ] || missing="$missing dataset-fashion-mnist"
    command -v node >/dev/null || missing="$missing nodejs npm"
    command -v chromium >/dev/null || missing="$missing chromium"  # the web page's test
    if [ -n "$missing" ]; then  # quiet on success; the reason on failure
      apt_log=$(mktemp)
      { apt-get update -q && apt-get install -y -q $missing; } >"$apt_log" 2>&1 \
        || echo "note: could not install$missing ($(grep -E '^(E|W):' "$apt_log" | tail -1 || tail -1 "$apt_log")); the tests that need them will skip" >&2
      rm -f "$apt_log"
    fi
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip 2>/dev/null || true
# quiet on success (the editable builds print setuptools banners); everything on failure
log=$(mktemp)
plugins=()
for plugin in plugins/rnnzoo-*/; do plugins+=(-e "$plugin"); done  # the cells that ship as plugins
if ! .venv/bin/python -m pip install -q "torch==2.13.0" -e ".${extras}" "${plugins[@]}" \
  >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
rm -f "$log"
if [ "${1:-}" = "--test" ]; then
  if command -v npm >/dev/null; then
    npm install -q --ignore-scripts --no-audit --no-fund >/dev/null 2>&1 \
      || echo "note: npm could not install onnxruntime-node/-web; those runtimes will skip" >&2
  else
    echo "note: no npm; onnxruntime-node and onnxruntime-web will skip" >&2
  fi
fi
