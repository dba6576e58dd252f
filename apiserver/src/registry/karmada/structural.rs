//! The Karmada kinds' generated JSON Schemas turned into one structural OpenAPI v3 schema, as their CRDs publish.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Map, Value, json};

use crate::schema::KindSchema;

/// References deeper than this are cut off as objects that keep unknown fields (recursive types).
const MAX_DEPTH: usize = 32;

/// The kind's structural schema (references inlined, nullable unions collapsed, enums spelled as `enum`), served
/// the way kube-apiserver serves a CRD; the generated schema when that fails.
pub(super) fn kind_schema(generated: Arc<KindSchema>) -> Arc<KindSchema> {
    let components = generated.components();
    let mut root = generated.schema().clone();
    if let Value::Object(map) = &mut root {
        map.remove("x-kubernetes-group-version-kind");
        if let Some(Value::Object(properties)) = map.get_mut("properties") {
            for key in ["apiVersion", "kind", "metadata"] {
                properties.remove(key);
            }
        }
        if let Some(Value::Array(required)) = map.get_mut("required") {
            required.retain(|r| r != "metadata");
        }
    }
    let root = structural(&root, components, 0);
    match KindSchema::from_crd(generated.group(), generated.version(), generated.kind(), &root) {
        Ok(schema) => Arc::new(schema),
        Err(_) => generated,
    }
}

fn reference(schema: &Map<String, Value>) -> Option<&str> {
    schema.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next())
}

fn is_null(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

/// One schema node, rewritten.
fn structural(schema: &Value, components: &BTreeMap<String, Arc<Value>>, depth: usize) -> Value {
    let Value::Object(map) = schema else {
        return json!({"x-kubernetes-preserve-unknown-fields": true});
    };
    if depth > MAX_DEPTH {
        return json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    }
    let mut out = Map::new();
    let mut base: Option<Value> = None;
    if let Some(name) = reference(map) {
        base = components.get(name).map(|c| structural(c, components, depth + 1));
    }
    for (key, value) in map {
        match (key.as_str(), value) {
            ("$ref", _) | ("$schema", _) | ("title", _) | ("default", _) => {}
            ("allOf" | "anyOf", Value::Array(options)) => {
                let real: Vec<&Value> = options.iter().filter(|o| !is_null(o)).collect();
                if let [only] = real.as_slice() {
                    base = Some(structural(only, components, depth + 1));
                } else {
                    out.insert(
                        key.clone(),
                        json!(real.iter().map(|o| structural(o, components, depth + 1)).collect::<Vec<_>>()),
                    );
                }
            }
            ("oneOf", Value::Array(options)) if options.iter().all(|o| o.get("const").is_some()) => {
                let values: Vec<Value> = options.iter().filter_map(|o| o.get("const").cloned()).collect();
                out.insert("type".into(), json!("string"));
                out.insert("enum".into(), json!(values));
            }
            ("type", Value::Array(types)) => {
                if let Some(t) = types.iter().find(|t| t.as_str() != Some("null")) {
                    out.insert("type".into(), t.clone());
                }
            }
            ("enum", Value::Array(values)) => {
                out.insert(key.clone(), json!(values.iter().filter(|v| !v.is_null()).cloned().collect::<Vec<_>>()));
            }
            ("const", value) => {
                out.insert("enum".into(), json!([value]));
            }
            ("properties", Value::Object(properties)) => {
                let converted: Map<String, Value> =
                    properties.iter().map(|(k, v)| (k.clone(), structural(v, components, depth + 1))).collect();
                out.insert(key.clone(), Value::Object(converted));
            }
            ("items", item) => {
                out.insert(key.clone(), structural(item, components, depth + 1));
            }
            ("additionalProperties", Value::Bool(_)) => {}
            ("additionalProperties", item) => {
                out.insert(key.clone(), structural(item, components, depth + 1));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if let Some(Value::Object(mut base)) = base {
        // The referring node's own keywords (its description) win over the referred schema's.
        base.extend(out);
        out = base;
    }
    if out.get("type").is_none() && out.get("properties").is_some() {
        out.insert("type".into(), json!("object"));
    }
    if out.keys().all(|k| k == "description") {
        out.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
    }
    Value::Object(out)
}
