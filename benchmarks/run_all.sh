#!/usr/bin/env bash
# Every benchmark, one after the other (they need the machine to themselves), then the trained
# benchmark runs exported to the zoo's shelf (exports/) with int8 copies.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
$py benchmarks/train_speed.py
$py benchmarks/accuracy.py "$@"
for name in sine mnist1d fashion reber rain video dates caption; do
  [ -f runs/bench-$name/model.safetensors ] || continue
  .venv/bin/rnnzoo export runs/bench-$name --out exports/$name --quantize int8 --format ort --json > /dev/null
done
$py benchmarks/runtime_speed.py
$py benchmarks/runtimes_speed.py
$py scripts/runtimes_table.py
$py benchmarks/decoding.py
