#!/usr/bin/env python3
"""Read a Tarn lake's evaluations without Tarn, the way a user would, and print row counts.

usage: peer_read.py LAKE_DIR   ->  {"duckdb": {"rows": N, "<cluster>": n, ...}, "polars": {...}}

DuckDB uses read_parquet(..., hive_partitioning=true); Polars uses scan_parquet(hive_partitioning=True).
"""
import json
import sys

import duckdb
import polars as pl

lake = sys.argv[1].rstrip("/")
glob = f"{lake}/evaluations/**/*.parquet"

out = {}
rows = duckdb.sql(f"select count(*) from read_parquet('{glob}', hive_partitioning=true)").fetchall()[0][0]
per = duckdb.sql(
    f"select cluster, count(*) from read_parquet('{glob}', hive_partitioning=true) group by cluster"
).fetchall()
out["duckdb"] = {"rows": rows, **{c: n for c, n in per}}

lf = pl.scan_parquet(glob, hive_partitioning=True)
out["polars"] = {
    "rows": lf.select(pl.len()).collect().item(),
    **{r["cluster"]: r["len"] for r in lf.group_by("cluster").len().collect().to_dicts()},
}
print(json.dumps(out))
