//! CustomResourceDefinitions: the CRD kind's behaviour, and the controller that serves each CRD's custom resources.

mod controller;
mod custom;
pub(crate) mod definition;
mod jsonpath;
mod validation;

#[cfg(test)]
mod tests;

pub use controller::start;
pub use custom::{CustomResourceError, CustomResourceStrategy};
pub use definition::CLEANUP_FINALIZER;
pub use jsonpath::{JsonPath, PathError};
