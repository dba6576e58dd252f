//! `policy.karmada.io/v1alpha1`: propagation policies (where resources go) and override policies (how they change per cluster).

mod overrides;
mod placement;
mod propagation;
#[cfg(test)]
pub(crate) mod tests;

pub use overrides::*;
pub use placement::*;
pub use propagation::*;
