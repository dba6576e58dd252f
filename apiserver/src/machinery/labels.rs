//! Label selectors: the full string grammar of `labelSelector` and matching against an object's labels.

mod parser;
#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, fmt};

use serde_json::Value;

use super::{ApiError, FieldError, Object, names};

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `key in (a,b)`: the key is present with one of the values.
    In(String, Vec<String>),
    /// `key notin (a,b)`: the key is absent or has another value.
    NotIn(String, Vec<String>),
    /// `key=value`.
    Equals(String, String),
    /// `key==value` (the same as `=`, kept to print the selector back as written).
    DoubleEquals(String, String),
    /// `key!=value`: the key is absent or has another value.
    NotEquals(String, String),
    /// `key`: the key is present.
    Exists(String),
    /// `!key`: the key is absent.
    DoesNotExist(String),
    /// `key>n`: the value is an integer greater than n.
    GreaterThan(String, i64),
    /// `key<n`: the value is an integer less than n.
    LessThan(String, i64),
}

impl Requirement {
    /// The label key the requirement is about.
    pub fn key(&self) -> &str {
        match self {
            Self::In(key, _)
            | Self::NotIn(key, _)
            | Self::Equals(key, _)
            | Self::DoubleEquals(key, _)
            | Self::NotEquals(key, _)
            | Self::Exists(key)
            | Self::DoesNotExist(key)
            | Self::GreaterThan(key, _)
            | Self::LessThan(key, _) => key,
        }
    }

    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|key| labels.get(key).map(String::as_str))
    }

    /// Whether the labels looked up by `label` (`None` = absent) satisfy this requirement.
    pub fn matches_with<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        let value = label(self.key());
        match self {
            Self::In(_, values) => value.is_some_and(|v| values.iter().any(|w| w == v)),
            Self::Equals(_, wanted) | Self::DoubleEquals(_, wanted) => value == Some(wanted.as_str()),
            Self::NotIn(_, values) => value.is_none_or(|v| !values.iter().any(|w| w == v)),
            Self::NotEquals(_, unwanted) => value != Some(unwanted.as_str()),
            Self::Exists(_) => value.is_some(),
            Self::DoesNotExist(_) => value.is_none(),
            Self::GreaterThan(_, bound) => value.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *bound),
            Self::LessThan(_, bound) => value.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *bound),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |values: &Vec<String>| {
            let mut sorted = values.clone();
            sorted.sort();
            sorted.join(",")
        };
        match self {
            Self::In(key, values) => write!(f, "{key} in ({})", set(values)),
            Self::NotIn(key, values) => write!(f, "{key} notin ({})", set(values)),
            Self::Equals(key, value) => write!(f, "{key}={value}"),
            Self::DoubleEquals(key, value) => write!(f, "{key}=={value}"),
            Self::NotEquals(key, value) => write!(f, "{key}!={value}"),
            Self::Exists(key) => write!(f, "{key}"),
            Self::DoesNotExist(key) => write!(f, "!{key}"),
            Self::GreaterThan(key, value) => write!(f, "{key}>{value}"),
            Self::LessThan(key, value) => write!(f, "{key}<{value}"),
        }
    }
}

