//! Value validation of custom resources against their structural schema, with kube-apiserver's messages.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{
    KindSchema,
    compile::{Checks, Compiled, NodeId},
    formats,
};
use crate::machinery::{FieldError, Object};

/// Validates a custom resource against its schema (type, format, enum, required, bounds, lengths, patterns, item
/// and property counts, allOf/anyOf/oneOf/not, list-type set/map uniqueness), returning kube-apiserver's field
/// errors, e.g. `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`.
/// Built-in kinds return no errors (their validation is per-kind code).
pub fn validate_values(object: &Object, schema: &KindSchema) -> Vec<FieldError> {
    if !schema.structural {
        return Vec::new();
    }
    let compiled = schema.compiled();
    let validator = Validator { compiled };
    let mut result = Outcome::default();
    validator.validate(object, compiled.value_root, "", &mut result);
    let mut errors: Vec<FieldError> = result.errors.into_iter().map(Failure::into_field_error).collect();
    list_types(object, compiled, Some(compiled.value_root), "", &mut errors);
    errors
}

/// kube-openapi's error codes that kube-apiserver maps to distinct field errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    InvalidType,
    Required,
    TooLong,
    Enum,
    MaxItems,
    TooManyProperties,
    Other,
}

/// One kube-openapi validation failure before conversion to a field error.
#[derive(Clone, Debug, PartialEq)]
enum Failure {
    /// A failure about the value at `name`.
    Validation {
        code: Code,
        name: String,
        value: Option<Value>,
        limit: Option<u64>,
        allowed: Vec<Value>,
        message: String,
    },
    /// A failure not tied to one value (composition, range-check) — reported at the path `<nil>`.
    Composite(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Self::Validation { message, .. } | Self::Composite(message) => message,
        }
    }

    fn into_field_error(self) -> FieldError {
        let Self::Validation { code, name, value, limit, allowed, message } = self else {
            return FieldError::invalid("<nil>", "", self.message().to_string());
        };
        let path = match name.trim_start_matches('.') {
            "" => "<nil>".to_string(),
            trimmed => trimmed.to_string(),
        };
        let value = value.unwrap_or_else(|| Value::from(""));
        match code {
            Code::Required => FieldError::required(path, ""),
            Code::Enum => {
                let names: Vec<String> = allowed
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                FieldError::not_supported(path, value, &names)
            }
            Code::TooLong => FieldError::too_long(path, limit.map_or(usize::MAX, |l| l as usize)),
            Code::MaxItems | Code::TooManyProperties => {
                FieldError::too_many(path, value.as_u64().map(|v| v as usize), limit.map_or(usize::MAX, |l| l as usize))
            }
            Code::InvalidType => FieldError::type_invalid(path, value, message),
            Code::Other => FieldError::invalid(path, value, message),
        }
    }
}

/// Errors of one validation, deduplicated by message as kube-openapi does.
#[derive(Default)]
struct Outcome {
    errors: Vec<Failure>,
}

impl Outcome {
    fn add(&mut self, failure: Failure) {
        if !self.errors.iter().any(|e| e.message() == failure.message()) {
            self.errors.push(failure);
        }
    }

    fn merge(&mut self, other: Outcome) {
        for failure in other.errors {
            self.add(failure);
        }
    }

    fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

fn failure(code: Code, name: &str, value: Option<Value>, message: String) -> Failure {
    Failure::Validation { code, name: name.to_string(), value, limit: None, allowed: Vec::new(), message }
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// Go's `%q` for a string, close enough for messages.
fn quoted(text: &str) -> String {
    format!("{text:?}")
}

/// Go's `%v` of a float64.
fn go_float(f: f64) -> String {
    if f.is_finite() && f == f.trunc() && f.abs() < 1e21 {
        return format!("{f:.0}");
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        let text = format!("{f:e}");
        if let Some((mantissa, exponent)) = text.split_once('e') {
            let (sign, digits) = exponent.strip_prefix('-').map_or(("+", exponent), |d| ("-", d));
            return format!("{mantissa}e{sign}{digits:0>2}");
        }
    }
    format!("{f}")
}

enum Number {
    Int(i64),
    Float(f64),
}

fn number(value: &Value) -> Option<Number> {
    let number = value.as_number()?;
    Some(number.as_i64().map_or_else(|| Number::Float(number.as_f64().unwrap_or(f64::NAN)), Number::Int))
}

/// The schema type of a JSON value as kube-openapi names it, and the format it implies.
fn type_of(value: &Value) -> (&'static str, &'static str) {
    match value {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
        Value::Number(n) if n.is_i64() => ("integer", "int64"),
        Value::Number(_) => ("number", "float64"),
    }
}

/// Equality as kube-openapi's enum check sees it: numbers compare by value across integer and float.
fn enum_equal(value: &Value, candidate: &Value) -> bool {
    match (value.as_number(), candidate.as_number()) {
        (Some(a), Some(b)) => a.as_f64() == b.as_f64(),
        _ => value == candidate,
    }
}

struct Validator<'a> {
    compiled: &'a Compiled,
}

impl Validator<'_> {
    fn validate(&self, value: &Value, id: NodeId, path: &str, out: &mut Outcome) {
        let node = self.compiled.node(id);
        let checks = node.checks.as_deref();
        if value.is_null() {
            if let Some(checks) = checks {
                self.check_type(value, checks, node.nullable, path, out);
                Self::check_enum(value, checks, path, out);
            }
            return;
        }
        if let Some(checks) = checks {
            self.check_type(value, checks, node.nullable, path, out);
            self.check_compositions(value, checks, path, out);
            if let Value::String(text) = value {
                Self::check_string(text, checks, path, out);
                Self::check_format(text, checks, path, out);
            }
            if let Some(number) = number(value) {
                Self::check_number(&number, value, checks, path, out);
            }
        }
        if let Value::Array(items) = value {
            if let Some(items_node) = node.items {
                for (index, item) in items.iter().enumerate() {
                    self.validate(item, items_node, &format!("{path}[{index}]"), out);
                }
            }
            if let Some(checks) = checks {
                Self::check_array(items, checks, path, out);
            }
        }
        if let Some(checks) = checks {
            Self::check_enum(value, checks, path, out);
        }
        if let Value::Object(map) = value {
            self.check_object(map, id, path, out);
        }
    }

    fn check_type(&self, value: &Value, checks: &Checks, nullable: bool, path: &str, out: &mut Outcome) {
        let types = &checks.types;
        let format = checks.format.as_str();
        if types.is_empty() && format.is_empty() {
            return;
        }
        let joined = types.join(",");
        let contains = |t: &str| types.iter().any(|have| have == t);
        if value.is_null() {
            if !types.is_empty() && !contains("null") && !nullable {
                let message = format!("{path} in body must be of type {joined}: \"null\"");
                out.add(failure(Code::InvalidType, path, Some("null".into()), message));
            }
            return;
        }
        let (kind, data_format) = type_of(value);
        let float_int = kind == "number" && value.as_f64().is_some_and(|f| f == f.trunc()) && contains("integer");
        let int_float = kind == "integer" && contains("number");
        let textual = matches!(value, Value::String(_) | Value::Array(_));
        let matches_format = contains(kind) || data_format == format || float_int || int_float;
        if !(textual || format.is_empty() || matches_format) {
            let message = format!("{path} in body must be of type {format}: {}", quoted(data_format));
            out.add(failure(Code::InvalidType, path, Some(data_format.into()), message));
            return;
        }
        let numeric = contains("number") || contains("integer");
        if textual && !numeric && !format.is_empty() {
            return;
        }
        if !(contains(kind) || float_int || int_float) {
            let message = format!("{path} in body must be of type {joined}: {}", quoted(kind));
            out.add(failure(Code::InvalidType, path, Some(kind.into()), message));
        }
    }

