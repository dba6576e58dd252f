//! The field selectors each Karmada kind supports beyond `metadata.name` and `metadata.namespace`.

use serde_json::Value;

/// No extra selectable fields.
pub(super) fn none(object: &Value, field: &str) -> Option<String> {
    let _ = (object, field);
    None
}
