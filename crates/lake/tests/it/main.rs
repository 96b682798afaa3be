//! Lake integration tests: one conformance suite run against every backend.
//!
//! The S3 backend needs a real S3 API: set `TARN_TEST_S3_ENDPOINT` (e.g. moto's
//! `http://127.0.0.1:5055`) and `TARN_TEST_S3_BUCKET`, plus `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_REGION`. `.ci/run` does. Without them the S3 cases are
//! skipped, loudly, unless `TARN_REQUIRE_S3=1`, which makes skipping a failure.

mod backend;
mod catalog;
mod suite;
mod tamper;

/// Runs each listed async test function against memory, local directory and S3.
macro_rules! lake_suite {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { crate::$module::$name(crate::backend::Backend::Memory).await } )*
        }
        mod local {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { crate::$module::$name(crate::backend::Backend::Local).await } )*
        }
        mod s3 {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { crate::$module::$name(crate::backend::Backend::S3).await } )*
        }
    };
}

lake_suite!(
    suite::conditional_create_is_exclusive,
    suite::write_read_and_verify,
    suite::parquet_layout_and_metadata,
    suite::concurrent_writers_keep_one_chain,
    suite::stale_head_hint_is_corrected,
    suite::retried_commit_is_not_committed_twice,
    suite::prepared_snapshots_are_written_once,
    suite::fresh_orphans_are_in_flight_not_problems,
    suite::verify_needs_a_lake_and_its_clusters,
    tamper::modified_byte,
    tamper::deleted_object,
    tamper::deleted_log_entry,
    tamper::reordered_entries,
    tamper::inserted_object,
    tamper::replayed_entry,
    tamper::rolled_back_log,
    tamper::bad_signature,
    tamper::edited_record,
    tamper::wrong_key,
    tamper::appended_to_newest_entry,
    tamper::unsigned_bundle_fields,
    tamper::entry_from_another_cluster,
    tamper::log_from_another_lake,
    tamper::garbled_head_hint,
    catalog::index_agrees_with_the_log_across_checkpoints,
    catalog::racing_checkpointers_lose_nothing,
    catalog::point_in_time_lookups,
    catalog::compaction_keeps_every_row_and_verifies,
    catalog::derived_data_tampering_is_detected,
    catalog::parts_without_compaction_columns_still_open,
);
