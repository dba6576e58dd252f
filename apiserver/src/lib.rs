//! Flotilla's API server: storage engine, Kubernetes API machinery, generic registry, and the HTTP API.

pub mod auth;
pub mod http;
pub mod machinery;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod schema;
pub mod server;
pub mod storage;
