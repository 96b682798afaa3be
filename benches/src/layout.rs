//! The experiment behind the compacted-object layout: rewrite a lake's `compacted/` objects with
//! other row-group and page layouts, and time the benchmark's Q4 filter (one control, one
//! namespace, a date range) over each with plain DataFusion.
//!
//! ```text
//! layout rewrite SRC_DIR OUT_DIR MODE   # MODE: one | one-pN | rg-pN | sorted | sorted-pN
//! layout time DIR CONTROL NAMESPACE FROM_DATE TO_DATE [explain]
//! ```
//! `one`: a cluster-day in one row group; `rg`: the row groups of the source; `-pN`: data pages of
//! at most N rows; `sorted`: one row group sorted by namespace, workload, control, seq.
use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::{SessionConfig, SessionContext};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out)
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p)
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    match a[0].as_str() {
        "rewrite" => {
            let (src, out, mode) = (std::path::Path::new(&a[1]), std::path::Path::new(&a[2]), a[3].as_str());
            let mut files = Vec::new();
            walk(src, &mut files);
            let sorted = mode.starts_with("sorted");
            let (one, page) = match mode {
                "one" => (true, None),
                "sorted" => (true, None),
                m if m.starts_with("sorted-p") => (true, Some(m[8..].parse::<usize>()?)),
                m if m.starts_with("one-p") => (true, Some(m[5..].parse::<usize>()?)),
                m if m.starts_with("rg-p") => (false, Some(m[4..].parse::<usize>()?)),
                _ => anyhow::bail!("mode"),
            };
            let mut total = 0u64;
            for f in files {
                let file = std::fs::File::open(&f)?;
                let b = ParquetRecordBatchReaderBuilder::try_new(file)?;
                let rgs: Vec<usize> = b.metadata().row_groups().iter().map(|r| r.num_rows() as usize).collect();
                let schema = b.schema().clone();
                let batches: Vec<RecordBatch> = b.with_batch_size(1 << 20).build()?.collect::<Result<_, _>>()?;
                let mut props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
                    .set_dictionary_enabled(true)
                    .set_statistics_enabled(EnabledStatistics::Page)
                    .set_max_row_group_row_count(None);
                if let Some(p) = page {
                    props = props.set_data_page_row_count_limit(p).set_write_batch_size(p);
                }
                let target = out.join(f.strip_prefix(src)?);
                std::fs::create_dir_all(target.parent().unwrap())?;
                let mut w = ArrowWriter::try_new(std::fs::File::create(&target)?, schema, Some(props.build()))?;
                let mut all = arrow::compute::concat_batches(&batches[0].schema(), &batches)?;
                if sorted {
                    let cols: Vec<arrow::compute::SortColumn> =
                        ["namespace", "workload_kind", "workload_name", "container", "framework", "control_id", "seq"]
                            .iter()
                            .map(|c| arrow::compute::SortColumn {
                                values: all.column_by_name(c).unwrap().clone(),
                                options: None,
                            })
                            .collect();
                    let idx = arrow::compute::lexsort_to_indices(&cols, None)?;
                    all = arrow::compute::take_record_batch(&all, &idx)?;
                }
                if one {
                    w.write(&all)?;
                } else {
                    let mut off = 0;
                    for n in rgs {
                        w.write(&all.slice(off, n))?;
                        w.flush()?;
                        off += n;
                    }
                }
                w.close()?;
                total += std::fs::metadata(&target)?.len();
            }
            println!("{mode}: {} MB", total >> 20);
        }
        "time" => {
            let (dir, control, ns, d1, d2) = (&a[1], &a[2], &a[3], &a[4], &a[5]);
            let config = SessionConfig::new()
                .set_bool("datafusion.execution.parquet.pushdown_filters", true)
                .set_bool("datafusion.execution.parquet.reorder_filters", true);
            let ctx = SessionContext::new_with_config(config);
            let url = ListingTableUrl::parse(format!("{dir}/"))?;
            let opts = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(vec![
                    ("cluster".into(), arrow::datatypes::DataType::Utf8),
                    ("date".into(), arrow::datatypes::DataType::Utf8),
                ]);
            let cfg = ListingTableConfig::new(url).with_listing_options(opts).infer_schema(&ctx.state()).await?;
            ctx.register_table("t", Arc::new(ListingTable::try_new(cfg)?))?;
            let sql = format!(
                "select cluster, observed_at, namespace, workload_kind, workload_name, container, framework, control_id, \
                 status, message, snapshot_id, seq, object_path, object_sha256 from t \
                 where control_id = '{control}' and namespace = '{ns}' and date between '{d1}' and '{d2}'"
            );
            let mut times = Vec::new();
            let mut rows = 0;
            for _ in 0..6 {
                let t0 = std::time::Instant::now();
                rows = ctx.sql(&sql).await?.collect().await?.iter().map(|b| b.num_rows()).sum::<usize>();
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!("{dir}: {rows} rows, median {:.1} ms (min {:.1})", times[3], times[0]);
            if a.get(6).is_some() {
                let out = ctx.sql(&format!("explain analyze {sql}")).await?.collect().await?;
                println!("{}", arrow::util::pretty::pretty_format_batches(&out)?);
            }
        }
        _ => anyhow::bail!("usage"),
    }
    Ok(())
}
