#!/usr/bin/env bash
# make e2e: opens the demo's report in headless Chromium (Debian's chromium package),
# fails on any console error or failed load, and saves a screenshot beside the report.
set -euo pipefail
cd "$(dirname "$0")/.."
report=${1:-out/demo/report.html}
[ -f "$report" ] || { echo "e2e: $report not found: run make demo first" >&2; exit 1; }
./scripts/apt-install.sh chromium
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
log=$(mktemp)
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --enable-logging=stderr --v=0 --window-size=1200,1600 \
  --screenshot="${report%.html}.png" "file://$PWD/$report" 2>"$log" || { cat "$log" >&2; exit 1; }
if grep -E ':CONSOLE|Uncaught|Failed to load|net::ERR' "$log" | grep -viE 'dbus|GPU|viz' ; then
  echo "e2e: the report logged console errors (above)" >&2
  exit 1
fi
echo "e2e: $report opened without console errors; screenshot ${report%.html}.png"
