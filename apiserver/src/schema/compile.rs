//! A kind's schema compiled once into an arena of nodes (references resolved) that pruning and validation walk.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use regex::Regex;
use serde_json::Value;

use super::{OBJECT_META, REF_PREFIX};

/// Index of a node in [`Compiled::nodes`].
pub(super) type NodeId = usize;

/// Deeper schemas than this are treated as accepting anything (input is bounded well before this in practice).
const MAX_DEPTH: usize = 256;

/// One schema, with what pruning needs and, for structural (CRD) schemas, the value checks.
#[derive(Clone, Debug, Default)]
pub(super) struct Node {
    /// `properties`.
    pub properties: BTreeMap<String, NodeId>,
    /// `additionalProperties` (a schema; `true` becomes a node accepting anything).
    pub additional: Option<NodeId>,
    /// `items`.
    pub items: Option<NodeId>,
    /// Whether object keys that are neither properties nor additional properties are pruned.
    pub closed: bool,
    /// `x-kubernetes-preserve-unknown-fields: true`.
    pub preserve: bool,
    /// `x-kubernetes-embedded-resource: true`: `apiVersion`, `kind` and `metadata` are implied.
    pub embedded: bool,
    /// `nullable: true`.
    pub nullable: bool,
    /// `default` (structural schemas).
    pub default: Option<Value>,
    /// Value validations (structural schemas only).
    pub checks: Option<Box<Checks>>,
}

/// A `pattern` and its compiled regular expression (or why it does not compile).
#[derive(Clone, Debug)]
pub(super) struct Pattern {
    pub source: String,
    pub regex: Result<Regex, String>,
}

/// The value validations of one structural schema node, as kube-openapi's validator applies them.
#[derive(Clone, Debug, Default)]
pub(super) struct Checks {
    pub types: Vec<String>,
    pub format: String,
    pub enumeration: Option<Vec<Value>>,
    pub required: Vec<String>,
    pub minimum: Option<f64>,
    pub exclusive_minimum: bool,
    pub maximum: Option<f64>,
    pub exclusive_maximum: bool,
    pub multiple_of: Option<f64>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<Pattern>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub unique_items: bool,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
    pub all_of: Vec<NodeId>,
    pub any_of: Vec<NodeId>,
    pub one_of: Vec<NodeId>,
    pub not: Option<NodeId>,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
}

/// The compiled schema of one kind.
#[derive(Clone, Debug)]
pub(super) struct Compiled {
    pub nodes: Vec<Node>,
    /// What pruning starts from (for CRDs: the CRD's schema with `metadata` as `ObjectMeta`).
    pub prune_root: NodeId,
    /// What value validation and defaulting start from (the CRD's schema as written).
    pub value_root: NodeId,
    /// `ObjectMeta`, for the `metadata` of embedded resources.
    pub object_meta: Option<NodeId>,
}

impl Compiled {
    /// A built-in kind: structure only, from the component `root`.
    pub fn builtin(components: &BTreeMap<String, Arc<Value>>, root: &str) -> Self {
        let mut compiler = Compiler { components, nodes: Vec::new(), named: HashMap::new() };
        let root = compiler.named(root, false, 0);
        Self { nodes: compiler.nodes, prune_root: root, value_root: root, object_meta: None }
    }

    /// A custom resource's structural schema; `components` supplies `ObjectMeta` and what it refers to.
    pub fn structural(schema: &Value, components: &BTreeMap<String, Arc<Value>>) -> Self {
        let mut compiler = Compiler { components, nodes: Vec::new(), named: HashMap::new() };
        let value_root = compiler.compile(schema, true, 0);
        let object_meta = compiler.named(OBJECT_META, false, 0);
        let string = compiler.push(Node::default());
        let mut root = compiler.nodes[value_root].clone();
        root.properties.insert("apiVersion".into(), string);
        root.properties.insert("kind".into(), string);
        root.properties.insert("metadata".into(), object_meta);
        let prune_root = compiler.push(root);
        Self { nodes: compiler.nodes, prune_root, value_root, object_meta: Some(object_meta) }
    }

    /// The node `id`.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }
}

struct Compiler<'a> {
    components: &'a BTreeMap<String, Arc<Value>>,
    nodes: Vec<Node>,
    named: HashMap<(String, bool), NodeId>,
}

