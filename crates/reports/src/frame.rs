//! Reading query answers column by column, whatever Arrow type the engine chose.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType, UInt64Type};
use chrono::{DateTime, Utc};

use crate::error::ReportError;

/// The batches of one answer.
pub(crate) struct Frame {
    name: &'static str,
    batches: Vec<RecordBatch>,
}

impl Frame {
    pub fn new(name: &'static str, batches: Vec<RecordBatch>) -> Self {
        Self { name, batches }
    }

    pub fn len(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    fn column(&self, col: &str, to: &DataType) -> Result<Vec<std::sync::Arc<dyn Array>>, ReportError> {
        self.batches
            .iter()
            .map(|b| {
                let c = b
                    .column_by_name(col)
                    .ok_or_else(|| ReportError::Invalid(format!("query {} returned no column {col:?}", self.name)))?;
                cast(c, to).map_err(|e| ReportError::Invalid(format!("query {}: column {col}: {e}", self.name)))
            })
            .collect()
    }

    /// Strings (NULL as empty).
    pub fn strings(&self, col: &str) -> Result<Vec<String>, ReportError> {
        let mut out = Vec::with_capacity(self.len());
        for a in self.column(col, &DataType::Utf8)? {
            let a = a.as_string::<i32>();
            out.extend((0..a.len()).map(|i| if a.is_null(i) { String::new() } else { a.value(i).to_string() }));
        }
        Ok(out)
    }

    pub fn f64s(&self, col: &str) -> Result<Vec<Option<f64>>, ReportError> {
        let mut out = Vec::with_capacity(self.len());
        for a in self.column(col, &DataType::Float64)? {
            let a = a.as_primitive::<Float64Type>();
            out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i))));
        }
        Ok(out)
    }

    /// Counts (NULL as 0).
    pub fn u64s(&self, col: &str) -> Result<Vec<u64>, ReportError> {
        let mut out = Vec::with_capacity(self.len());
        for a in self.column(col, &DataType::UInt64)? {
            let a = a.as_primitive::<UInt64Type>();
            out.extend((0..a.len()).map(|i| if a.is_null(i) { 0 } else { a.value(i) }));
        }
        Ok(out)
    }

    pub fn bools(&self, col: &str) -> Result<Vec<bool>, ReportError> {
        let mut out = Vec::with_capacity(self.len());
        for a in self.column(col, &DataType::Boolean)? {
            let a = a.as_boolean();
            out.extend((0..a.len()).map(|i| !a.is_null(i) && a.value(i)));
        }
        Ok(out)
    }

    pub fn times(&self, col: &str) -> Result<Vec<Option<DateTime<Utc>>>, ReportError> {
        let mut out = Vec::with_capacity(self.len());
        let ty = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        for a in self.column(col, &ty)? {
            let a = a.as_primitive::<TimestampMicrosecondType>();
            out.extend(
                (0..a.len()).map(|i| (!a.is_null(i)).then(|| DateTime::from_timestamp_micros(a.value(i))).flatten()),
            );
        }
        Ok(out)
    }
}
