#!/usr/bin/env python3
"""The posture benchmark's questions answered by DuckDB and Polars on a Tarn lake's Hive layout.

usage: posture_peers.py PARAMS_JSON
PARAMS_JSON: {"lake": DIR, "reps": N, "cluster": C, "t": ISO, "t1": ISO, "t2": ISO,
              "q4_from": ISO, "q4_to": ISO, "control": ID, "namespace": NS, "engines": ["duckdb", "polars"]}

Prints one JSON object: {engine: {question: {"median_s": x, "runs": [...], "answer": summary}}}.
Each engine reads evaluations/cluster=*/date=*/*.parquet the way a user would: DuckDB with
read_parquet(..., hive_partitioning=true), Polars with scan_parquet(hive_partitioning=True). The
answers are summarized (row counts, rounded sums) so the caller can check all engines agree.
"""
import json
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

import duckdb
import polars as pl

P = json.loads(sys.argv[1])
LAKE = P["lake"].rstrip("/")
GLOB = f"{LAKE}/evaluations/**/*.parquet"
REPS = int(P.get("reps", 3))

RANK = "max(case status when 'error' then 4 when 'fail' then 3 when 'warn' then 2 when 'pass' then 1 else 0 end)"


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def day(s):
    return ts(s).strftime("%Y-%m-%d")


def dday(s):
    """A partition date for Polars, which types the hive `date` column as a date."""
    return ts(s).date()


def timed(fn):
    fn()  # warm-up: metadata caches, page cache
    runs, answer = [], None
    for _ in range(REPS):
        t0 = time.perf_counter()
        answer = fn()
        runs.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(runs), "runs": runs, "answer": answer}


# --------------------------------------------------------------------------------------- DuckDB
def duck_questions():
    con = duckdb.connect()
    ev = f"read_parquet('{GLOB}', hive_partitioning=true)"
    c, t, t1, t2 = P["cluster"], P["t"], P["t1"], P["t2"]

    def q1():
        rows = con.sql(f"""
            select namespace, workload_kind, workload_name, container, framework, control_id
            from {ev} where cluster = '{c}' and date <= '{day(t)}' and status = 'fail' and snapshot_id = (
                select snapshot_id from {ev} where cluster = '{c}' and date <= '{day(t)}'
                  and observed_at <= TIMESTAMPTZ '{t}' order by observed_at desc limit 1)""").fetchall()
        return {"rows": len(rows)}

    def posture(at):
        return f"""
            latest_{at[:13].replace('-', '').replace('T', '')} as (
              select cluster, max(observed_at) as t from {ev}
              where observed_at <= TIMESTAMPTZ '{at}' and date <= '{day(at)}' group by cluster)"""

    def resources(at, name):
        tag = at[:13].replace('-', '').replace('T', '')
        return f"""
            {name} as (
              select e.cluster, e.framework, e.control_id, e.namespace, e.workload_kind, e.workload_name, {RANK} as w
              from {ev} e join latest_{tag} l on e.cluster = l.cluster and e.observed_at = l.t
              where e.date <= '{day(at)}'
              group by all)"""

    def q2():
        rows = con.sql(f"""
            with {posture(t)}, {resources(t, 'res')},
            ctl as (select cluster, framework, control_id,
                      sum(case when w = 1 then 1 else 0 end) * 100.0 / nullif(sum(case when w >= 1 then 1 else 0 end), 0) as pct
                    from res group by all)
            select cluster, framework, avg(pct) from ctl group by all order by 1, 2""").fetchall()
        return {"rows": len(rows), "pct_sum": round(sum(r[2] or 0 for r in rows), 3)}

    def q3():
        rows = con.sql(f"""
            with last as (select cluster, date, max(observed_at) as t from {ev} group by all),
            res as (select e.date, e.framework, e.control_id, e.cluster, e.namespace, e.workload_kind, e.workload_name, {RANK} as w
                    from {ev} e join last l on e.cluster = l.cluster and e.date = l.date and e.observed_at = l.t group by all),
            ctl as (select date, framework, control_id,
                      sum(case when w = 1 then 1 else 0 end) * 100.0 / nullif(sum(case when w >= 1 then 1 else 0 end), 0) as pct
                    from res group by all)
            select date, framework, avg(pct) from ctl group by all order by 1, 2""").fetchall()
        return {"rows": len(rows), "pct_sum": round(sum(r[2] or 0 for r in rows), 3)}

    def q4():
        rows = con.sql(f"""
            select cluster, observed_at, workload_name, status, snapshot_id from {ev}
            where control_id = '{P['control']}' and namespace = '{P['namespace']}'
              and date between '{day(P['q4_from'])}' and '{day(P['q4_to'])}'
              and observed_at between TIMESTAMPTZ '{P['q4_from']}' and TIMESTAMPTZ '{P['q4_to']}'""").fetchall()
        return {"rows": len(rows)}

    def q5():
        rows = con.sql(f"""
            with {posture(t1)}, {posture(t2)}, {resources(t1, 'a')}, {resources(t2, 'b')}
            select case when coalesce(a.w, 0) >= 3 and coalesce(b.w, 0) >= 3 then 'still_failing'
                        when coalesce(a.w, 0) >= 3 and b.w is null then 'gone'
                        when coalesce(a.w, 0) >= 3 then 'fixed'
                        when coalesce(b.w, 0) >= 3 then 'new' end as change, count(*)
            from a full outer join b using (cluster, framework, control_id, namespace, workload_kind, workload_name)
            where coalesce(a.w, 0) >= 3 or coalesce(b.w, 0) >= 3
            group by 1 order by 1""").fetchall()
        return {r[0]: r[1] for r in rows}

    return {"Q1": q1, "Q2": q2, "Q3": q3, "Q4": q4, "Q5": q5}


