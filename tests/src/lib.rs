//! Test harness shared by Flotilla's integration tests and benchmarks: real etcd processes, test stores, the binary.

pub mod backends;
pub mod etcd;
pub mod identity;
pub mod ports;
pub mod server;
