//! Strategic merge patch as kube-apiserver applies it: merge keys, `$patch`, `$retainKeys`, parallel lists.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::fieldset::canonical_json;
use super::schema::{MergeSchema, NodeId, ROOT, SmpStrategy};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// Why a strategic merge patch failed, by the status kube-apiserver answers with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SmpError {
    /// 400: the patch is malformed (`mergepatch.ErrBadPatchFormat*`).
    #[error("{0}")]
    BadRequest(String),
    /// 422: the patch cannot apply (lists of lists, retainKeys mismatch).
    #[error("{0}")]
    Invalid(String),
    /// 500 with no reason: any other failure, which kube-apiserver does not classify.
    #[error("{0}")]
    Other(String),
}

fn bad_primitive_list() -> SmpError {
    SmpError::BadRequest("invalid patch format of primitive list".to_string())
}

fn bad_retain_keys() -> SmpError {
    SmpError::BadRequest("invalid patch format of retainKeys".to_string())
}

fn bad_set_element_order() -> SmpError {
    SmpError::BadRequest("invalid patch format of setElementOrder list".to_string())
}

/// Go's spelling of a JSON value's dynamic type (`reflect.TypeOf`), for kube's error messages.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%v` of a decoded JSON value: `map[a:1 b:[x y]]`.
pub(crate) fn go_format(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_format).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys.into_iter().map(|k| format!("{k}:{}", go_format(&map[k.as_str()]))).collect();
            format!("map[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

fn bad_arg_type(expected: &str, actual: &Value) -> SmpError {
    SmpError::Other(format!("expected a {expected}, but received a {}", go_type(actual)))
}

fn no_merge_key(map: &Map<String, Value>, key: &str) -> SmpError {
    SmpError::Other(format!(
        "map: {} does not contain declared merge key: {key}",
        go_format(&Value::Object(map.clone()))
    ))
}

/// Applies a strategic merge patch to `original` (an object) with the semantics of `schema`.
pub(crate) fn apply(
    original: Map<String, Value>,
    patch: Map<String, Value>,
    schema: &MergeSchema,
) -> Result<Map<String, Value>, SmpError> {
    merge_map(schema, ROOT, original, patch)
}

fn merge_map(
    schema: &MergeSchema,
    node: NodeId,
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
) -> Result<Map<String, Value>, SmpError> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(SmpError::Other(format!(
                "unknown patch type: {} in map: {}",
                go_format(directive),
                go_format(&Value::Object(patch.clone()))
            ))),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_ordered_lists(schema, node, &mut original, &mut patch)?;
    for (key, patch_value) in patch {
        let (key, is_delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(rest) => (rest.strip_prefix('/').ok_or_else(bad_primitive_list)?.to_string(), true),
            None => (key, false),
        };
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let Some(current) = original.get(&key) else {
            if !is_delete_list {
                let mut value = patch_value;
                discard_nulls(&mut value);
                if let Some(value) = remove_directives(value) {
                    original.insert(key, value);
                }
            }
            continue;
        };
        let same_kind = matches!(
            (current, &patch_value),
            (Value::Object(_), Value::Object(_)) | (Value::Array(_), Value::Array(_))
        ) || go_type(current) == go_type(&patch_value);
        if !same_kind {
            if !is_delete_list {
                let mut value = patch_value;
                discard_nulls(&mut value);
                match remove_directives(value) {
                    Some(value) => original.insert(key, value),
                    None => original.remove(&key),
                };
            }
            continue;
        }
        let child = schema.child(node, &key).0;
        let smp = &schema.node(child).smp;
        let merged = match (original.remove(&key), patch_value) {
            (Some(Value::Object(o)), Value::Object(p)) => {
                if smp.strategy == SmpStrategy::Replace {
                    Some(Value::Object(p))
                } else {
                    Some(Value::Object(merge_map(schema, child, o, p)?))
                }
            }
            (Some(Value::Array(o)), Value::Array(p)) => {
                if smp.strategy == SmpStrategy::Merge || is_delete_list {
                    let merge_key = smp.merge_key.clone().unwrap_or_default();
                    Some(Value::Array(merge_slice(schema, child, o, p, &merge_key, is_delete_list)?))
                } else {
                    Some(Value::Array(p))
                }
            }
            (_, scalar) => remove_directives(scalar),
        };
        if let Some(value) = merged {
            original.insert(key, value);
        }
    }
    Ok(original)
}

