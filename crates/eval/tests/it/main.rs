//! Integration tests for `tarn-eval`.

mod k8s_model;
mod pss_corpus;
