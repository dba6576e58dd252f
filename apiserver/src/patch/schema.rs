//! Merge schemas: how each field of a kind merges (lists atomic, sets or keyed maps; atomic structs; SMP keys).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

/// Index of a node in a [`MergeSchema`]'s arena.
pub(crate) type NodeId = usize;

/// The root node of every schema.
pub(crate) const ROOT: NodeId = 0;
/// A node with no knowledge: objects merge field by field, lists are atomic.
pub(crate) const DEFAULT: NodeId = 1;

/// How the items of a list are identified when merging and when tracking ownership.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum ListType {
    /// Replaced as a whole (`x-kubernetes-list-type: atomic`, the default).
    #[default]
    Atomic,
    /// Scalars merged as a set (`x-kubernetes-list-type: set`).
    Set,
    /// Objects identified by key fields (`x-kubernetes-list-type: map` + `x-kubernetes-list-map-keys`).
    Map(Vec<ListKey>),
}

/// One key field of an associative list, with the default used when an item omits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListKey {
    pub(crate) name: String,
    pub(crate) default: Option<Value>,
}

/// The strategic-merge-patch strategy of a field (`patchStrategy` / `x-kubernetes-patch-strategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum SmpStrategy {
    /// Lists are replaced, maps merged.
    #[default]
    Default,
    /// Lists are merged (by `merge_key` for lists of objects).
    Merge,
    /// The value is replaced as a whole.
    Replace,
}

/// Strategic-merge-patch metadata of a field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Smp {
    pub(crate) strategy: SmpStrategy,
    pub(crate) merge_key: Option<String>,
    pub(crate) retain_keys: bool,
}

/// What is known about one field's value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Node {
    /// An object replaced and owned as a whole (`structType=atomic`, `x-kubernetes-map-type: atomic`).
    pub(crate) atomic: bool,
    /// How the value merges when it is a list.
    pub(crate) list: ListType,
    /// Declared fields when the value is an object.
    pub(crate) fields: BTreeMap<String, NodeId>,
    /// List items, or the values of undeclared keys of an object (a granular map or preserved unknown fields).
    pub(crate) elem: Option<NodeId>,
    /// Strategic-merge-patch metadata.
    pub(crate) smp: Smp,
}

/// How the lists of one kind merge, by field path: atomic, set, or map keyed by fields (`containers` by `name`).
/// Built from the Kubernetes merge keys of built-in kinds, or from `x-kubernetes-list-*` in a CRD schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeSchema {
    pub(crate) nodes: Vec<Node>,
    /// Whether strategic merge patch is accepted (built-in kinds only; custom resources answer 415).
    pub(crate) strategic: bool,
    /// Whether the kind has a `/status` subresource (then main-resource writes do not own `status`).
    pub(crate) status_subresource: bool,
    /// Paths the `/status` subresource resets (not owned by status writers), e.g. `spec`.
    pub(crate) status_resets: Vec<Vec<String>>,
    /// The empty object of the kind, as a typed Go object serializes it: the structs that always exist (`{}`)
    /// and lists that serialize as `null`. Creates are compared against it.
    pub(crate) skeleton: Value,
}

impl Default for MergeSchema {
    fn default() -> Self {
        Self {
            nodes: vec![Node::default(), Node::default()],
            strategic: true,
            status_subresource: true,
            status_resets: vec![vec!["spec".to_string()]],
            skeleton: Value::Object(serde_json::Map::new()),
        }
    }
}

