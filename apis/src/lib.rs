//! Karmada's API types as Flotilla serves them: `cluster.karmada.io`, `policy.karmada.io`, `work.karmada.io`, `search.karmada.io`.

pub mod cluster;
mod kind;
pub mod policy;
pub mod search;
#[cfg(test)]
mod testing;
pub mod work;
