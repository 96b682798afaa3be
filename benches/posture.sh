#!/usr/bin/env bash
# The posture query benchmark in one command: builds tarn and the bench (release), then runs it.
#   benches/posture.sh [--fleet s|xs] [--reps 5] [--dir DIR] [--history10x] [--no-peers] [--ballista]
# Peers need Python with duckdb and polars (pip install duckdb polars).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p tarn-cli -p tarn-benches --bin tarn --bin posture --bin probe
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/posture" "$@"
