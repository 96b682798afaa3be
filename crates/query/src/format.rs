//! Rendering query results as an aligned table, CSV, JSON or Parquet.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::error::QueryError;

/// Output formats for tabular results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    /// A Parquet file (zstd), for DuckDB, Polars, Spark or pandas.
    Parquet,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Self::Table),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            "parquet" => Ok(Self::Parquet),
            _ => Err(format!("unknown format {s:?} (expected table, csv, json or parquet)")),
        }
    }
}

/// Encodes results in `format`: [`render`] for the text formats, a Parquet file (with the
/// schema, even when there are no rows) for [`OutputFormat::Parquet`].
pub fn encode(schema: &SchemaRef, batches: &[RecordBatch], format: OutputFormat) -> Result<Vec<u8>, QueryError> {
    if format != OutputFormat::Parquet {
        return Ok(render(batches, format)?.into_bytes());
    }
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .build();
    let mut buf = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, schema.clone(), Some(props))
        .map_err(|e| QueryError::Format(e.into()))?;
    for b in batches {
        w.write(b).map_err(|e| QueryError::Format(e.into()))?;
    }
    w.close().map_err(|e| QueryError::Format(e.into()))?;
    Ok(buf)
}

/// Renders `batches` in a text format. JSON is one array of objects; CSV has a header row and
/// RFC 4180 quoting; timestamps are RFC 3339. Parquet is binary: use [`encode`].
pub fn render(batches: &[RecordBatch], format: OutputFormat) -> Result<String, QueryError> {
    match format {
        OutputFormat::Parquet => Err(QueryError::Format(arrow::error::ArrowError::InvalidArgumentError(
            "parquet output is binary; write it to a file".into(),
        ))),
        OutputFormat::Table => Ok(arrow::util::pretty::pretty_format_batches(batches)?.to_string()),
        OutputFormat::Csv => {
            let mut buf = Vec::new();
            {
                let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
            }
            Ok(String::from_utf8(buf).expect("csv writer emits UTF-8"))
        }
        OutputFormat::Json => {
            let mut buf = Vec::new();
            {
                let mut w = arrow::json::ArrayWriter::new(&mut buf);
                for b in batches {
                    w.write(b)?;
                }
                w.finish()?;
            }
            if buf.is_empty() {
                buf.extend_from_slice(b"[]");
            }
            buf.push(b'\n');
            Ok(String::from_utf8(buf).expect("json writer emits UTF-8"))
        }
    }
}
