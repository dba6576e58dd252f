//! Flotilla's API server: storage engine, Kubernetes API machinery, generic registry, and the HTTP API.

pub mod machinery;
pub mod patch;
pub mod registry;
pub mod storage;
