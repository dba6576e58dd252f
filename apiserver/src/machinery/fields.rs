//! Field selectors: `metadata.name=x,spec.nodeName!=y` with backslash escapes, and matching against field values.

use super::ApiError;

/// One requirement of a field selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `field=value` or `field==value`.
    Equals(String, String),
    /// `field!=value`.
    NotEquals(String, String),
}

/// A parsed field selector; empty selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// Every requirement must hold.
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// Parses a field selector string.
    ///
    /// # Errors
    /// 400 BadRequest when the string is malformed.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let _ = text;
        Err(ApiError::internal("field selectors are being written"))
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The fields this selector uses, to check them against a kind's selectable fields.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.requirements.iter().map(|r| match r {
            Requirement::Equals(field, _) | Requirement::NotEquals(field, _) => field.as_str(),
        })
    }

    /// The value required for `field` by an `=` requirement, e.g. `metadata.name` for single-object watches.
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.requirements.iter().find_map(|r| match r {
            Requirement::Equals(f, v) if f == field => Some(v.as_str()),
            _ => None,
        })
    }

    /// Whether an object whose selectable fields are given by `value_of` matches (a missing field is `""`).
    pub fn matches(&self, value_of: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(field, value) => value_of(field).unwrap_or_default() == *value,
            Requirement::NotEquals(field, value) => value_of(field).unwrap_or_default() != *value,
        })
    }
}
