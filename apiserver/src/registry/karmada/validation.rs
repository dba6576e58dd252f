//! Karmada's validating webhook and CRD schema rules, per kind, as field errors with their paths.

use serde_json::Value;

use crate::machinery::FieldError;

/// No rules.
pub(super) fn none(object: &Value) -> Vec<FieldError> {
    let _ = object;
    Vec::new()
}

/// No rules on update.
pub(super) fn none_on_update(object: &Value, old: &Value) -> Vec<FieldError> {
    let _ = old;
    none(object)
}
