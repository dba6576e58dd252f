//! Schema-aware walks over objects for server-side apply: field sets, comparisons, merges and removals.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};

use super::fieldset::{self, Element, FieldSet, Path};
use super::schema::{ListType, MergeSchema, NodeId, ROOT};

/// A problem with the shape of an object at a path, printed as structured-merge-diff does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ShapeError {
    pub(crate) path: Path,
    pub(crate) message: String,
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", fieldset::path_string(&self.path), self.message)
    }
}

/// The element identifying `item` in a list of type `list`.
fn item_element(list: &ListType, item: &Value) -> Result<Element, String> {
    match list {
        ListType::Atomic => Err("invalid indexing of non-associative list".to_string()),
        ListType::Set => match item {
            Value::Object(_) => Err("associative list without keys has an element that's a map type".to_string()),
            Value::Array(_) => Err("associative list without keys has an element that's a list type".to_string()),
            scalar => Ok(fieldset::value(scalar)),
        },
        ListType::Map(keys) => {
            let Value::Object(map) = item else {
                return Err(if item.is_null() {
                    "associative list with keys may not have a null element".to_string()
                } else {
                    "associative list with keys may not have non-map elements".to_string()
                });
            };
            let mut fields = Vec::new();
            for key in keys {
                if let Some(value) = map.get(&key.name) {
                    fields.push((key.name.clone(), value.clone()));
                } else if let Some(default) = &key.default {
                    fields.push((key.name.clone(), default.clone()));
                }
            }
            if fields.is_empty() {
                let names: Vec<String> = keys.iter().map(|k| Value::String(k.name.clone()).to_string()).collect();
                return Err(format!(
                    "associative list with keys has an element that omits all key fields [{}] (and doesn't have default values for any key fields)",
                    names.join(" ")
                ));
            }
            Ok(fieldset::key(&fields))
        }
    }
}

/// The fields `value` sets, as structured-merge-diff's `ToFieldSet`: leaves, list items, empty or null objects,
/// atomic values and map keys. Items whose key cannot be computed are reported; duplicates are kept once.
pub(crate) fn to_field_set(schema: &MergeSchema, value: &Value) -> Result<FieldSet, ShapeError> {
    let mut set = FieldSet::new();
    field_set_walk(schema, ROOT, value, &mut Vec::new(), &mut set)?;
    Ok(set)
}

