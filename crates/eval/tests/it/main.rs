//! Integration tests for `tarn-eval`.

mod cis_conformance;
mod imagepolicy_conformance;
mod k8s_model;
mod pss_corpus;
mod slsa_conformance;
