//! Karmada's mutating webhook: the defaults it fills in on create and update, per kind.

use serde_json::Value;

/// No defaults.
pub(super) fn none(object: &mut Value) {
    let _ = object;
}