# --------------------------------------------------------------------------------------- Polars
def polars_questions():
    lf = pl.scan_parquet(GLOB, hive_partitioning=True)
    c = P["cluster"]
    rank = (pl.when(pl.col("status") == "error").then(4).when(pl.col("status") == "fail").then(3)
            .when(pl.col("status") == "warn").then(2).when(pl.col("status") == "pass").then(1).otherwise(0))
    res_keys = ["cluster", "framework", "control_id", "namespace", "workload_kind", "workload_name"]

    def score(res, by):
        ctl = res.group_by(by + ["control_id"]).agg(
            ((pl.col("w") == 1).sum() * 100.0 / (pl.col("w") >= 1).sum()).alias("pct"))
        return ctl.group_by(by).agg(pl.col("pct").mean())

    def q1():
        t = ts(P["t"])
        mine = lf.filter((pl.col("cluster") == c) & (pl.col("date") <= dday(P["t"])) & (pl.col("observed_at") <= t))
        sid = mine.sort("observed_at", descending=True).select("snapshot_id").head(1).collect().item()
        rows = mine.filter((pl.col("snapshot_id") == sid) & (pl.col("status") == "fail")).collect()
        return {"rows": rows.height}

    def q2():
        t = ts(P["t"])
        before = lf.filter((pl.col("date") <= dday(P["t"])) & (pl.col("observed_at") <= t))
        latest = before.group_by("cluster").agg(pl.col("observed_at").max())
        rows = before.join(latest, on=["cluster", "observed_at"])
        res = rows.group_by(res_keys).agg(rank.max().alias("w"))
        out = score(res, ["cluster", "framework"]).collect()
        return {"rows": out.height, "pct_sum": round(out["pct"].sum(), 3)}

    def q3():
        last = lf.group_by(["cluster", "date"]).agg(pl.col("observed_at").max())
        rows = lf.join(last, on=["cluster", "date", "observed_at"])
        res = rows.group_by(res_keys + ["date"]).agg(rank.max().alias("w"))
        out = score(res, ["date", "framework"]).collect()
        return {"rows": out.height, "pct_sum": round(out["pct"].sum(), 3)}

    def q4():
        a, b = ts(P["q4_from"]), ts(P["q4_to"])
        out = lf.filter((pl.col("control_id") == P["control"]) & (pl.col("namespace") == P["namespace"])
                        & (pl.col("date") >= dday(P["q4_from"])) & (pl.col("date") <= dday(P["q4_to"]))
                        & (pl.col("observed_at") >= a) & (pl.col("observed_at") <= b)).collect()
        return {"rows": out.height}

    return {"Q1": q1, "Q2": q2, "Q3": q3, "Q4": q4}


out = {}
for engine in P.get("engines", ["duckdb", "polars"]):
    qs = duck_questions() if engine == "duckdb" else polars_questions()
    out[engine] = {}
    for name, fn in qs.items():
        if name in P.get("skip", {}).get(engine, []):
            continue
        out[engine][name] = timed(fn)
        print(f"  {engine} {name}: {out[engine][name]['median_s']:.3f}s", file=sys.stderr, flush=True)
print(json.dumps(out))
