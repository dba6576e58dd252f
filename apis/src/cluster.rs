//! `cluster.karmada.io` types: the `Cluster` object that registers a member cluster with the control plane.

pub mod v1alpha1;

#[cfg(test)]
mod tests;