/// `$retainKeys`: keys of the original not listed are cleared; keys of the patch must all be listed.
fn apply_retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<(), SmpError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else { return Ok(()) };
    let Value::Array(retain) = retain else { return Err(bad_retain_keys()) };
    let retained: HashSet<&str> = retain.iter().filter_map(Value::as_str).collect();
    for (key, value) in patch.iter() {
        if value.is_null() || key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || key.starts_with(SET_ELEMENT_ORDER) {
            continue;
        }
        if !retained.contains(key.as_str()) {
            return Err(bad_retain_keys());
        }
    }
    original.retain(|key, _| retained.contains(key.as_str()));
    Ok(())
}

/// `$setElementOrder/<list>`: merges the list with its patch and orders the result as the directive says.
fn merge_ordered_lists(
    schema: &MergeSchema,
    node: NodeId,
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), SmpError> {
    let directives: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
    for directive in directives {
        let Some(order) = patch.remove(&directive) else { continue };
        let Value::Array(order) = order else { return Err(bad_arg_type("[]interface {}", &order)) };
        let key = directive
            .strip_prefix(SET_ELEMENT_ORDER)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(bad_set_element_order)?
            .to_string();
        let original_list = match original.get(&key) {
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return Err(bad_arg_type("[]interface {}", other)),
            None => None,
        };
        let patch_list = match patch.get(&key) {
            Some(Value::Array(items)) => Some(items.clone()),
            Some(other) => return Err(bad_arg_type("[]interface {}", other)),
            None => None,
        };
        let child = schema.child(node, &key).0;
        let smp = schema.node(child).smp.clone();
        let merge_key = smp.merge_key.clone().unwrap_or_default();
        validate_order(patch_list.as_deref().unwrap_or_default(), &order, &merge_key)?;
        let merged = match (&original_list, &patch_list) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => match remove_directives(Value::Array(p.clone())) {
                Some(Value::Array(items)) => items,
                _ => continue,
            },
            (Some(o), Some(p)) => {
                if smp.strategy == SmpStrategy::Merge {
                    merge_slice(schema, child, o.clone(), p.clone(), &merge_key, false)?
                } else {
                    p.clone()
                }
            }
            (None, None) => continue,
        };
        let (in_order, server_only) = partition(merged, &order, &merge_key)?;
        let kind =
            element_kind(&[original_list.as_deref().unwrap_or_default(), patch_list.as_deref().unwrap_or_default()])?;
        let server_order = original_list.unwrap_or_default();
        let all = normalize_order(in_order, server_only, &order, &server_order, &merge_key, kind)?;
        original.insert(key.clone(), Value::Array(all));
        patch.remove(&key);
    }
    Ok(())
}

