#!/usr/bin/env python3
"""The report's data computed by DuckDB from a Tarn lake's Hive layout (the report benchmark's peer).

usage: report_peers.py PARAMS_JSON   ({"lake": DIR, "framework": F, "from": ISO, "to": ISO, "reps": N})

Computes what Tarn's report queries compute, from evaluations/cluster=*/date=*/*.parquet alone:
each cluster's newest snapshot at `to`, per-control pass/evaluated resources and the framework
score there, the failing rows (findings), and for each the start of its failing run within the
range. Prints {"duckdb": {"median_s": x, "runs": [...], "findings": n, "compliance_pct": p}}.
"""
import json
import statistics
import sys
import time

import duckdb

P = json.loads(sys.argv[1])
GLOB = f"{P['lake'].rstrip('/')}/evaluations/**/*.parquet"
FW, FROM, TO = P["framework"], P["from"], P["to"]
RANK = "max(case status when 'error' then 4 when 'fail' then 3 when 'warn' then 2 when 'pass' then 1 else 0 end)"

SQL = f"""
with ev as (select * from read_parquet('{GLOB}', hive_partitioning=true) where framework = '{FW}'),
newest as (
  select cluster, max(observed_at) as at from ev where observed_at <= TIMESTAMPTZ '{TO}' group by cluster),
endrows as (select ev.* from ev join newest n on ev.cluster = n.cluster and ev.observed_at = n.at),
res as (
  select control_id, cluster, namespace, workload_kind, workload_name, {RANK} as r
  from endrows group by all),
ctl as (
  select control_id, count(*) filter (where r = 1) as pass, count(*) filter (where r >= 1) as evaluated
  from res group by control_id),
score as (select avg(100.0 * pass / evaluated) as pct from ctl where evaluated > 0),
findings as (select * from endrows where status in ('fail', 'error')),
hist as (
  select cluster, namespace, workload_kind, workload_name, container, control_id, observed_at,
         status in ('fail', 'error') as failing
  from ev where observed_at >= TIMESTAMPTZ '{FROM}' and observed_at <= TIMESTAMPTZ '{TO}'),
ok as (
  select cluster, namespace, workload_kind, workload_name, container, control_id, max(observed_at) as last_ok
  from hist where not failing group by all),
first as (
  select h.cluster, h.namespace, h.workload_kind, h.workload_name, h.container, h.control_id, min(h.observed_at) as first_failing
  from hist h left join ok using (cluster, namespace, workload_kind, workload_name, container, control_id)
  where h.failing and (ok.last_ok is null or h.observed_at > ok.last_ok) group by all)
select (select count(*) from findings f left join first using (cluster, namespace, workload_kind, workload_name, container, control_id)),
       (select pct from score)
"""

con = duckdb.connect()
runs, answer = [], None
for _ in range(max(1, int(P.get("reps", 3)))):
    t = time.perf_counter()
    answer = con.execute(SQL).fetchall()[0]
    runs.append(time.perf_counter() - t)
print(json.dumps({"duckdb": {"median_s": statistics.median(runs), "runs": runs, "findings": answer[0],
                             "compliance_pct": answer[1]}}))
