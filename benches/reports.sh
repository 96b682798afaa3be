#!/usr/bin/env bash
# The report benchmark in one command: builds tarn and the bench (release), then runs it on a
# benchmark fleet (build one first with benches/posture.sh, e.g. --dir /tmp/tarn-bench).
#   benches/reports.sh [--lake DIR] [--framework cis-k8s] [--reps 3] [--no-peers]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p tarn-cli -p tarn-benches --bin tarn --bin reports --bin posture --bin probe --bin layout
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/reports" "$@"
