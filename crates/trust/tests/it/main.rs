//! Integration tests of tarn-trust (one test binary, see STYLE.md).

mod sigstore_conformance;
mod sigstore_tamper;
