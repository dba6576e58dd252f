//! Flotilla's API server: the storage engine (etcd and embedded backends, watch cache) and, later, the HTTP API.

pub mod storage;
