//! Kubernetes API machinery without I/O: errors as `Status`, selectors, request options, metadata, tables.

pub mod continue_token;
pub mod errors;
pub mod fields;
pub mod labels;
pub mod media;
pub mod meta;
pub mod names;
pub mod options;
pub mod table;

pub use errors::{ApiError, FieldError, FieldErrorKind, GroupResource, StatusReason};

/// An API object as JSON: a map with `apiVersion`, `kind`, `metadata` and whatever else its kind has.
pub type Object = serde_json::Value;