fn field_set_walk(
    schema: &MergeSchema,
    node: NodeId,
    value: &Value,
    path: &mut Path,
    set: &mut FieldSet,
) -> Result<(), ShapeError> {
    let info = schema.node(node);
    match value {
        Value::Object(map) if !info.atomic => {
            for (key, child) in map {
                let (child_node, named) = schema.child(node, key);
                path.push(fieldset::field(key));
                field_set_walk(schema, child_node, child, path, set)?;
                let empty = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                if empty || !named {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Value::Array(items) if !matches!(info.list, ListType::Atomic) => {
            let item_node = schema.item(node);
            let mut seen: HashMap<Element, usize> = HashMap::new();
            let mut elements = Vec::with_capacity(items.len());
            for item in items {
                let element =
                    item_element(&info.list, item).map_err(|message| ShapeError { path: path.clone(), message })?;
                *seen.entry(element.clone()).or_default() += 1;
                elements.push(element);
            }
            for (item, element) in items.iter().zip(elements) {
                path.push(element.clone());
                if seen.get(&element).is_some_and(|n| *n == 1) {
                    field_set_walk(schema, item_node, item, path, set)?;
                }
                set.insert(path);
                path.pop();
            }
        }
        _ => set.insert(path),
    }
    Ok(())
}

/// Errors of an applied configuration that structured-merge-diff refuses: bad list items and duplicates.
pub(crate) fn validate_applied(schema: &MergeSchema, value: &Value) -> Vec<ShapeError> {
    let mut errors = Vec::new();
    validate_walk(schema, ROOT, value, &mut Vec::new(), &mut errors);
    errors
}

fn validate_walk(schema: &MergeSchema, node: NodeId, value: &Value, path: &mut Path, errors: &mut Vec<ShapeError>) {
    let info = schema.node(node);
    match value {
        Value::Object(map) if !info.atomic => {
            for (key, child) in map {
                path.push(fieldset::field(key));
                validate_walk(schema, schema.child(node, key).0, child, path, errors);
                path.pop();
            }
        }
        Value::Array(items) if !matches!(info.list, ListType::Atomic) => {
            let mut seen = HashSet::new();
            for (i, item) in items.iter().enumerate() {
                match item_element(&info.list, item) {
                    Ok(element) => {
                        if !seen.insert(element.clone()) {
                            let shown = fieldset::path_string(std::slice::from_ref(&element));
                            errors.push(ShapeError {
                                path: path.clone(),
                                message: format!("duplicate entries for key {shown}"),
                            });
                            continue;
                        }
                        path.push(element);
                        validate_walk(schema, schema.item(node), item, path, errors);
                        path.pop();
                    }
                    Err(message) => {
                        errors.push(ShapeError { path: path.clone(), message: format!("element {i}: {message}") })
                    }
                }
            }
        }
        _ => {}
    }
}

/// The differences between two versions of an object, as path sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Comparison {
    pub(crate) added: FieldSet,
    pub(crate) modified: FieldSet,
    pub(crate) removed: FieldSet,
}

impl Comparison {
    /// Drops every path at or below a member of `ignored`.
    pub(crate) fn exclude(&mut self, ignored: &FieldSet) {
        self.added = self.added.recursive_difference(ignored);
        self.modified = self.modified.recursive_difference(ignored);
        self.removed = self.removed.recursive_difference(ignored);
    }
}

/// Compares `lhs` (old) with `rhs` (new) as structured-merge-diff's `Compare`: leaves that changed are modified,
/// and every node (leaf or not) present on one side only is added or removed. List items whose key cannot be
/// computed are skipped.
pub(crate) fn compare(schema: &MergeSchema, lhs: &Value, rhs: &Value) -> Comparison {
    let mut out = Comparison::default();
    compare_walk(schema, ROOT, Some(lhs), Some(rhs), &mut Vec::new(), &mut out);
    out
}

fn compare_leaf(lhs: Option<&Value>, rhs: Option<&Value>, path: &Path, out: &mut Comparison) {
    match (lhs, rhs) {
        (None, Some(_)) => out.added.insert(path),
        (Some(_), None) => out.removed.insert(path),
        (Some(l), Some(r)) if l != r => out.modified.insert(path),
        _ => {}
    }
}

fn empty_or_null(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(_) => false,
    }
}

fn compare_walk(
    schema: &MergeSchema,
    node: NodeId,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    path: &mut Path,
    out: &mut Comparison,
) {
    let info = schema.node(node);
    let is_map = |v: Option<&Value>| matches!(v, None | Some(Value::Null) | Some(Value::Object(_)));
    let is_list = |v: Option<&Value>| matches!(v, None | Some(Value::Null) | Some(Value::Array(_)));
    let any_map = matches!(lhs, Some(Value::Object(_))) || matches!(rhs, Some(Value::Object(_)));
    let any_list = matches!(lhs, Some(Value::Array(_))) || matches!(rhs, Some(Value::Array(_)));
    let both_empty = empty_or_null(lhs) && empty_or_null(rhs);
    if any_map && is_map(lhs) && is_map(rhs) && !info.atomic && !both_empty {
        let empty = Map::new();
        let l = lhs.and_then(Value::as_object).unwrap_or(&empty);
        let r = rhs.and_then(Value::as_object).unwrap_or(&empty);
        let keys: std::collections::BTreeSet<&String> = l.keys().chain(r.keys()).collect();
        for key in keys {
            path.push(fieldset::field(key));
            compare_walk(schema, schema.child(node, key).0, l.get(key), r.get(key), path, out);
            path.pop();
        }
    } else if any_list && is_list(lhs) && is_list(rhs) && !matches!(info.list, ListType::Atomic) && !both_empty {
        let empty = Vec::new();
        let l = lhs.and_then(Value::as_array).unwrap_or(&empty);
        let r = rhs.and_then(Value::as_array).unwrap_or(&empty);
        let index = |items: &[Value]| {
            let mut order: Vec<Element> = Vec::new();
            let mut groups: HashMap<Element, Vec<Value>> = HashMap::new();
            for item in items {
                let Ok(element) = item_element(&info.list, item) else { continue };
                let group = groups.entry(element.clone()).or_default();
                if group.is_empty() {
                    order.push(element);
                }
                group.push(item.clone());
            }
            (order, groups)
        };
        let (l_order, l_groups) = index(l);
        let (r_order, r_groups) = index(r);
        let mut all = l_order;
        all.extend(r_order.into_iter().filter(|e| !l_groups.contains_key(e)));
        let item_node = schema.item(node);
        for element in all {
            let ls = l_groups.get(&element).map(Vec::as_slice).unwrap_or_default();
            let rs = r_groups.get(&element).map(Vec::as_slice).unwrap_or_default();
            path.push(element);
            match (ls.len(), rs.len()) {
                (0..=1, 0..=1) => compare_walk(schema, item_node, ls.first(), rs.first(), path, out),
                (2.., 2..) => {
                    if ls != rs {
                        out.modified.insert(path);
                    }
                }
                (2.., _) => {
                    if let Some(r) = rs.first() {
                        compare_walk(schema, item_node, None, Some(r), path, out);
                    }
                    out.removed.insert(path);
                }
                (_, _) => {
                    if let Some(l) = ls.first() {
                        compare_walk(schema, item_node, Some(l), None, path, out);
                    }
                    out.added.insert(path);
                }
            }
            path.pop();
        }
    } else {
        compare_leaf(lhs, rhs, path, out);
        return;
    }
    match (lhs, rhs) {
        (None, Some(_)) => out.added.insert(path),
        (Some(_), None) => out.removed.insert(path),
        _ => {}
    }
}

/// Merges an applied configuration into the live object as server-side apply does: objects field by field,
/// atomic values replaced, sets and associative lists item by item (shared items in the applied order, live-only
/// items kept in place). Null values in the result are dropped, as decoding into a typed object does.
pub(crate) fn merge(schema: &MergeSchema, live: &Value, applied: &Value) -> Value {
    let mut out = merge_walk(schema, ROOT, Some(live), Some(applied)).unwrap_or(Value::Null);
    drop_nulls(&mut out);
    out
}

fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn merge_walk(schema: &MergeSchema, node: NodeId, lhs: Option<&Value>, rhs: Option<&Value>) -> Option<Value> {
    let (l, r) = match (lhs, rhs) {
        (l, None) => return l.cloned(),
        (None, r) => return r.cloned(),
        (Some(l), Some(r)) => (l, r),
    };
    let info = schema.node(node);
    let both_empty = empty_or_null(Some(l)) && empty_or_null(Some(r));
    match (l, r) {
        (Value::Object(lm), Value::Object(rm)) if !info.atomic && !both_empty => {
            let mut out = lm.clone();
            for (key, rv) in rm {
                let child = schema.child(node, key).0;
                match merge_walk(schema, child, lm.get(key), Some(rv)) {
                    Some(v) => out.insert(key.clone(), v),
                    None => out.remove(key),
                };
            }
            Some(Value::Object(out))
        }
        (Value::Array(la), Value::Array(ra)) if !matches!(info.list, ListType::Atomic) && !both_empty => {
            Some(Value::Array(merge_list(schema, node, la, ra)))
        }
        _ => Some(r.clone()),
    }
}

/// The associative-list merge of structured-merge-diff: walks both lists, emitting live-only items where they
/// stand and shared and new items in the applied order.
fn merge_list(schema: &MergeSchema, node: NodeId, lhs: &[Value], rhs: &[Value]) -> Vec<Value> {
    let list = &schema.node(node).list;
    let item_node = schema.item(node);
    let keyed =
        |items: &[Value]| -> Vec<Option<Element>> { items.iter().map(|item| item_element(list, item).ok()).collect() };
    let l_keys = keyed(lhs);
    let r_keys = keyed(rhs);
    let mut l_index: BTreeMap<&Element, usize> = BTreeMap::new();
    for (i, key) in l_keys.iter().enumerate() {
        if let Some(key) = key {
            l_index.entry(key).or_insert(i);
        }
    }
    let r_set: HashSet<&Element> = r_keys.iter().flatten().collect();
    let mut shared: std::collections::VecDeque<&Element> =
        r_keys.iter().flatten().filter(|k| l_index.contains_key(k)).collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: HashSet<&Element> = HashSet::new();
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let (mut li, mut ri) = (0, 0);
    let l_item = |key: &Element| l_index.get(key).and_then(|&i| lhs.get(i));
    while li < lhs.len() || ri < rhs.len() {
        if li < lhs.len() && ri < rhs.len() {
            if let (Some(lk), Some(rk)) = (&l_keys[li], &r_keys[ri])
                && lk == rk
            {
                merged_rhs.insert(rk);
                out.extend(merge_walk(schema, item_node, l_item(lk), rhs.get(ri)));
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if let Some(lk) = &l_keys[li]
                && r_set.contains(lk)
                && next_shared.is_some_and(|s| s != lk)
            {
                li += 1;
                continue;
            }
        }
        if li < lhs.len() {
            match &l_keys[li] {
                Some(lk) if r_set.contains(lk) => {
                    if merged_rhs.contains(lk) {
                        li += 1;
                    }
                }
                _ => {
                    out.push(lhs[li].clone());
                    li += 1;
                    continue;
                }
            }
        }
        if ri < rhs.len() {
            let rk = &r_keys[ri];
            let live = rk.as_ref().and_then(&l_item);
            out.extend(merge_walk(schema, item_node, live, rhs.get(ri)));
            if let Some(rk) = rk {
                merged_rhs.insert(rk);
                if next_shared.is_some_and(|s| s == rk) {
                    next_shared = shared.pop_front();
                }
            }
            ri += 1;
        }
    }
    out
}

/// Removes from `value` the subtree at every member path of `set`. Objects and lists emptied by the removal
/// are removed too.
pub(crate) fn remove_paths(schema: &MergeSchema, value: &mut Value, set: &FieldSet) {
    remove_walk(schema, ROOT, value, set);
}

fn remove_walk(schema: &MergeSchema, node: NodeId, value: &mut Value, set: &FieldSet) {
    let info = schema.node(node);
    match value {
        Value::Object(map) if !info.atomic => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let element = fieldset::field(&key);
                if set.has_member(&element) {
                    map.remove(&key);
                } else if let Some(sub) = set.child(&element)
                    && let Some(child) = map.get_mut(&key)
                {
                    let was_empty = empty_or_null(Some(child));
                    remove_walk(schema, schema.child(node, &key).0, child, sub);
                    if !was_empty && empty_or_null(Some(child)) {
                        map.remove(&key);
                    }
                }
            }
        }
        Value::Array(items) if !matches!(info.list, ListType::Atomic) => {
            let item_node = schema.item(node);
            let list = info.list.clone();
            items.retain_mut(|item| {
                let Ok(element) = item_element(&list, item) else { return true };
                if set.has_member(&element) {
                    return false;
                }
                if let Some(sub) = set.child(&element) {
                    remove_walk(schema, item_node, item, sub);
                }
                true
            });
        }
        _ => {}
    }
}

/// `set` with every named (struct) field on the way to a member made a member itself, as structured-merge-diff's
/// `EnsureNamedFieldsAreMembers` does before pruning.
pub(crate) fn ensure_named_fields(schema: &MergeSchema, set: &FieldSet) -> FieldSet {
    let mut out = set.clone();
    ensure_walk(schema, ROOT, set, &mut out);
    out
}

fn ensure_walk(schema: &MergeSchema, node: NodeId, set: &FieldSet, out: &mut FieldSet) {
    for (element, _, sub) in set.entries() {
        if sub.is_empty() {
            continue;
        }
        let child = if let Some(name) = element.strip_prefix("f:") {
            let (child, named) = schema.child(node, name);
            if named {
                out.mark_member(element);
            }
            child
        } else {
            schema.item(node)
        };
        ensure_walk(schema, child, sub, out.child_mut(element));
    }
}
