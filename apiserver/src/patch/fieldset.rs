//! Field sets: trees of field paths as managedFields record them in the `FieldsV1` format.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a field path, spelled as in `FieldsV1`: `f:name`, `k:{"name":"nginx"}`, `v:"x"` or `i:0`.
pub(crate) type Element = String;

/// A path from the object root, one [`Element`] per step.
pub(crate) type Path = Vec<Element>;

/// A set of field paths. A path is a member when it was inserted; its ancestors exist only as tree nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldSet {
    children: BTreeMap<Element, Node>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Node {
    member: bool,
    set: FieldSet,
}

/// The element of a struct field or map key.
pub(crate) fn field(name: &str) -> Element {
    format!("f:{name}")
}

/// The element of an associative-list item identified by its key fields (sorted by name).
pub(crate) fn key(fields: &[(String, Value)]) -> Element {
    let mut sorted: Vec<&(String, Value)> = fields.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::from("k:{");
    for (i, (name, value)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(name.clone()).to_string());
        out.push(':');
        canonical_json(value, &mut out);
    }
    out.push('}');
    out
}

/// The element of a set item (a scalar).
pub(crate) fn value(item: &Value) -> Element {
    let mut out = String::from("v:");
    canonical_json(item, &mut out);
    out
}

/// Compact JSON with object keys sorted, whatever the map type's own order.
pub(crate) fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    canonical_json(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

impl FieldSet {
    /// The empty set.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Whether the set has no member.
    pub(crate) fn is_empty(&self) -> bool {
        self.children.values().all(|n| !n.member && n.set.is_empty())
    }

    /// Adds `path` as a member (the empty path is ignored: the root is never a member).
    pub(crate) fn insert(&mut self, path: &[Element]) {
        let Some((first, rest)) = path.split_first() else { return };
        let node = self.children.entry(first.clone()).or_default();
        if rest.is_empty() {
            node.member = true;
        } else {
            node.set.insert(rest);
        }
    }

    /// Whether `path` is a member.
    pub(crate) fn has(&self, path: &[Element]) -> bool {
        let Some((first, rest)) = path.split_first() else { return false };
        match self.children.get(first) {
            Some(node) if rest.is_empty() => node.member,
            Some(node) => node.set.has(rest),
            None => false,
        }
    }

    /// Whether `element` (one step below this set's root) is a member.
    pub(crate) fn has_member(&self, element: &str) -> bool {
        self.children.get(element).is_some_and(|n| n.member)
    }

    /// The subset below `element` (paths relative to it), if any.
    pub(crate) fn child(&self, element: &str) -> Option<&FieldSet> {
        self.children.get(element).map(|n| &n.set).filter(|s| !s.is_empty())
    }

    /// The elements one step below the root, with whether each is a member and its subtree.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&Element, bool, &FieldSet)> {
        self.children.iter().map(|(e, n)| (e, n.member, &n.set))
    }

    /// Marks `element` (one step below the root) as a member.
    pub(crate) fn mark_member(&mut self, element: &str) {
        self.children.entry(element.to_string()).or_default().member = true;
    }

    /// The subtree below `element`, created when missing.
    pub(crate) fn child_mut(&mut self, element: &str) -> &mut FieldSet {
        &mut self.children.entry(element.to_string()).or_default().set
    }

    /// Members of either set.
    pub(crate) fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.union_with(other);
        out
    }

    /// Adds every member of `other`.
    pub(crate) fn union_with(&mut self, other: &FieldSet) {
        for (element, theirs) in &other.children {
            let mine = self.children.entry(element.clone()).or_default();
            mine.member |= theirs.member;
            mine.set.union_with(&theirs.set);
        }
    }

    /// Members of `self` that are not members of `other` (exact paths; descendants are not affected).
    pub(crate) fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, mine) in &self.children {
            let (their_member, their_set) = match other.children.get(element) {
                Some(n) => (n.member, Some(&n.set)),
                None => (false, None),
            };
            let set = match their_set {
                Some(theirs) => mine.set.difference(theirs),
                None => mine.set.clone(),
            };
            let member = mine.member && !their_member;
            if member || !set.is_empty() {
                out.children.insert(element.clone(), Node { member, set });
            }
        }
        out
    }

    /// Members of both sets (exact paths).
    pub(crate) fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, mine) in &self.children {
            let Some(theirs) = other.children.get(element) else { continue };
            let member = mine.member && theirs.member;
            let set = mine.set.intersection(&theirs.set);
            if member || !set.is_empty() {
                out.children.insert(element.clone(), Node { member, set });
            }
        }
        out
    }

    /// Members of `self` that neither are members of `other` nor lie below one of its members.
    pub(crate) fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, mine) in &self.children {
            let set = match other.children.get(element) {
                Some(theirs) if theirs.member => continue,
                Some(theirs) => mine.set.recursive_difference(&theirs.set),
                None => mine.set.clone(),
            };
            if mine.member || !set.is_empty() {
                out.children.insert(element.clone(), Node { member: mine.member, set });
            }
        }
        out
    }

    /// Every member path, in element order (parents before their children).
    pub(crate) fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for (element, node) in &self.children {
            prefix.push(element.clone());
            if node.member {
                out.push(prefix.clone());
            }
            node.set.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` JSON form: `{"f:spec":{"f:replicas":{}}}`, with `".":{}` on members that have children.
    pub(crate) fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit())
    }

    fn emit(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for (element, node) in &self.children {
            if !node.member && node.set.is_empty() {
                continue;
            }
            let mut inner = Map::new();
            if node.member && !node.set.is_empty() {
                inner.insert(".".to_string(), Value::Object(Map::new()));
            }
            inner.extend(node.set.emit());
            out.insert(element.clone(), Value::Object(inner));
        }
        out
    }

    /// Parses the `FieldsV1` JSON form.
    ///
    /// # Errors
    /// A description of the first malformed part.
    pub(crate) fn from_fields_v1(fields: &Value) -> Result<FieldSet, String> {
        let Value::Object(map) = fields else {
            return Err(format!("expected an object, got {fields}"));
        };
        let mut out = FieldSet::new();
        for (raw, child) in map {
            if raw == "." {
                continue;
            }
            let element = canonical_element(raw)?;
            let Value::Object(inner) = child else {
                return Err(format!("expected an object for {raw:?}"));
            };
            let set = FieldSet::from_fields_v1(child)?;
            let member = inner.is_empty() || inner.contains_key(".");
            let node = out.children.entry(element).or_default();
            node.member |= member;
            node.set.union_with(&set);
        }
        Ok(out)
    }
}

/// Validates one `FieldsV1` key and spells it canonically (sorted, compact JSON in `k:` and `v:`).
fn canonical_element(raw: &str) -> Result<Element, String> {
    let (prefix, rest) = raw.split_once(':').ok_or_else(|| format!("unknown path element {raw:?}"))?;
    match prefix {
        "f" => Ok(raw.to_string()),
        "i" => rest.parse::<u64>().map(|_| raw.to_string()).map_err(|_| format!("invalid index in {raw:?}")),
        "v" => {
            let parsed: Value = serde_json::from_str(rest).map_err(|e| format!("parsing {raw:?}: {e}"))?;
            Ok(value(&parsed))
        }
        "k" => match serde_json::from_str::<Value>(rest) {
            Ok(Value::Object(map)) => {
                let fields: Vec<(String, Value)> = map.into_iter().collect();
                Ok(key(&fields))
            }
            Ok(_) => Err(format!("expected an object of keys in {raw:?}")),
            Err(e) => Err(format!("parsing {raw:?}: {e}")),
        },
        _ => Err(format!("unknown path element {raw:?}")),
    }
}

/// A path as kube-apiserver prints it in conflicts: `.spec.containers[name="nginx"].image`.
pub(crate) fn path_string(path: &[Element]) -> String {
    let mut out = String::new();
    for element in path {
        let (prefix, rest) = element.split_once(':').unwrap_or(("", element));
        match prefix {
            "f" => {
                out.push('.');
                out.push_str(rest);
            }
            "k" => {
                out.push('[');
                if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(rest) {
                    let mut keys: Vec<&String> = map.keys().collect();
                    keys.sort();
                    let parts: Vec<String> =
                        keys.into_iter().map(|k| format!("{k}={}", value_string(&map[k.as_str()]))).collect();
                    out.push_str(&parts.join(","));
                }
                out.push(']');
            }
            "v" => {
                let parsed = serde_json::from_str::<Value>(rest).unwrap_or(Value::Null);
                out.push_str(&format!("[={}]", value_string(&parsed)));
            }
            _ => out.push_str(&format!("[{rest}]")),
        }
    }
    out
}

/// A value as structured-merge-diff prints it in paths: strings quoted, numbers and booleans bare.
pub(crate) fn value_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(value_string).collect::<Vec<_>>().join(",")),
        Value::Object(map) => map.iter().map(|(k, v)| format!("{k}={}", value_string(v))).collect(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn p(parts: &[&str]) -> Path {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fields_v1_marks_members_with_children_by_a_dot() {
        let mut set = FieldSet::new();
        set.insert(&p(&["f:metadata", "f:labels", "f:app"]));
        let item = key(&[("name".to_string(), json!("nginx"))]);
        set.insert(&p(&["f:spec", "f:containers", &item]));
        set.insert(&p(&["f:spec", "f:containers", &item, "f:image"]));
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:app": {}}},
                   "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}}}}})
        );
    }

    #[test]
    fn fields_v1_round_trips_and_canonicalises_keys() {
        let raw = json!({"f:spec": {"f:ports": {"k:{\"protocol\":\"TCP\", \"port\":80}": {".": {}, "f:name": {}}}},
                         "f:metadata": {"f:finalizers": {"v:\"a\"": {}}}});
        let set = FieldSet::from_fields_v1(&raw).unwrap();
        let item = key(&[("port".to_string(), json!(80)), ("protocol".to_string(), json!("TCP"))]);
        assert!(set.has(&p(&["f:spec", "f:ports", &item])));
        assert!(set.has(&p(&["f:spec", "f:ports", &item, "f:name"])));
        assert!(set.has(&p(&["f:metadata", "f:finalizers", "v:\"a\""])));
        assert!(!set.has(&p(&["f:spec"])));
        assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()).unwrap(), set);
    }

    #[test]
    fn malformed_fields_v1_is_an_error_not_a_panic() {
        for bad in [json!([]), json!({"x:y": {}}), json!({"f:a": 1}), json!({"k:[1]": {}}), json!({"i:-1": {}})] {
            assert!(FieldSet::from_fields_v1(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_operations_follow_exact_and_recursive_semantics() {
        let mut a = FieldSet::new();
        a.insert(&p(&["f:spec", "f:replicas"]));
        a.insert(&p(&["f:spec", "f:paused"]));
        a.insert(&p(&["f:status", "f:ready"]));
        let mut b = FieldSet::new();
        b.insert(&p(&["f:spec", "f:replicas"]));
        b.insert(&p(&["f:status"]));
        assert_eq!(a.difference(&b).paths(), vec![p(&["f:spec", "f:paused"]), p(&["f:status", "f:ready"])]);
        assert_eq!(a.recursive_difference(&b).paths(), vec![p(&["f:spec", "f:paused"])]);
        assert_eq!(a.intersection(&b).paths(), vec![p(&["f:spec", "f:replicas"])]);
        assert_eq!(a.union(&b).paths().len(), 4);
    }

    #[test]
    fn paths_print_like_kube_apiserver() {
        let item = key(&[("name".to_string(), json!("nginx"))]);
        assert_eq!(
            path_string(&p(&["f:spec", "f:containers", &item, "f:image"])),
            ".spec.containers[name=\"nginx\"].image"
        );
        let port = key(&[("containerPort".to_string(), json!(80)), ("protocol".to_string(), json!("TCP"))]);
        assert_eq!(path_string(&p(&["f:ports", &port])), ".ports[containerPort=80,protocol=\"TCP\"]");
        assert_eq!(path_string(&p(&["f:finalizers", &value(&json!("x"))])), ".finalizers[=\"x\"]");
    }
}
