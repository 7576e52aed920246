#!/usr/bin/env bash
# How fast tracemarkd answers GET /healthz while a release is embedding.
# Starts a daemon on temporary directories, publishes the demo CNN to five
# licensees with DeepMarks, and times 200 health checks (curl) during the
# embedding. Prints p50 / p99 / max in milliseconds.
# usage: bench/healthz_during_release.sh   (after scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=$ROOT/build/bin
DATA=/usr/share/datasets/fashion-mnist
WORK=$(mktemp -d /tmp/tracemark-bench-XXXXXX)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

mkdir -p "$WORK"/{registry,state,dist,inbox}
cat > "$WORK/config.json" <<JSON
{"registry_dir": "$WORK/registry", "state_dir": "$WORK/state", "dist_dir": "$WORK/dist",
 "inbox_dir": "$WORK/inbox", "listen": "127.0.0.1:0", "workers": 1}
JSON
"$BIN/tracemarkd" --config "$WORK/config.json" 2> "$WORK/daemon.log" &
PID=$!
for _ in $(seq 100); do
  PORT=$(grep -o 'msg=listening address=127.0.0.1:[0-9]*' "$WORK/daemon.log" | grep -o '[0-9]*$' || true)
  [[ -n $PORT ]] && break
  sleep 0.1
done

"$BIN/tracemark-lab" train --data "$DATA[0:30000]" --epochs 1 --out "$WORK/base.pt" > /dev/null
mkdir -p "$WORK/registry/fashion-cnn/1"
cp "$WORK/base.pt" "$WORK/registry/fashion-cnn/1/model.pt"
echo "{\"scheme\": \"deepmarks\", \"licensees\": [\"a\",\"b\",\"c\",\"d\",\"e\"], \"data\": \"$DATA[0:30000]\"}" \
  > "$WORK/registry/fashion-cnn/1/.release.json"
mv "$WORK/registry/fashion-cnn/1/.release.json" "$WORK/registry/fashion-cnn/1/release.json"

until grep -q 'msg="release planned"' "$WORK/daemon.log"; do sleep 0.05; done
for _ in $(seq 200); do
  curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/healthz"
  sleep 0.02
done > "$WORK/latency.txt"
embedding=$(grep -c 'msg="release done"' "$WORK/daemon.log" || true)
sort -n "$WORK/latency.txt" | awk -v done="$embedding" '
  { t[NR] = $1 * 1000 }
  END {
    printf "GET /healthz during a 5-licensee DeepMarks release: %d requests\n", NR
    printf "p50 %.2f ms   p99 %.2f ms   max %.2f ms\n", t[int(NR*0.5)], t[int(NR*0.99)], t[NR]
    if (done > 0) print "note: the release had finished before the last request"
  }'
