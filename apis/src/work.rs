//! `work.karmada.io` types: `Work` (v1alpha1) and `ResourceBinding`/`ClusterResourceBinding` (v1alpha1, v1alpha2).

pub mod v1alpha1;
pub mod v1alpha2;

#[cfg(test)]
mod tests;
