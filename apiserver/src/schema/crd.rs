//! Kind schemas of custom resources from a CRD version's `openAPIV3Schema`, published as kube-apiserver does.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Map, Value, json};

use super::{KindSchema, OBJECT_META, REF_PREFIX, builtin, compile::Compiled, gvk_extension, model_name};

const API_VERSION_DOC: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DOC: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DOC: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const EMBEDDED_API_VERSION_DOC: &str = "apiVersion defines the versioned schema of this representation of an object. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const EMBEDDED_KIND_DOC: &str = "kind is a string value representing the type of this object. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// Reference to `ObjectMeta` with the standard description, as an OpenAPI 3.0 property.
pub(super) fn metadata_property() -> Value {
    json!({"allOf": [{"$ref": format!("{REF_PREFIX}{OBJECT_META}")}], "description": METADATA_DOC})
}

pub(super) fn kind_schema(group: &str, version: &str, kind: &str, original: &Map<String, Value>) -> KindSchema {
    let name = model_name(group, version, kind);
    let mut published = original.clone();
    add_embedded_properties(&mut published);
    let properties = published.entry("properties").or_insert_with(|| json!({}));
    if let Value::Object(properties) = properties {
        properties.insert("apiVersion".into(), json!({"description": API_VERSION_DOC, "type": "string"}));
        properties.insert("kind".into(), json!({"description": KIND_DOC, "type": "string"}));
        properties.insert("metadata".into(), metadata_property());
    }
    published.entry("type").or_insert_with(|| json!("object"));
    published.insert("x-kubernetes-group-version-kind".into(), gvk_extension(group, version, kind));

    let meta = builtin::object_meta_components();
    let mut components: BTreeMap<String, Arc<Value>> = meta.clone();
    components.insert(name.clone(), Arc::new(Value::Object(published)));
    let compiled = Compiled::structural(&Value::Object(original.clone()), meta);
    KindSchema {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        name,
        components,
        compiled,
        structural: true,
    }
}

/// Nodes with `x-kubernetes-embedded-resource` get `apiVersion`, `kind` and `metadata` properties (the first two
/// required), as kube-apiserver publishes them.
fn add_embedded_properties(schema: &mut Map<String, Value>) {
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for child in properties.values_mut() {
            if let Value::Object(child) = child {
                add_embedded_properties(child);
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(Value::Object(child)) = schema.get_mut(key) {
            add_embedded_properties(child);
        }
    }
    if schema.get("x-kubernetes-embedded-resource").and_then(Value::as_bool) != Some(true) {
        return;
    }
    if let Value::Object(properties) = schema.entry("properties").or_insert_with(|| json!({})) {
        properties.insert("apiVersion".into(), json!({"description": EMBEDDED_API_VERSION_DOC, "type": "string"}));
        properties.insert("kind".into(), json!({"description": EMBEDDED_KIND_DOC, "type": "string"}));
        properties.insert("metadata".into(), metadata_property());
    }
    let required = schema.entry("required").or_insert_with(|| json!([]));
    if let Value::Array(required) = required {
        for field in ["kind", "apiVersion"] {
            if !required.iter().any(|r| r == field) {
                required.push(field.into());
            }
        }
    }
}