impl MergeSchema {
    /// The schema of a kind without any knowledge of its fields: every object key is owned as a map key and
    /// every list is atomic (structured-merge-diff's "deduced" type).
    pub(crate) fn deduced() -> &'static MergeSchema {
        static DEDUCED: OnceLock<MergeSchema> = OnceLock::new();
        DEDUCED.get_or_init(|| {
            let mut schema = MergeSchema::default();
            schema.nodes[ROOT].elem = Some(ROOT);
            schema
        })
    }

    /// The same schema with (`true`, the default) or without a `/status` subresource: with one, writes to the
    /// main resource do not own `status`, as kube-apiserver resets it there.
    #[must_use]
    pub fn with_status_subresource(mut self, enabled: bool) -> Self {
        self.status_subresource = enabled;
        self
    }

    /// Whether `application/strategic-merge-patch+json` is accepted with this schema: true for built-in kinds,
    /// false for schemas from [`MergeSchema::from_openapi`] (kube-apiserver answers 415 for custom resources).
    pub fn supports_strategic_merge(&self) -> bool {
        self.strategic
    }

    /// The node `id` (a node with no knowledge when `id` is out of range).
    pub(crate) fn node(&self, id: NodeId) -> &Node {
        static EMPTY: Node = Node {
            atomic: false,
            list: ListType::Atomic,
            fields: BTreeMap::new(),
            elem: None,
            smp: Smp { strategy: SmpStrategy::Default, merge_key: None, retain_keys: false },
        };
        self.nodes.get(id).unwrap_or(&EMPTY)
    }

    /// The node of object key `key` under `id`, and whether it is a named field (a struct field) rather than
    /// a map key. Unknown keys of a node without `elem` are treated as struct fields with no knowledge.
    pub(crate) fn child(&self, id: NodeId, key: &str) -> (NodeId, bool) {
        let node = self.node(id);
        if let Some(&child) = node.fields.get(key) {
            (child, true)
        } else if let Some(elem) = node.elem {
            (elem, false)
        } else {
            (DEFAULT, true)
        }
    }

    /// The node of the items of list node `id`.
    pub(crate) fn item(&self, id: NodeId) -> NodeId {
        self.node(id).elem.unwrap_or(DEFAULT)
    }

    pub(crate) fn add_node(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// The node at a dotted path below `from` (list items are stepped into implicitly, `*` steps into map
    /// values), created on the way.
    pub(crate) fn ensure_path(&mut self, from: NodeId, path: &str) -> NodeId {
        let mut id = from;
        for segment in path.split('.').filter(|s| !s.is_empty()) {
            if !matches!(self.node(id).list, ListType::Atomic) || self.node(id).smp.merge_key.is_some() {
                id = self.ensure_elem(id);
            }
            id = if segment == "*" { self.ensure_elem(id) } else { self.ensure_field(id, segment) };
        }
        id
    }

    fn ensure_field(&mut self, id: NodeId, name: &str) -> NodeId {
        if let Some(&child) = self.nodes[id].fields.get(name) {
            return child;
        }
        let child = self.add_node(Node::default());
        self.nodes[id].fields.insert(name.to_string(), child);
        child
    }

    pub(crate) fn ensure_elem(&mut self, id: NodeId) -> NodeId {
        if let Some(elem) = self.nodes[id].elem {
            return elem;
        }
        let elem = self.add_node(Node::default());
        self.nodes[id].elem = Some(elem);
        elem
    }

    /// Derives list and map semantics from an OpenAPI v3 schema (a CRD version's `openAPIV3Schema`):
    /// `x-kubernetes-list-type` (`atomic`/`set`/`map`) with `x-kubernetes-list-map-keys` (key defaults from the
    /// item properties' `default`), `x-kubernetes-map-type: atomic`, `x-kubernetes-patch-merge-key` and
    /// `x-kubernetes-patch-strategy` (also used as list semantics when no list type is given, as kube-openapi
    /// does), `additionalProperties` (granular maps) and `x-kubernetes-preserve-unknown-fields` (fields owned
    /// as map keys). `metadata` gets `ObjectMeta`'s semantics when the schema leaves it open. `$ref` is not
    /// followed. The result has a `/status` subresource; see [`MergeSchema::with_status_subresource`].
    pub fn from_openapi(schema: &Value) -> MergeSchema {
        let mut out = MergeSchema { strategic: false, ..MergeSchema::default() };
        out.fill_from_openapi(ROOT, schema, 0);
        let metadata_open = schema
            .pointer("/properties/metadata/properties")
            .and_then(Value::as_object)
            .is_none_or(serde_json::Map::is_empty);
        if metadata_open {
            let meta = out.ensure_field(ROOT, "metadata");
            crate::patch::builtin::apply_object_meta(&mut out, meta);
        }
        out
    }

    fn fill_from_openapi(&mut self, id: NodeId, schema: &Value, depth: usize) {
        let Value::Object(map) = schema else { return };
        if depth > 64 {
            return;
        }
        // `allOf` with one member is how generated schemas attach descriptions to references.
        if let Some(first) = map.get("allOf").and_then(Value::as_array).and_then(|a| a.first()) {
            self.fill_from_openapi(id, first, depth + 1);
        }
        let strategy = map.get("x-kubernetes-patch-strategy").and_then(Value::as_str).unwrap_or_default();
        let strategies: Vec<&str> = strategy.split(',').map(str::trim).collect();
        let merge_key = map.get("x-kubernetes-patch-merge-key").and_then(Value::as_str).map(str::to_string);
        let smp = Smp {
            strategy: if strategies.contains(&"merge") {
                SmpStrategy::Merge
            } else if strategies.contains(&"replace") {
                SmpStrategy::Replace
            } else {
                SmpStrategy::Default
            },
            merge_key: merge_key.clone(),
            retain_keys: strategies.contains(&"retainKeys"),
        };
        self.nodes[id].smp = smp;
        if map.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic") {
            self.nodes[id].atomic = true;
        }
        if let Some(Value::Object(props)) = map.get("properties") {
            for (name, sub) in props {
                let child = self.ensure_field(id, name);
                self.fill_from_openapi(child, sub, depth + 1);
            }
        }
        match map.get("additionalProperties") {
            Some(sub @ Value::Object(_)) => {
                let elem = self.ensure_elem(id);
                self.fill_from_openapi(elem, sub, depth + 1);
            }
            Some(Value::Bool(true)) => self.nodes[id].elem = Some(self.deduced_node()),
            _ => {}
        }
        if map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) && self.nodes[id].elem.is_none()
        {
            self.nodes[id].elem = Some(self.deduced_node());
        }
        if let Some(items) = map.get("items") {
            let list_type = map.get("x-kubernetes-list-type").and_then(Value::as_str);
            let keys: Vec<String> = map
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            let key_defaults = |names: Vec<String>| -> Vec<ListKey> {
                names
                    .into_iter()
                    .map(|name| {
                        let default = items.pointer(&format!("/properties/{}/default", escape_pointer(&name))).cloned();
                        ListKey { name, default }
                    })
                    .collect()
            };
            self.nodes[id].list = match list_type {
                Some("set") => ListType::Set,
                Some("map") if !keys.is_empty() => ListType::Map(key_defaults(keys)),
                Some(_) => ListType::Atomic,
                None if strategies.contains(&"merge") => match merge_key {
                    Some(key) => ListType::Map(key_defaults(vec![key])),
                    None => ListType::Set,
                },
                None => ListType::Atomic,
            };
            let elem = self.ensure_elem(id);
            self.fill_from_openapi(elem, items, depth + 1);
        }
    }

    /// A node whose undeclared keys are map keys all the way down (structured-merge-diff's deduced type).
    fn deduced_node(&mut self) -> NodeId {
        let id = self.add_node(Node::default());
        self.nodes[id].elem = Some(id);
        id
    }

    /// Fields not owned by writers of `subresource` (recursively): `status` on the main resource when the kind
    /// has a status subresource, and what the status subresource resets (`spec`, ...) there.
    pub(crate) fn reset_paths(&self, subresource: Option<&str>) -> Vec<Vec<String>> {
        match subresource {
            None if self.status_subresource => vec![vec!["status".to_string()]],
            Some("status") => self.status_resets.clone(),
            _ => Vec::new(),
        }
    }
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn openapi_list_markers_become_list_semantics() {
        let schema = MergeSchema::from_openapi(&json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "ports": {"type": "array", "x-kubernetes-list-type": "map",
                              "x-kubernetes-list-map-keys": ["port", "protocol"],
                              "items": {"type": "object", "properties": {
                                  "port": {"type": "integer"}, "protocol": {"type": "string", "default": "TCP"}}}},
                    "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "env": {"type": "array", "x-kubernetes-patch-strategy": "merge",
                            "x-kubernetes-patch-merge-key": "name", "items": {"type": "object"}},
                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic"},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }}
            }
        }));
        let (spec, named) = schema.child(ROOT, "spec");
        assert!(named);
        let ports = schema.child(spec, "ports").0;
        assert_eq!(
            schema.node(ports).list,
            ListType::Map(vec![
                ListKey { name: "port".into(), default: None },
                ListKey { name: "protocol".into(), default: Some(json!("TCP")) }
            ])
        );
        assert_eq!(schema.node(schema.child(spec, "tags").0).list, ListType::Set);
        assert_eq!(schema.node(schema.child(spec, "args").0).list, ListType::Atomic);
        let env = schema.node(schema.child(spec, "env").0);
        assert_eq!(env.list, ListType::Map(vec![ListKey { name: "name".into(), default: None }]));
        assert_eq!(env.smp.strategy, SmpStrategy::Merge);
        assert_eq!(env.smp.merge_key.as_deref(), Some("name"));
        assert!(schema.node(schema.child(spec, "selector").0).atomic);
        let extra = schema.child(spec, "extra").0;
        assert!(!schema.child(extra, "anything").1, "preserved unknown fields are owned as map keys");
    }

    #[test]
    fn an_open_metadata_gets_object_meta_semantics() {
        let schema =
            MergeSchema::from_openapi(&json!({"type": "object", "properties": {"metadata": {"type": "object"}}}));
        let meta = schema.child(ROOT, "metadata").0;
        assert_eq!(schema.node(schema.child(meta, "finalizers").0).list, ListType::Set);
    }

    #[test]
    fn main_resource_writers_do_not_own_status_when_it_is_a_subresource() {
        let schema = MergeSchema::default();
        assert_eq!(schema.reset_paths(None), vec![vec!["status".to_string()]]);
        assert!(schema.clone().with_status_subresource(false).reset_paths(None).is_empty());
        assert_eq!(schema.reset_paths(Some("status")), vec![vec!["spec".to_string()]]);
    }
}
