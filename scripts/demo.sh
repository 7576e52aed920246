#!/usr/bin/env bash
# The Tracemark demonstration, end to end on real data (Fashion-MNIST):
#   1. install what is missing and build;
#   2. train the demo CNN on the owner's half of the training set (cached);
#   3. release it to five licensees with DeepMarks fingerprints;
#   4. play an attacker who fine-tunes initech's copy for 2 epochs on data
#      the owner never used, and two licensees who average their copies;
#   5. trace both leaks and print the reports.
# Everything goes to ./demo-out (DEMO_DIR to change); a fresh key store each run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

scripts/install-deps.sh
# Only what the demonstration runs: the CLI, the lab tool (which plays the
# vendor's training and the attacker) and the scheme plugins.
scripts/build.sh tracemark_cli tracemark_lab_tool tracemark_scheme_deepmarks tracemark_scheme_uchida

TM="$ROOT/build/bin/tracemark"
LAB="$ROOT/build/bin/tracemark-lab"
DATA=/usr/share/datasets/fashion-mnist
OUT=${DEMO_DIR:-$ROOT/demo-out}
mkdir -p "$OUT/cache"
rm -rf "$OUT/state" "$OUT/dist" "$OUT/leaks"
export TRACEMARK_STATE="$OUT/state"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. The vendor's model: a CNN trained on Fashion-MNIST rows 0-29999"
BASE="$OUT/cache/fashion-cnn.pt"
if [[ -f $BASE ]]; then
  echo "reusing $BASE"
else
  "$LAB" train --data "$DATA[0:30000]" --epochs 2 --out "$BASE"
fi

step "2. Release version 1 to five licensees, each copy with its own DeepMarks fingerprint"
"$TM" release "$BASE" --name fashion-cnn --version 1 --scheme deepmarks \
  --licensees acme,globex,initech,umbrella,hooli --data "$DATA[0:30000]" --out "$OUT/dist"

step "3. An attacker fine-tunes initech's copy for 2 epochs on rows 30000-59999 (never seen by the vendor)"
mkdir -p "$OUT/leaks"
"$LAB" attack finetune "$OUT/dist/initech/fashion-cnn.pt" --data "$DATA[30000:60000]" \
  --epochs 2 --out "$OUT/leaks/finetuned.pt"

step "4. Trace the fine-tuned leak"
"$TM" trace "$OUT/leaks/finetuned.pt"

step "5. Two licensees average their copies to hide; trace that too"
"$LAB" attack average "$OUT/dist/acme/fashion-cnn.pt" "$OUT/dist/hooli/fashion-cnn.pt" \
  --out "$OUT/leaks/averaged.pt" --data "$DATA"
"$TM" trace "$OUT/leaks/averaged.pt"

step "Done. Key store: $OUT/state/keystore.db; copies under $OUT/dist"
