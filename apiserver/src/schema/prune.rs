//! Pruning of unknown fields and `fieldValidation` (Ignore/Warn/Strict) of unknown and duplicate fields.

use serde_json::Value;

use super::{
    KindSchema,
    compile::{Compiled, NodeId},
    defaults, duplicates,
};
use crate::machinery::{ApiError, Object, options::FieldValidation};

/// Prunes fields `schema` does not know from `object` (keeping those under `x-kubernetes-preserve-unknown-fields`)
/// and applies `mode` to them and to duplicate keys in `raw`, the request body as JSON (pass `None` when the body
/// was not JSON or not the object itself, e.g. a patch):
/// - `Ignore`: prune silently;
/// - `Warn`: prune, and return one warning per field: `unknown field "spec.foo"`, `duplicate field "x"`;
/// - `Strict`: fail with 400 BadRequest `strict decoding error: unknown field "spec.foo", ...`.
///
/// For custom resources this also drops `null`s of non-nullable fields without a default, as kube-apiserver does.
///
/// # Errors
/// 400 BadRequest in `Strict` mode when any field is unknown or duplicated.
pub fn validate(
    object: &mut Object,
    schema: &KindSchema,
    mode: FieldValidation,
    raw: Option<&[u8]>,
) -> Result<Vec<String>, ApiError> {
    let track = mode != FieldValidation::Ignore;
    let compiled = schema.compiled();
    let mut pruner = Pruner {
        compiled,
        structural: schema.structural,
        track,
        path: String::new(),
        unknown: Vec::new(),
        embedded_meta: Vec::new(),
    };
    pruner.prune(object, Some(compiled.prune_root), false);
    if schema.structural {
        defaults::prune_nulls(object, compiled, compiled.value_root);
    }
    if !track {
        return Ok(Vec::new());
    }
    let Pruner { mut unknown, mut embedded_meta, .. } = pruner;
    let duplicate_fields = raw.map(duplicates::duplicates).unwrap_or_default();
    let duplicate_messages =
        duplicate_fields.iter().map(|(offset, path)| (*offset, format!("duplicate field {path:?}")));
    let messages: Vec<String> = if schema.structural {
        // kube-apiserver's order for custom resources: duplicates (document order), unknown fields of the root's
        // metadata, the pruned fields (sorted), then unknown fields of embedded objects' metadata (sorted).
        let (mut meta, mut rest): (Vec<String>, Vec<String>) =
            unknown.into_iter().partition(|p| p.starts_with("metadata.") || p == "metadata");
        meta.sort();
        rest.sort();
        embedded_meta.sort();
        let unknown = meta.into_iter().chain(rest).chain(embedded_meta).map(|p| format!("unknown field {p:?}"));
        duplicate_messages.map(|(_, message)| message).chain(unknown).collect()
    } else {
        // Built-in kinds report in decoding order: by where each field first appears in the body.
        unknown.append(&mut embedded_meta);
        unknown.sort();
        let positions = match raw {
            Some(raw) if !unknown.is_empty() => duplicates::positions(raw, &unknown),
            _ => Vec::new(),
        };
        let mut tagged: Vec<(usize, String)> = duplicate_messages.collect();
        for (index, path) in unknown.into_iter().enumerate() {
            let position = positions.get(index).copied().flatten().unwrap_or(usize::MAX);
            tagged.push((position, format!("unknown field {path:?}")));
        }
        tagged.sort_by_key(|(position, _)| *position);
        tagged.into_iter().map(|(_, message)| message).collect()
    };
    if mode == FieldValidation::Strict && !messages.is_empty() {
        // kube-apiserver's decoder names the body's kind and version and the kind it decodes into.
        let body_kind = object["kind"].as_str().unwrap_or(schema.kind());
        let body_version = object["apiVersion"].as_str().and_then(|v| v.rsplit('/').next()).unwrap_or(schema.version());
        return Err(ApiError::bad_request(format!(
            "{body_kind} in version {body_version:?} cannot be handled as a {}: strict decoding error: {}",
            schema.kind(),
            messages.join(", ")
        )));
    }
    Ok(messages)
}

struct Pruner<'a> {
    compiled: &'a Compiled,
    structural: bool,
    track: bool,
    path: String,
    unknown: Vec<String>,
    embedded_meta: Vec<String>,
}

impl Pruner<'_> {
    fn record(&mut self, key: &str, embedded_meta: bool) {
        if !self.track {
            return;
        }
        let path = if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) };
        if embedded_meta { self.embedded_meta.push(path) } else { self.unknown.push(path) }
    }

    fn descend_key(&mut self, key: &str, value: &mut Value, node: Option<NodeId>, skip: bool) {
        let length = self.path.len();
        if self.track {
            if !self.path.is_empty() {
                self.path.push('.');
            }
            self.path.push_str(key);
        }
        self.prune(value, node, skip);
        self.path.truncate(length);
    }

    /// Prunes `value` against `node` (`None`: no schema). `skip`: the parent preserves unknown fields, so this
    /// level keeps its unknown keys too (kube's `skipPrune` over list items).
    fn prune(&mut self, value: &mut Value, node: Option<NodeId>, skip: bool) {
        match value {
            Value::Object(map) => {
                let Some(id) = node else {
                    if self.structural && !skip {
                        let keys: Vec<String> = map.keys().cloned().collect();
                        for key in keys {
                            self.record(&key, false);
                        }
                        map.clear();
                    }
                    return;
                };
                let compiled = self.compiled;
                let node = compiled.node(id);
                let mut unknown: Vec<String> = Vec::new();
                for (key, child) in map.iter_mut() {
                    if node.embedded && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                        if key == "metadata"
                            && let Some(meta) = compiled.object_meta
                        {
                            let before = self.unknown.len();
                            self.descend_key(key, child, Some(meta), false);
                            let found: Vec<String> = self.unknown.drain(before..).collect();
                            self.embedded_meta.extend(found);
                        }
                        continue;
                    }
                    if let Some(&child_node) = node.properties.get(key) {
                        self.descend_key(key, child, Some(child_node), false);
                    } else if let Some(additional) = node.additional {
                        self.descend_key(key, child, Some(additional), false);
                    } else if node.closed && !skip {
                        unknown.push(key.clone());
                    }
                }
                for key in unknown {
                    self.record(&key, false);
                    map.remove(&key);
                }
            }
            Value::Array(items) => {
                let (items_node, preserve) = match node {
                    Some(id) => {
                        let node = self.compiled.node(id);
                        (node.items, node.preserve || skip)
                    }
                    None => (None, skip),
                };
                if items_node.is_none() && (!self.structural || preserve) {
                    return;
                }
                for (index, item) in items.iter_mut().enumerate() {
                    let length = self.path.len();
                    if self.track {
                        self.path.push_str(&format!("[{index}]"));
                    }
                    self.prune(item, items_node, preserve);
                    self.path.truncate(length);
                }
            }
            _ => {}
        }
    }
}