    fn check_compositions(&self, value: &Value, checks: &Checks, path: &str, out: &mut Outcome) {
        let run = |id: NodeId| {
            let mut outcome = Outcome::default();
            self.validate(value, id, path, &mut outcome);
            outcome
        };
        let best = |failures: Vec<Outcome>| failures.into_iter().min_by_key(|o| o.errors.len());
        if !checks.any_of.is_empty() {
            let mut failures = Vec::new();
            let mut succeeded = false;
            for &member in &checks.any_of {
                let outcome = run(member);
                if outcome.is_valid() {
                    succeeded = true;
                    break;
                }
                failures.push(outcome);
            }
            if !succeeded {
                out.add(Failure::Composite(format!("{} must validate at least one schema (anyOf)", quoted(path))));
                if let Some(best) = best(failures) {
                    out.merge(best);
                }
            }
        }
        if !checks.one_of.is_empty() {
            let mut failures = Vec::new();
            let mut valid = 0;
            for &member in &checks.one_of {
                let outcome = run(member);
                if outcome.is_valid() {
                    valid += 1;
                } else if valid == 0 {
                    failures.push(outcome);
                }
            }
            if valid != 1 {
                let detail = if valid == 0 {
                    "Found none valid".to_string()
                } else {
                    format!("Found {valid} valid alternatives")
                };
                out.add(Failure::Composite(format!(
                    "{} must validate one and only one schema (oneOf). {detail}",
                    quoted(path)
                )));
                if valid == 0
                    && let Some(best) = best(failures)
                {
                    out.merge(best);
                }
            }
        }
        if !checks.all_of.is_empty() {
            let mut valid = 0;
            for &member in &checks.all_of {
                let outcome = run(member);
                if outcome.is_valid() {
                    valid += 1;
                }
                out.merge(outcome);
            }
            if valid != checks.all_of.len() {
                let detail = if valid == 0 { ". None validated" } else { "" };
                out.add(Failure::Composite(format!("{} must validate all the schemas (allOf){detail}", quoted(path))));
            }
        }
        if let Some(not) = checks.not
            && run(not).is_valid()
        {
            out.add(Failure::Composite(format!("{} must not validate the schema (not)", quoted(path))));
        }
    }

    fn check_string(text: &str, checks: &Checks, path: &str, out: &mut Outcome) {
        let length = text.chars().count() as u64;
        if let Some(max) = checks.max_length
            && length > max
        {
            let message = format!("{path} in body should be at most {max} chars long");
            out.add(Failure::Validation {
                code: Code::TooLong,
                name: path.to_string(),
                value: Some(text.into()),
                limit: Some(max),
                allowed: Vec::new(),
                message,
            });
            return;
        }
        if let Some(min) = checks.min_length
            && length < min
        {
            let message = format!("{path} in body should be at least {min} chars long");
            out.add(failure(Code::Other, path, Some(text.into()), message));
            return;
        }
        if let Some(pattern) = &checks.pattern {
            let message = match &pattern.regex {
                Ok(regex) if regex.is_match(text) => return,
                Ok(_) => format!("{path} in body should match '{}'", pattern.source),
                Err(error) => {
                    format!("{path} in body should match '{}, but pattern is invalid: {error}'", pattern.source)
                }
            };
            out.add(failure(Code::Other, path, Some(text.into()), message));
        }
    }

    fn check_format(text: &str, checks: &Checks, path: &str, out: &mut Outcome) {
        if checks.format.is_empty() || formats::check(&checks.format, text) != Some(false) {
            return;
        }
        let message = format!("{path} in body must be of type {}: {}", checks.format, quoted(text));
        out.add(failure(Code::InvalidType, path, Some(text.into()), message));
    }

