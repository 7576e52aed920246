#!/usr/bin/env bash
# The robustness and cost evaluation: builds bench_evaluate, runs it with the
# default configuration (every installed scheme on the demo CNN and MLP;
# about an hour on 2 cores) and regenerates docs/results.json,
# docs/results.md and the plots in docs/results/.
# usage: scripts/evaluate.sh [bench_evaluate flags...]   (see bench/evaluate.cc)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh bench_evaluate
build/bin/bench_evaluate --work build/evaluation --out docs/results.json "$@"
/usr/bin/python3 bench/report_results.py docs/results.json docs/results.md docs/results
echo "evaluate: wrote docs/results.md"
