//! Agent integration tests.

mod kube;
mod registry;
