//! The Swagger 2.0 document (`/openapi/v2`), derived from the OpenAPI 3.0 documents of every group-version.

use serde_json::{Map, Value, json};

use crate::schema::REF_PREFIX;

/// Where Swagger 2.0 keeps its schemas.
const DEFINITIONS_PREFIX: &str = "#/definitions/";

/// JSON Schema keywords of OpenAPI 3.0 that Swagger 2.0 has no place for (its protobuf form cannot carry them).
const V3_ONLY: &[&str] = &["nullable", "anyOf", "oneOf", "not", "writeOnly", "deprecated"];

/// One Swagger 2.0 document serving every operation and definition of `documents` (OpenAPI 3.0, one per
/// group-version), as kube-apiserver's `/openapi/v2` does: request bodies become `body` parameters, response
/// content types become `produces`, `$ref`s point into `definitions`.
pub(super) fn build<'a>(documents: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut definitions = Map::new();
    let mut paths = Map::new();
    for document in documents {
        if let Some(schemas) = document["components"]["schemas"].as_object() {
            for (name, schema) in schemas {
                add_definition(&mut definitions, name, schema_v2(schema));
            }
        }
        if let Some(served) = document["paths"].as_object() {
            for (path, item) in served {
                paths.insert(path.clone(), path_item(item));
            }
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": concat!("flotilla-", env!("CARGO_PKG_VERSION"))},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication",
            "name": "authorization", "in": "header"}},
        "security": [{"BearerToken": []}],
    })
}

/// Adds `schema` as `name`; a definition several group-versions share keeps one copy, with every group-version-kind
/// any of them names.
fn add_definition(definitions: &mut Map<String, Value>, name: &str, schema: Value) {
    const GVK: &str = "x-kubernetes-group-version-kind";
    let Some(existing) = definitions.get_mut(name) else {
        definitions.insert(name.to_string(), schema);
        return;
    };
    let Some(more) = schema.get(GVK).and_then(Value::as_array) else { return };
    if let Some(known) = existing.get_mut(GVK).and_then(Value::as_array_mut) {
        for gvk in more {
            if !known.contains(gvk) {
                known.push(gvk.clone());
            }
        }
    }
}

/// A schema in Swagger 2.0 terms: references into `definitions`, a lone `allOf` reference (OpenAPI 3.0's way to
/// describe a referenced property) folded into a plain `$ref`, one type instead of a list, 3.0-only keywords left out.
fn schema_v2(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                if V3_ONLY.contains(&key.as_str()) {
                    continue;
                }
                let converted = match key.as_str() {
                    "$ref" => Value::String(reference_v2(value.as_str().unwrap_or_default())),
                    "type" => single_type(value),
                    // Names, enum values and defaults are data, not schemas.
                    "properties" => Value::Object(
                        value
                            .as_object()
                            .map(|p| p.iter().map(|(k, v)| (k.clone(), schema_v2(v))).collect())
                            .unwrap_or_default(),
                    ),
                    "enum" | "default" | "example" | "required" => value.clone(),
                    key if key.starts_with("x-") => value.clone(),
                    _ => schema_v2(value),
                };
                out.insert(key.clone(), converted);
            }
            if let Some(Value::Array(all_of)) = out.get("allOf")
                && let [only] = all_of.as_slice()
                && let Some(reference) = only.get("$ref").filter(|_| only.as_object().is_some_and(|o| o.len() == 1))
            {
                let reference = reference.clone();
                out.remove("allOf");
                out.insert("$ref".into(), reference);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(schema_v2).collect()),
        other => other.clone(),
    }
}

fn reference_v2(reference: &str) -> String {
    match reference.strip_prefix(REF_PREFIX) {
        Some(name) => format!("{DEFINITIONS_PREFIX}{name}"),
        None => reference.to_string(),
    }
}

/// `["string", "null"]` → `"string"`: Swagger 2.0 readers (kubectl's among them) refuse several types.
fn single_type(value: &Value) -> Value {
    match value {
        Value::Array(types) => types.iter().find(|t| t.as_str() != Some("null")).cloned().unwrap_or(Value::Null),
        other => other.clone(),
    }
}

/// A path item with each operation (and the shared parameters) in Swagger 2.0 form.
fn path_item(item: &Value) -> Value {
    let Some(item) = item.as_object() else { return item.clone() };
    let mut out = Map::new();
    for (key, value) in item {
        let converted = match key.as_str() {
            "parameters" => parameters(value),
            "get" | "put" | "post" | "delete" | "options" | "head" | "patch" => operation(value),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    Value::Object(out)
}

/// Parameters with their schema's `type` (and `uniqueItems`) inline, as Swagger 2.0 writes non-body parameters.
fn parameters(value: &Value) -> Value {
    let Some(list) = value.as_array() else { return value.clone() };
    let converted = list.iter().map(|parameter| {
        let Some(parameter) = parameter.as_object() else { return parameter.clone() };
        let mut out = Map::new();
        for (key, value) in parameter {
            if key == "schema" {
                if let Some(schema) = value.as_object() {
                    out.extend(schema.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            } else {
                out.insert(key.clone(), value.clone());
            }
        }
        Value::Object(out)
    });
    Value::Array(converted.collect())
}

/// An operation: `requestBody` → a `body` parameter and `consumes`, response content → `schema` and `produces`.
fn operation(value: &Value) -> Value {
    let Some(operation) = value.as_object() else { return value.clone() };
    let mut out = Map::new();
    let mut parameter_list =
        operation.get("parameters").map(parameters).and_then(|p| p.as_array().cloned()).unwrap_or_default();
    if let Some(body) = operation.get("requestBody") {
        let content = body["content"].as_object().cloned().unwrap_or_default();
        if let Some(schema) = content.values().find_map(|c| c.get("schema")) {
            parameter_list.push(json!({"name": "body", "in": "body", "required": body["required"] == true,
                "schema": schema_v2(schema)}));
        }
        out.insert("consumes".into(), content.keys().cloned().collect::<Vec<_>>().into());
    }
    let mut produces: Vec<String> = Vec::new();
    let mut responses = Map::new();
    for (code, response) in operation.get("responses").and_then(Value::as_object).into_iter().flatten() {
        let mut converted = Map::new();
        converted.insert("description".into(), response["description"].clone());
        if let Some(content) = response["content"].as_object() {
            for media in content.keys() {
                if !produces.contains(media) {
                    produces.push(media.clone());
                }
            }
            if let Some(schema) = content.values().find_map(|c| c.get("schema")) {
                converted.insert("schema".into(), schema_v2(schema));
            }
        }
        responses.insert(code.clone(), Value::Object(converted));
    }
    for (key, value) in operation {
        match key.as_str() {
            "parameters" | "requestBody" => {}
            "responses" => {
                out.insert(key.clone(), Value::Object(std::mem::take(&mut responses)));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if !produces.is_empty() {
        out.insert("produces".into(), produces.into());
    }
    if !parameter_list.is_empty() {
        out.insert("parameters".into(), parameter_list.into());
    }
    out.insert("schemes".into(), json!(["https"]));
    Value::Object(out)
}