fn reference(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix(REF_PREFIX)
}

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn unsigned(schema: &Value, key: &str) -> Option<u64> {
    let value = schema.get(key)?;
    value.as_u64().or_else(|| value.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

impl Compiler<'_> {
    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// The node of a named component, compiled once per mode (references may be recursive).
    fn named(&mut self, name: &str, structural: bool, depth: usize) -> NodeId {
        if let Some(&id) = self.named.get(&(name.to_string(), structural)) {
            return id;
        }
        let id = self.push(Node::default());
        self.named.insert((name.to_string(), structural), id);
        if let Some(schema) = self.components.get(name).cloned() {
            let target = self.compile(&schema, structural, depth + 1);
            if target != id {
                self.nodes[id] = self.nodes[target].clone();
            }
        }
        id
    }

    fn compile(&mut self, schema: &Value, structural: bool, depth: usize) -> NodeId {
        if depth > MAX_DEPTH || !schema.is_object() {
            return self.push(Node::default());
        }
        if let Some(name) = reference(schema) {
            return self.named(name, structural, depth);
        }
        let has_structure = ["properties", "items", "additionalProperties"].iter().any(|k| schema.get(k).is_some());
        if !structural
            && !has_structure
            && let Some(first) = schema.get("allOf").and_then(Value::as_array).and_then(|all| all.first())
        {
            return self.compile(first, structural, depth + 1);
        }
        let node = self.node(schema, structural, depth);
        self.push(node)
    }

    fn node(&mut self, schema: &Value, structural: bool, depth: usize) -> Node {
        let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
        let mut node = Node {
            preserve,
            embedded: structural && flag(schema, "x-kubernetes-embedded-resource"),
            nullable: flag(schema, "nullable"),
            ..Node::default()
        };
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(properties) = properties {
            for (name, child) in properties {
                let id = self.compile(child, structural, depth + 1);
                node.properties.insert(name.clone(), id);
            }
        }
        node.additional = match schema.get("additionalProperties") {
            Some(child @ Value::Object(_)) => Some(self.compile(child, structural, depth + 1)),
            Some(Value::Bool(true)) => Some(self.push(Node::default())),
            _ => None,
        };
        if let Some(child @ Value::Object(_)) = schema.get("items") {
            node.items = Some(self.compile(child, structural, depth + 1));
        }
        node.closed = !preserve && (structural || properties.is_some());
        if structural {
            node.default = schema.get("default").cloned();
            node.checks = self.checks(schema, depth);
        }
        node
    }

    fn checks(&mut self, schema: &Value, depth: usize) -> Option<Box<Checks>> {
        let string = |key: &str| schema.get(key).and_then(Value::as_str);
        let number = |key: &str| schema.get(key).and_then(Value::as_f64);
        let mut checks = Checks::default();
        if flag(schema, "x-kubernetes-int-or-string") {
            checks.types = vec!["integer".into(), "string".into()];
        } else if let Some(kind) = string("type").filter(|t| !t.is_empty()) {
            checks.types = vec![kind.to_string()];
        }
        let single = if checks.types.len() == 1 { checks.types.first().map(String::as_str) } else { None };
        checks.format = supported_format(single, string("format").unwrap_or(""));
        checks.enumeration = schema.get("enum").and_then(Value::as_array).cloned();
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            checks.required = required.iter().filter_map(Value::as_str).map(str::to_string).collect();
        }
        checks.minimum = number("minimum");
        checks.exclusive_minimum = flag(schema, "exclusiveMinimum");
        checks.maximum = number("maximum");
        checks.exclusive_maximum = flag(schema, "exclusiveMaximum");
        checks.multiple_of = number("multipleOf");
        checks.min_length = unsigned(schema, "minLength");
        checks.max_length = unsigned(schema, "maxLength");
        checks.pattern = string("pattern")
            .map(|source| Pattern { source: source.to_string(), regex: Regex::new(source).map_err(|e| e.to_string()) });
        checks.min_items = unsigned(schema, "minItems");
        checks.max_items = unsigned(schema, "maxItems");
        checks.unique_items = flag(schema, "uniqueItems");
        checks.min_properties = unsigned(schema, "minProperties");
        checks.max_properties = unsigned(schema, "maxProperties");
        for (key, target) in [("allOf", 0), ("anyOf", 1), ("oneOf", 2)] {
            let Some(members) = schema.get(key).and_then(Value::as_array) else { continue };
            let ids: Vec<NodeId> = members.iter().map(|m| self.compile(m, true, depth + 1)).collect();
            match target {
                0 => checks.all_of = ids,
                1 => checks.any_of = ids,
                _ => checks.one_of = ids,
            }
        }
        if let Some(not) = schema.get("not").filter(|n| n.is_object()) {
            checks.not = Some(self.compile(not, true, depth + 1));
        }
        checks.list_type = string("x-kubernetes-list-type").map(str::to_string);
        if let Some(keys) = schema.get("x-kubernetes-list-map-keys").and_then(Value::as_array) {
            checks.list_map_keys = keys.iter().filter_map(Value::as_str).map(str::to_string).collect();
        }
        Some(Box::new(checks))
    }
}

/// The format kube-apiserver keeps for validation (it drops formats it does not support for a type).
fn supported_format(kind: Option<&str>, format: &str) -> String {
    const STRING_FORMATS: &[&str] = &[
        "bsonobjectid",
        "uri",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "cidr",
        "mac",
        "uuid",
        "uuid3",
        "uuid4",
        "uuid5",
        "isbn",
        "isbn10",
        "isbn13",
        "creditcard",
        "ssn",
        "hexcolor",
        "rgbcolor",
        "byte",
        "password",
        "date",
        "duration",
        "datetime",
        "k8sshortname",
        "k8slongname",
    ];
    let keep = match kind {
        None | Some("string") => STRING_FORMATS.contains(&format.replace('-', "").as_str()),
        Some("integer") => matches!(format, "int32" | "int64"),
        Some("number") => matches!(format, "float" | "double"),
        Some(_) => false,
    };
    if keep { format.to_string() } else { String::new() }
}