    fn check_number(number: &Number, value: &Value, checks: &Checks, path: &str, out: &mut Outcome) {
        let single = if checks.types.len() == 1 { checks.types[0].as_str() } else { "" };
        if single == "integer" {
            let fits = match number {
                Number::Int(i) => checks.format != "int32" || i32::try_from(*i).is_ok(),
                Number::Float(f) => f == &f.trunc() && (checks.format != "int32" || f.abs() <= f64::from(i32::MAX)),
            };
            if !fits {
                let message = if checks.format.is_empty() {
                    format!("Checked value must be of type integer (default format) in {path}")
                } else {
                    format!("Checked value must be of type integer with format {} in {path}", checks.format)
                };
                out.add(Failure::Composite(message));
            }
        }
        if let Some(factor) = checks.multiple_of {
            let failed = match number {
                Number::Int(i) if single == "integer" && factor == factor.trunc() => {
                    let factor = factor as i64;
                    if factor <= 0 { Some(true) } else { (i % factor != 0).then_some(false) }
                }
                _ => {
                    let data = match number {
                        Number::Int(i) => *i as f64,
                        Number::Float(f) => *f,
                    };
                    if factor <= 0.0 {
                        Some(true)
                    } else {
                        let multiple = if factor < 1.0 { 1.0 / factor * data } else { data / factor };
                        (multiple != multiple.trunc()).then_some(false)
                    }
                }
            };
            match failed {
                Some(true) => out.add(Failure::Composite(format!(
                    "factor MultipleOf declared for {path} must be positive: {}",
                    go_float(factor)
                ))),
                Some(false) => {
                    let message = format!("{path} in body should be a multiple of {}", go_float(factor));
                    out.add(failure(Code::Other, path, Some(value.clone()), message));
                }
                None => {}
            }
        }
        let bound = |limit: f64| match number {
            Number::Int(_) => (limit.trunc(), format!("{}", limit.trunc() as i64)),
            Number::Float(_) => (limit, go_float(limit)),
        };
        let data = match number {
            Number::Int(i) => *i as f64,
            Number::Float(f) => *f,
        };
        if let Some(minimum) = checks.minimum {
            let (limit, shown) = bound(minimum);
            let exclusive = checks.exclusive_minimum;
            if (!exclusive && data < limit) || (exclusive && data <= limit) {
                let relation = if exclusive { "greater than" } else { "greater than or equal to" };
                let message = format!("{path} in body should be {relation} {shown}");
                out.add(failure(Code::Other, path, Some(value.clone()), message));
            }
        }
        if let Some(maximum) = checks.maximum {
            let (limit, shown) = bound(maximum);
            let exclusive = checks.exclusive_maximum;
            if (!exclusive && data > limit) || (exclusive && data >= limit) {
                let relation = if exclusive { "less than" } else { "less than or equal to" };
                let message = format!("{path} in body should be {relation} {shown}");
                out.add(failure(Code::Other, path, Some(value.clone()), message));
            }
        }
    }

    fn check_array(items: &[Value], checks: &Checks, path: &str, out: &mut Outcome) {
        let size = items.len() as u64;
        if let Some(min) = checks.min_items
            && size < min
        {
            let message = format!("{path} in body should have at least {min} items");
            out.add(failure(Code::Other, path, Some(size.into()), message));
        }
        if let Some(max) = checks.max_items
            && size > max
        {
            let message = format!("{path} in body should have at most {max} items");
            out.add(Failure::Validation {
                code: Code::MaxItems,
                name: path.to_string(),
                value: Some(size.into()),
                limit: Some(max),
                allowed: Vec::new(),
                message,
            });
        }
        if checks.unique_items && items.iter().enumerate().any(|(i, item)| items[..i].contains(item)) {
            out.add(failure(Code::Other, path, None, format!("{path} in body shouldn't contain duplicates")));
        }
    }

    fn check_enum(value: &Value, checks: &Checks, path: &str, out: &mut Outcome) {
        let Some(allowed) = &checks.enumeration else { return };
        if allowed.is_empty() || (!value.is_null() && allowed.iter().any(|a| enum_equal(value, a))) {
            return;
        }
        let shown = if value.is_null() { Value::from("null") } else { value.clone() };
        let listed: Vec<String> = allowed.iter().map(Value::to_string).collect();
        let message = format!("{path} in body should be one of [{}]", listed.join(" "));
        out.add(Failure::Validation {
            code: Code::Enum,
            name: path.to_string(),
            value: Some(shown),
            limit: None,
            allowed: allowed.clone(),
            message,
        });
    }