/// The relative order of the patch list's items must match the `$setElementOrder` list.
fn validate_order(patch_list: &[Value], order: &[Value], merge_key: &str) -> Result<(), SmpError> {
    if patch_list.is_empty() || order.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<&Value> = if merge_key.is_empty() {
        patch_list.iter().collect()
    } else {
        let mut kept = Vec::new();
        for item in patch_list {
            let Value::Object(map) = item else { return Err(bad_arg_type("map[string]interface {}", item)) };
            if map.get(DIRECTIVE).and_then(Value::as_str) != Some("delete") {
                kept.push(item);
            }
        }
        kept
    };
    let (mut pi, mut oi) = (0, 0);
    while pi < non_delete.len() && oi < order.len() {
        if non_delete[pi].as_object().is_some_and(|m| m.contains_key(DIRECTIVE)) {
            pi += 1;
            continue;
        }
        if merge_key_equal(non_delete[pi], &order[oi], merge_key)? {
            pi += 1;
        }
        oi += 1;
    }
    if pi < non_delete.len() && oi >= order.len() {
        return Err(SmpError::Other(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_format(&Value::Array(patch_list.to_vec())),
            go_format(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn merge_key_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, SmpError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let Value::Object(l) = left else { return Err(bad_arg_type("map[string]interface {}", left)) };
    let Value::Object(r) = right else { return Err(bad_arg_type("map[string]interface {}", right)) };
    let lv = l.get(merge_key).ok_or_else(|| no_merge_key(l, merge_key))?;
    let rv = r.get(merge_key).ok_or_else(|| no_merge_key(r, merge_key))?;
    Ok(lv == rv)
}

/// The type all items of the given lists share: `true` for objects, `false` for scalars.
fn element_kind(lists: &[&[Value]]) -> Result<bool, SmpError> {
    let mut kind: Option<&'static str> = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let t = go_type(item);
        match kind {
            None if item.is_array() => return Err(SmpError::Invalid("lists of lists are not supported".to_string())),
            None => kind = Some(t),
            Some(k) if k != t => {
                let all: Vec<Value> = lists.iter().map(|l| Value::Array(l.to_vec())).collect();
                return Err(SmpError::Other(format!(
                    "list element types are not identical: {}",
                    go_format(&Value::Array(all))
                )));
            }
            Some(_) => {}
        }
    }
    match kind {
        Some(k) => Ok(k == "map[string]interface {}"),
        None => Err(SmpError::Other("no elements in any of the given slices".to_string())),
    }
}

fn merge_slice(
    schema: &MergeSchema,
    node: NodeId,
    original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    is_delete_list: bool,
) -> Result<Vec<Value>, SmpError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let is_map = element_kind(&[&original, &patch])?;
    if !is_map {
        if is_delete_list {
            let doomed: HashSet<String> = patch.iter().map(identity).collect();
            return Ok(original.into_iter().filter(|v| !doomed.contains(&identity(v))).collect());
        }
        let mut seen = HashSet::new();
        let merged: Vec<Value> =
            original.iter().chain(patch.iter()).filter(|v| seen.insert(identity(v))).cloned().collect();
        let (in_patch, server_only) = partition(merged, &patch, "")?;
        return normalize_order(in_patch, server_only, &patch, &original, "", false);
    }
    if merge_key.is_empty() {
        return Err(SmpError::Other("cannot merge lists without merge key for struct".to_string()));
    }
    let (original, patch) = merge_special_elements(original, patch, merge_key)?;
    let item_node = schema.item(node);
    let mut merged = original.clone();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, item) in merged.iter().enumerate() {
        let Value::Object(map) = item else { return Err(SmpError::Other(format!("value for key {i} is not a map"))) };
        if let Some(key_value) = map.get(merge_key) {
            index.entry(identity(key_value)).or_insert(i);
        }
    }
    for item in &patch {
        let Value::Object(map) = item else { return Err(bad_arg_type("map[string]interface {}", item)) };
        let key_value = map.get(merge_key).ok_or_else(|| no_merge_key(map, merge_key))?;
        match index.get(&identity(key_value)).copied() {
            Some(position) => {
                let current = match merged.get_mut(position).map(Value::take) {
                    Some(Value::Object(current)) => current,
                    _ => Map::new(),
                };
                if let Some(slot) = merged.get_mut(position) {
                    *slot = Value::Object(merge_map(schema, item_node, current, map.clone())?);
                }
            }
            None => {
                index.insert(identity(key_value), merged.len());
                merged.push(item.clone());
            }
        }
    }
    let (in_patch, server_only) = partition(merged, &patch, merge_key)?;
    normalize_order(in_patch, server_only, &patch, &original, merge_key, true)
}

/// Handles `{"$patch": "delete", <key>: ...}` and `{"$patch": "replace"}` items; returns the original list
/// (after deletions, or the replacement) and the patch's plain items.
fn merge_special_elements(
    original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
    let mut original = original;
    let mut plain = Vec::new();
    let mut replace = false;
    let mut doomed: HashSet<String> = HashSet::new();
    for item in patch {
        let Value::Object(map) = &item else { return Err(bad_arg_type("map[string]interface {}", &item)) };
        let Some(directive) = map.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let key_value = map.get(merge_key).ok_or_else(|| no_merge_key(map, merge_key))?;
                doomed.insert(identity(key_value));
            }
            Some("replace") => replace = true,
            Some("merge") => return Err(SmpError::Other("merging lists cannot yet be specified in the patch".into())),
            _ => {
                return Err(SmpError::Other(format!(
                    "unknown patch type: {} in map: {}",
                    go_format(directive),
                    go_format(&item)
                )));
            }
        }
    }
    if !doomed.is_empty() {
        let mut kept = Vec::with_capacity(original.len());
        for (i, existing) in original.into_iter().enumerate() {
            let Value::Object(e) = &existing else {
                return Err(SmpError::Other(format!("value for key {i} is not a map")));
            };
            if !e.get(merge_key).is_some_and(|v| doomed.contains(&identity(v))) {
                kept.push(existing);
            }
        }
        original = kept;
    }
    if replace { Ok((plain, Vec::new())) } else { Ok((original, plain)) }
}