/// A parsed label selector; empty selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// Every requirement must hold; sorted by key.
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// Parses `app=web,tier in (a,b),!legacy` with the grammar of apimachinery's `labels.Parse`.
    ///
    /// # Errors
    /// 400 BadRequest naming what could not be parsed (as kube-apiserver answers an invalid `labelSelector`),
    /// e.g. `unable to parse requirement: found '', expected: in, notin, =, ==, !=, gt, lt`.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let requirements = parser::parse(text).map_err(ApiError::bad_request)?;
        Ok(Self::sorted(requirements))
    }

    fn sorted(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key().cmp(b.key()));
        Self { requirements }
    }

    /// The selector `key=value` for every entry of `labels` (as `labels.SelectorFromSet`).
    pub fn from_set(labels: &BTreeMap<String, String>) -> Self {
        Self::sorted(labels.iter().map(|(k, v)| Requirement::Equals(k.clone(), v.clone())).collect())
    }

    /// Converts a `metav1.LabelSelector` (`matchLabels` + `matchExpressions`) as `LabelSelectorAsSelector` does.
    /// `null` (or an absent selector) selects nothing and gives `Ok(None)`; `{}` selects everything.
    ///
    /// # Errors
    /// The validation errors of [`validate_label_selector`] at `path` (e.g. `spec.selector`), for a 422.
    pub fn from_label_selector(value: &Value, path: &str) -> Result<Option<Self>, Vec<FieldError>> {
        if value.is_null() {
            return Ok(None);
        }
        let errors = validate_label_selector(value, path);
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut requirements = Vec::new();
        for (key, label) in value.get("matchLabels").and_then(Value::as_object).into_iter().flatten() {
            requirements.push(Requirement::Equals(key.clone(), label.as_str().unwrap_or_default().to_string()));
        }
        for expression in value.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
            let key = expression.get("key").and_then(Value::as_str).unwrap_or_default().to_string();
            let values: Vec<String> = expression
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            requirements.push(match expression.get("operator").and_then(Value::as_str) {
                Some("In") => Requirement::In(key, values),
                Some("NotIn") => Requirement::NotIn(key, values),
                Some("Exists") => Requirement::Exists(key),
                _ => Requirement::DoesNotExist(key),
            });
        }
        Ok(Some(Self::sorted(requirements)))
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether `object`'s `metadata.labels` satisfy every requirement (non-string values count as absent).
    pub fn matches_object(&self, object: &Object) -> bool {
        let labels = object.pointer("/metadata/labels").and_then(Value::as_object);
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.requirements.iter().all(|r| r.matches_with(label))
    }

    /// The single value `key` must have (`key=v`, `key==v` or `key in (v)`), e.g. to narrow a lookup.
    pub fn required_value(&self, key: &str) -> Option<&str> {
        let requirement = self.requirements.iter().find(|r| r.key() == key)?;
        match requirement {
            Requirement::Equals(_, value) | Requirement::DoubleEquals(_, value) => Some(value),
            Requirement::In(_, values) if values.len() == 1 => values.first().map(String::as_str),
            _ => None,
        }
    }
}

/// The canonical string: requirements sorted by key, joined by `,` (`app=nginx`, `tier in (a,b)`); empty for
/// a selector that selects everything.
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

/// `metadata.labels` of `object` (entries whose value is not a string are skipped).
pub fn object_labels(object: &Object) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect()
}

fn child(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

/// Validates a `metav1.LabelSelector` at `path` as `ValidateLabelSelector` does: `matchLabels` are valid labels;
/// each expression has a known operator, values exactly when the operator needs them, a valid key and valid values.
pub fn validate_label_selector(value: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if value.is_null() {
        return errors;
    }
    let Some(selector) = value.as_object() else {
        errors.push(FieldError::invalid(path, value.clone(), "must be an object"));
        return errors;
    };
    if let Some(labels) = selector.get("matchLabels") {
        errors.extend(names::validate_labels(labels, &child(path, "matchLabels")));
    }
    let expressions = selector.get("matchExpressions").unwrap_or(&Value::Null);
    let list = match expressions {
        Value::Null => &Vec::new(),
        Value::Array(list) => list,
        other => {
            errors.push(FieldError::invalid(child(path, "matchExpressions"), other.clone(), "must be a list"));
            return errors;
        }
    };
    for (index, expression) in list.iter().enumerate() {
        let at = format!("{}[{index}]", child(path, "matchExpressions"));
        let values: Vec<&Value> = expression.get("values").and_then(Value::as_array).into_iter().flatten().collect();
        let operator = expression.get("operator").and_then(Value::as_str).unwrap_or_default();
        match operator {
            "In" | "NotIn" if values.is_empty() => errors.push(FieldError::required(
                format!("{at}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(FieldError::forbidden(
                format!("{at}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errors.push(FieldError::invalid(format!("{at}.operator"), other, "not a valid selector operator")),
        }
        let key = expression.get("key").and_then(Value::as_str).unwrap_or_default();
        for message in names::is_label_key(key) {
            errors.push(FieldError::invalid(format!("{at}.key"), key, message));
        }
        for (value_index, value) in values.iter().enumerate() {
            let Some(text) = value.as_str() else {
                errors.push(FieldError::invalid(
                    format!("{at}.values[{value_index}]"),
                    (*value).clone(),
                    "must be a string",
                ));
                continue;
            };
            for message in names::is_label_value(text) {
                errors.push(FieldError::invalid(format!("{at}.values[{value_index}]"), text, message));
            }
        }
    }
    errors
}
