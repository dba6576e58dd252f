//! Flotilla's controllers (cluster status and taints, under Lease leader election) and `join`/`unjoin`.

pub mod cluster_status;
pub mod command;
pub mod join;
pub mod leader;
pub mod member;
pub mod quantity;
pub mod status;