    fn check_object(&self, map: &Map<String, Value>, id: NodeId, path: &str, out: &mut Outcome) {
        let node = self.compiled.node(id);
        let size = map.len() as u64;
        if let Some(checks) = node.checks.as_deref() {
            if let Some(min) = checks.min_properties
                && size < min
            {
                let message = format!("{path} in body should have at least {min} properties");
                out.add(failure(Code::Other, path, Some(size.into()), message));
            }
            if let Some(max) = checks.max_properties
                && size > max
            {
                let message = format!("{path} in body should have at most {max} properties");
                out.add(Failure::Validation {
                    code: Code::TooManyProperties,
                    name: path.to_string(),
                    value: Some(size.into()),
                    limit: Some(max),
                    allowed: Vec::new(),
                    message,
                });
            }
        }
        if let Some(additional) = node.additional {
            for (key, child) in map.iter().filter(|(key, _)| !node.properties.contains_key(*key)) {
                self.validate(child, additional, &child_path(path, key), out);
            }
        }
        for (key, &child_node) in &node.properties {
            if let Some(child) = map.get(key) {
                self.validate(child, child_node, &child_path(path, key), out);
            }
        }
        if let Some(checks) = node.checks.as_deref() {
            for required in checks.required.iter().filter(|r| !map.contains_key(*r)) {
                let name = format!("{path}.{required}");
                out.add(failure(Code::Required, &name, None, format!("{name} in body is required")));
            }
        }
    }
}

/// `x-kubernetes-list-type: set|map` uniqueness, as kube-apiserver checks it after schema validation.
fn list_types(value: &Value, compiled: &Compiled, node: Option<NodeId>, path: &str, errors: &mut Vec<FieldError>) {
    let Some(id) = node else { return };
    let node = compiled.node(id);
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if let Some(&child_node) = node.properties.get(key) {
                    list_types(child, compiled, Some(child_node), &child_path(path, key), errors);
                } else if node.additional.is_some() {
                    list_types(child, compiled, node.additional, &format!("{path}[{key}]"), errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(checks) = node.checks.as_deref() {
                match checks.list_type.as_deref() {
                    Some("set") => duplicates_at(items.to_vec(), path, errors),
                    Some("map") => {
                        if let Some(index) = items.iter().position(|item| !item.is_null() && !item.is_object()) {
                            errors.push(FieldError::invalid(
                                format!("{path}[{index}]"),
                                items[index].clone(),
                                "must be an object for an array of list-type map",
                            ));
                        } else {
                            let keys = items
                                .iter()
                                .map(|item| {
                                    let mut key = Map::new();
                                    for field in &checks.list_map_keys {
                                        if let Some(v) = item.get(field) {
                                            key.insert(field.clone(), v.clone());
                                        }
                                    }
                                    Value::Object(key)
                                })
                                .collect();
                            duplicates_at(keys, path, errors);
                        }
                    }
                    _ => {}
                }
            }
            for (index, item) in items.iter().enumerate() {
                list_types(item, compiled, node.items, &format!("{path}[{index}]"), errors);
            }
        }
        _ => {}
    }
}

/// A `Duplicate value` error at the second occurrence of every repeated value.
fn duplicates_at(values: Vec<Value>, path: &str, errors: &mut Vec<FieldError>) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, value) in values.into_iter().enumerate() {
        let count = seen.entry(value.to_string()).or_insert(0);
        *count += 1;
        if *count == 2 {
            errors.push(FieldError::duplicate(format!("{path}[{index}]"), value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::go_float;

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(-3.0), "-3");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(1e22), "1e+22");
    }
}
