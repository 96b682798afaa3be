//! `tarn engine`: the query engine as Ballista scheduler and executor processes.

use tarn_query::{ExecutorOptions, QueryOptions, SchedulerOptions};

use crate::args::invalid;
use crate::cli::{ExecutorArgs, SchedulerArgs};

pub async fn scheduler(a: SchedulerArgs) -> anyhow::Result<u8> {
    let lake = a.lake.open_existing().await?;
    let query = QueryOptions { memory_limit: a.memory_mb << 20, ..QueryOptions::default() };
    eprintln!(
        "tarn engine scheduler: lake {}, listening on {} (catalog re-read every {:?})",
        a.lake.lake, a.bind, a.refresh
    );
    let opts = SchedulerOptions { bind: a.bind, external_host: a.external_host, refresh: a.refresh };
    tarn_query::run_scheduler(lake, query, opts).await?;
    Ok(0)
}

pub async fn executor(a: ExecutorArgs) -> anyhow::Result<u8> {
    let (host, port) = a
        .scheduler
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| invalid(format!("--scheduler {:?}: expected HOST:PORT", a.scheduler)))?;
    let lake = a.lake.open_existing().await?;
    let query = QueryOptions { memory_limit: a.memory_mb << 20, ..QueryOptions::default() };
    eprintln!(
        "tarn engine executor: lake {}, scheduler {host}:{port}, listening on {}:{} (flight) and :{} (grpc)",
        a.lake.lake, a.bind_host, a.port, a.grpc_port
    );
    let opts = ExecutorOptions {
        scheduler_host: host,
        scheduler_port: port,
        bind_host: a.bind_host,
        external_host: a.external_host,
        port: a.port,
        grpc_port: a.grpc_port,
        vcores: a.vcores,
        work_dir: a.work_dir,
    };
    tarn_query::run_executor(lake, query, opts).await?;
    Ok(0)
}
