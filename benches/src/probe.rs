//! Prints EXPLAIN ANALYZE of one SQL statement after warm-up runs in one Tarn engine (profiling aid).
//! `cargo run --release -p tarn-benches --bin probe -- LAKE_DIR "SQL"`
use tarn_lake::{Lake, StoreOptions};
use tarn_query::{QueryEngine, QueryOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (lake, sql) = (args.next().unwrap_or_default(), args.next().unwrap_or_default());
    let lake = Lake::open(&lake, &StoreOptions::default())?;
    let engine = QueryEngine::open(&lake, QueryOptions::default()).await?;
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        let rows: usize = engine.sql(&sql).await?.iter().map(|b| b.num_rows()).sum();
        eprintln!("{rows} rows in {:.1} ms", t0.elapsed().as_secs_f64() * 1e3);
    }
    let out = engine.sql(&format!("explain analyze {sql}")).await?;
    println!("{}", arrow::util::pretty::pretty_format_batches(&out)?);
    Ok(())
}
