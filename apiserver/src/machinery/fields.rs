//! Field selectors: `metadata.name=x,spec.nodeName!=y` with backslash escapes, and matching against field values.

#[cfg(test)]
mod tests;

use std::fmt;

use super::ApiError;

/// One requirement of a field selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `field=value` or `field==value`.
    Equals(String, String),
    /// `field!=value`.
    NotEquals(String, String),
}

impl Requirement {
    /// The field the requirement is about.
    pub fn field(&self) -> &str {
        match self {
            Self::Equals(field, _) | Self::NotEquals(field, _) => field,
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Equals(field, value) => write!(f, "{field}={}", escape_value(value)),
            Self::NotEquals(field, value) => write!(f, "{field}!={}", escape_value(value)),
        }
    }
}

/// A parsed field selector; empty selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// Every requirement must hold (in the order of the sorted terms, as apimachinery keeps them).
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// Parses a field selector string as apimachinery's `fields.ParseSelector`: terms separated by unescaped
    /// commas, each `field=value`, `field==value` or `field!=value`; values escape `\`, `,` and `=` with `\`;
    /// empty terms are skipped.
    ///
    /// # Errors
    /// 400 BadRequest when the string is malformed, e.g. `invalid selector: 'x'; can't understand 'x'`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let mut terms = split_terms(text);
        terms.sort_unstable();
        let mut requirements = Vec::new();
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let Some((field, operator, raw_value)) = split_term(term) else {
                return Err(ApiError::bad_request(format!("invalid selector: '{text}'; can't understand '{term}'")));
            };
            let value = unescape_value(raw_value).map_err(ApiError::bad_request)?;
            if field.is_empty() && value.is_empty() {
                // apimachinery turns a term with neither field nor value into "everything".
                continue;
            }
            requirements.push(match operator {
                "!=" => Requirement::NotEquals(field.to_string(), value),
                _ => Requirement::Equals(field.to_string(), value),
            });
        }
        Ok(Self { requirements })
    }

    /// The selector `field=value` for one field.
    pub fn equals(field: &str, value: &str) -> Self {
        Self { requirements: vec![Requirement::Equals(field.to_string(), value.to_string())] }
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The fields this selector uses, to check them against a kind's selectable fields.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.requirements.iter().map(Requirement::field)
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

    /// Checks every field against `known` (e.g. a kind's selectable fields).
    ///
    /// # Errors
    /// 400 BadRequest `"<field>" is not a known field selector: only "metadata.name", "metadata.namespace"` for the
    /// first unknown field, as kube-apiserver answers for resources with only the generic fields.
    pub fn check_fields(&self, known: impl Fn(&str) -> bool) -> Result<(), ApiError> {
        match self.fields().find(|f| !known(f)) {
            Some(field) => Err(unknown_field(field)),
            None => Ok(()),
        }
    }
}

/// The canonical string (`metadata.name=x,spec.nodeName!=y`), values escaped.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

/// 400 for a field that cannot be selected on: `"spec.x" is not a known field selector: only "metadata.name",
/// "metadata.namespace"`.
pub fn unknown_field(field: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{field:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
    ))
}

/// Escapes `\`, `,` and `=` in a value with a backslash.
pub fn escape_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Undoes [`escape_value`]; an unknown escape or an unescaped `,`/`=` is an error (apimachinery's wording).
fn unescape_value(value: &str) -> Result<String, String> {
    if !value.contains(['\\', ',', '=']) {
        return Ok(value.to_string());
    }
    let mut unescaped = String::with_capacity(value.len());
    let mut escaping = false;
    for c in value.chars() {
        if escaping {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(format!("invalid field selector: invalid escape sequence: \\{c}"));
            }
            unescaped.push(c);
            escaping = false;
            continue;
        }
        match c {
            '\\' => escaping = true,
            ',' | '=' => {
                return Err(format!("invalid field selector: unescaped character in value: {}", u32::from(c)));
            }
            _ => unescaped.push(c),
        }
    }
    if escaping {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(unescaped)
}

/// Splits on commas not preceded by a backslash escape.
fn split_terms(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaping = false;
    for (i, c) in text.char_indices() {
        if escaping {
            escaping = false;
        } else if c == '\\' {
            escaping = true;
        } else if c == ',' {
            terms.push(&text[start..i]);
            start = i + 1;
        }
    }
    terms.push(&text[start..]);
    terms
}

/// Splits a term at its first operator (`!=`, `==`, `=`, tried in that order at each position).
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for operator in ["!=", "==", "="] {
            if let Some(value) = rest.strip_prefix(operator) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}
