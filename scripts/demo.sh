#!/usr/bin/env bash
# The README's first command (via `make demo`): makes the mixed demo dataset from Debian
# packages and runs pipelines/demo.yaml on it with the shipped weights, then prints the
# demo's own accuracy figures. Re-running resumes; DEMO_RESTART=1 starts over.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"
data=data/demo
if [ ! -f "$data/truth.jsonl" ]; then
  echo "== making the demo dataset in $data (Fashion-MNIST, espeak-ng, fortunes)"
  go run ./tools/mkdemo -out "$data"
fi
args=()
[ "${DEMO_RESTART:-}" = 1 ] && args+=(--restart)
echo "== plexus validate pipelines/demo.yaml"
plexus validate pipelines/demo.yaml
echo "== plexus run pipelines/demo.yaml"
DATA="$data/items" plexus run "${args[@]}" pipelines/demo.yaml
echo "== results: out/demo/results.jsonl, dead letters: out/demo/errors.jsonl"
go run ./tools/demoreport -results out/demo/results.jsonl -truth "$data/truth.jsonl" -data "$data/items" -files out/demo/files -html out/demo/report.html