/// A hashable identity for scalar comparison: canonical JSON (so `1` and `1.0` stay distinct, as in Go).
fn identity(value: &Value) -> String {
    let mut out = String::new();
    canonical_json(value, &mut out);
    out
}

/// The identity of an item for ordering: its merge key's value for objects, itself for scalars.
fn order_identity(item: &Value, merge_key: &str) -> Option<String> {
    if merge_key.is_empty() {
        Some(identity(item))
    } else {
        item.as_object().and_then(|m| m.get(merge_key)).map(identity)
    }
}

/// Splits `items` into those present in `by` (by merge key for objects) and the others, keeping order.
fn partition(items: Vec<Value>, by: &[Value], merge_key: &str) -> Result<(Vec<Value>, Vec<Value>), SmpError> {
    let present: HashSet<String> = by.iter().filter_map(|v| order_identity(v, merge_key)).collect();
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for item in items {
        if !merge_key.is_empty() {
            let Value::Object(map) = &item else { return Err(bad_arg_type("map[string]interface {}", &item)) };
            if !map.contains_key(merge_key) {
                return Err(no_merge_key(map, merge_key));
            }
        }
        match order_identity(&item, merge_key) {
            Some(id) if present.contains(&id) => inside.push(item),
            _ => outside.push(item),
        }
    }
    Ok((inside, outside))
}

fn positions(order: &[Value], merge_key: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for (i, item) in order.iter().enumerate() {
        if let Some(id) = order_identity(item, merge_key) {
            out.entry(id).or_insert(i);
        }
    }
    out
}

/// Sorts patch items by `patch_order` and server-only items by `server_order`, then interleaves them: a
/// server-only item goes before a patch item when the live list had it before that item.
fn normalize_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Result<Vec<Value>, SmpError> {
    let patch_items = sort_by_order(patch_items, patch_order, merge_key, is_map)?;
    let server_only = sort_by_order(server_only, server_order, merge_key, is_map)?;
    let server_positions = positions(server_order, merge_key);
    let position = |item: &Value| order_identity(item, merge_key).and_then(|id| server_positions.get(&id).copied());
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => matches!((position(l), position(r)), (Some(li), Some(ri)) if li < ri),
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
    Ok(out)
}

/// A stable sort by position in `order`; for objects, `$patch: delete` items go last. Items missing from
/// `order` move to the front, as the insertion sort of Go's `sort.SliceStable` leaves them.
fn sort_by_order(items: Vec<Value>, order: &[Value], merge_key: &str, is_map: bool) -> Result<Vec<Value>, SmpError> {
    let mut items = items;
    let mut doomed = Vec::new();
    if is_map {
        for item in items.iter().chain(order.iter()) {
            let Value::Object(map) = item else { return Err(bad_arg_type("map[string]interface {}", item)) };
            if !map.contains_key(merge_key) {
                return Err(no_merge_key(map, merge_key));
            }
        }
        let (kept, deleted): (Vec<Value>, Vec<Value>) =
            items.into_iter().partition(|item| item.get(DIRECTIVE).and_then(Value::as_str) != Some("delete"));
        items = kept;
        doomed = deleted;
    }
    let at = positions(order, merge_key);
    let mut keyed: Vec<(Option<usize>, Value)> = items
        .into_iter()
        .map(|item| (order_identity(&item, merge_key).and_then(|id| at.get(&id).copied()), item))
        .collect();
    keyed.sort_by_key(|(position, _)| position.map_or(0, |p| p + 1));
    let mut out: Vec<Value> = keyed.into_iter().map(|(_, item)| item).collect();
    out.extend(doomed);
    Ok(out)
}

/// Drops null object members anywhere in a value taken whole from the patch.
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// Strips `$patch` directives from a value taken whole from the patch; `None` when the value itself is one.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) => {
            if map.contains_key(DIRECTIVE) {
                return None;
            }
            Some(Value::Object(map.into_iter().filter_map(|(k, v)| remove_directives(v).map(|v| (k, v))).collect()))
        }
        Value::Array(items) => Some(Value::Array(items.into_iter().filter_map(remove_directives).collect())),
        other => Some(other),
    }
}

#[cfg(test)]
#[path = "strategic_tests.rs"]
mod tests;
