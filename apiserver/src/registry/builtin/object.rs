//! JSON helpers for the built-in kinds: typed reads, in-place defaults, label and duration formats as kubectl shows them.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};

/// The value at `path` (object keys only), if every step exists.
pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |value, key| value.get(key))
}

/// The string at `path`, or `""` when missing or not a string.
pub(crate) fn str_at<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    at(value, path).and_then(Value::as_str).unwrap_or_default()
}

/// The integer at `path`, or 0 when missing or not an integer.
pub(crate) fn int_at(value: &Value, path: &[&str]) -> i64 {
    at(value, path).and_then(Value::as_i64).unwrap_or_default()
}

/// The boolean at `path`, or false when missing or not a boolean.
pub(crate) fn bool_at(value: &Value, path: &[&str]) -> bool {
    at(value, path).and_then(Value::as_bool).unwrap_or_default()
}

/// The array at `path`, or an empty slice.
pub(crate) fn list_at<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// The object at `path`, if there is one.
pub(crate) fn map_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    at(value, path).and_then(Value::as_object)
}

/// Whether `path` holds a non-null value.
pub(crate) fn has(value: &Value, path: &[&str]) -> bool {
    at(value, path).is_some_and(|v| !v.is_null())
}

/// The object at `path`, creating missing or null steps; `None` when something other than an object is in the way.
pub(crate) fn object_mut<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut current = value;
    for key in path {
        let map = current.as_object_mut()?;
        let entry = map.entry(key.to_string()).or_insert(Value::Null);
        if entry.is_null() {
            *entry = Value::Object(Map::new());
        }
        current = entry;
    }
    current.as_object_mut()
}

/// The object at `path` when it already exists (nothing is created).
pub(crate) fn existing_mut<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    path.iter().try_fold(value, |value, key| value.get_mut(key))?.as_object_mut()
}

/// Sets `key` to `value` when it is missing or null.
pub(crate) fn default_field(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.get(key) {
        Some(existing) if !existing.is_null() => {}
        _ => {
            map.insert(key.to_string(), value);
        }
    }
}

/// Applies `f` to every object element of the array `key` in `map`.
pub(crate) fn each_item(map: &mut Map<String, Value>, key: &str, mut f: impl FnMut(&mut Map<String, Value>)) {
    if let Some(items) = map.get_mut(key).and_then(Value::as_array_mut) {
        items.iter_mut().filter_map(Value::as_object_mut).for_each(&mut f);
    }
}

/// A string map (labels, selectors, node selectors) as sorted pairs; non-string values are skipped.
pub(crate) fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|map| map.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// `labels.FormatLabels`: `a=b,c=d` sorted by key, `<none>` when empty.
pub(crate) fn format_labels(value: Option<&Value>) -> String {
    let labels = string_map(value);
    if labels.is_empty() {
        return "<none>".to_string();
    }
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// A `LabelSelector` as the label selector string kube prints (`app=web,tier in (a,b),!legacy`); `""` for an
/// absent or empty selector. `Err` when the selector cannot be converted (unknown operator, values where none
/// belong, or none where some must be).
pub(crate) fn selector_string(selector: Option<&Value>) -> Result<String, ()> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else { return Ok(String::new()) };
    let mut requirements: Vec<(String, String)> = Vec::new();
    for (key, value) in map_at(selector, &["matchLabels"]).into_iter().flatten() {
        let value = value.as_str().ok_or(())?;
        requirements.push((key.clone(), format!("{key}={value}")));
    }
    for expression in list_at(selector, &["matchExpressions"]) {
        let key = str_at(expression, &["key"]);
        let mut values: Vec<&str> = list_at(expression, &["values"]).iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        values.dedup();
        let text = match str_at(expression, &["operator"]) {
            "In" if !values.is_empty() => format!("{key} in ({})", values.join(",")),
            "NotIn" if !values.is_empty() => format!("{key} notin ({})", values.join(",")),
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(()),
        };
        requirements.push((key.to_string(), text));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(requirements.into_iter().map(|(_, text)| text).collect::<Vec<_>>().join(","))
}

/// `metav1.FormatLabelSelector`: the selector string, `<none>` when empty, `<error>` when invalid.
pub(crate) fn format_label_selector(selector: Option<&Value>) -> String {
    match selector_string(selector) {
        Ok(text) if text.is_empty() => "<none>".to_string(),
        Ok(text) => text,
        Err(()) => "<error>".to_string(),
    }
}

/// Whether every pair of `selector`'s `matchLabels` and every expression holds for `labels`.
pub(crate) fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let exact = string_map(at(selector, &["matchLabels"])).iter().all(|(k, v)| labels.get(k) == Some(v));
    exact
        && list_at(selector, &["matchExpressions"]).iter().all(|expression| {
            let key = str_at(expression, &["key"]);
            let values: Vec<&str> = list_at(expression, &["values"]).iter().filter_map(Value::as_str).collect();
            let value = labels.get(key).map(String::as_str);
            match str_at(expression, &["operator"]) {
                "In" => value.is_some_and(|v| values.contains(&v)),
                "NotIn" => value.is_none_or(|v| !values.contains(&v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// An RFC 3339 timestamp, as `metav1.Time` is written.
pub(crate) fn parse_time(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}

/// The timestamp at `path`, if present and well-formed.
pub(crate) fn time_at(value: &Value, path: &[&str]) -> Option<Timestamp> {
    parse_time(str_at(value, path))
}

/// How long ago `at` was, as kubectl's AGE column shows it (`<unknown>` when there is no time).
pub(crate) fn since(at: Option<Timestamp>, now: Timestamp) -> String {
    match at {
        Some(at) => human_duration(now.duration_since(at)),
        None => "<unknown>".to_string(),
    }
}

/// The object's age (`metadata.creationTimestamp` until `now`).
pub(crate) fn age(object: &Value, now: Timestamp) -> String {
    since(time_at(object, &["metadata", "creationTimestamp"]), now)
}

/// `duration.HumanDuration`: two or three significant figures (`45s`, `5m30s`, `3h12m`, `6d2h`, `2y30d`).
pub(crate) fn human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{days}d", hours / 24 / 365) };
    }
    format!("{}y", hours / 24 / 365)
}

/// The `status` of the condition of `kind` in `path` (e.g. `["status", "conditions"]`), or `""`.
pub(crate) fn condition_status<'a>(object: &'a Value, path: &[&str], kind: &str) -> &'a str {
    list_at(object, path)
        .iter()
        .find(|c| str_at(c, &["type"]) == kind)
        .map(|c| str_at(c, &["status"]))
        .unwrap_or_default()
}
