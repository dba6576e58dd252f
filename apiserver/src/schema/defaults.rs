//! CRD defaulting (`default` in the structural schema) and removal of nulls that are neither nullable nor defaulted.

use serde_json::Value;

use super::{
    KindSchema,
    compile::{Compiled, NodeId},
};
use crate::machinery::Object;

/// Fills missing fields (and non-nullable `null`s) that have a `default` in a custom resource's schema, at every
/// level, as kube-apiserver does after decoding. Built-in kinds have no schema defaults (their strategy defaults).
pub fn apply_defaults(object: &mut Object, schema: &KindSchema) {
    if !schema.structural {
        return;
    }
    let compiled = schema.compiled();
    default(object, compiled, Some(compiled.value_root));
}

fn is_non_nullable_null(value: &Value, compiled: &Compiled, node: Option<NodeId>) -> bool {
    value.is_null() && node.is_some_and(|id| !compiled.node(id).nullable)
}

fn default(value: &mut Value, compiled: &Compiled, node: Option<NodeId>) {
    let Some(id) = node else { return };
    let node = compiled.node(id);
    match value {
        Value::Object(map) => {
            for (key, &child) in &node.properties {
                let Some(default) = &compiled.node(child).default else { continue };
                let missing = map.get(key).is_none_or(|v| is_non_nullable_null(v, compiled, Some(child)));
                if missing {
                    map.insert(key.clone(), default.clone());
                }
            }
            for (key, child) in map.iter_mut() {
                if let Some(&child_node) = node.properties.get(key) {
                    self::default(child, compiled, Some(child_node));
                } else if let Some(additional) = node.additional {
                    if is_non_nullable_null(child, compiled, Some(additional))
                        && let Some(default) = &compiled.node(additional).default
                    {
                        *child = default.clone();
                    }
                    self::default(child, compiled, Some(additional));
                }
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                if is_non_nullable_null(item, compiled, node.items)
                    && let Some(default) = node.items.and_then(|i| compiled.node(i).default.as_ref())
                {
                    *item = default.clone();
                }
                self::default(item, compiled, node.items);
            }
        }
        _ => {}
    }
}

/// Removes object fields whose value is `null` when their schema is neither nullable nor has a default.
pub(super) fn prune_nulls(value: &mut Value, compiled: &Compiled, node: NodeId) {
    prune_nulls_at(value, compiled, Some(node));
}

fn prune_nulls_at(value: &mut Value, compiled: &Compiled, node: Option<NodeId>) {
    match value {
        Value::Object(map) => {
            let field_node = |key: &str| -> Option<NodeId> {
                let node = compiled.node(node?);
                node.properties.get(key).copied().or(node.additional)
            };
            map.retain(|key, child| {
                let schema = field_node(key);
                !(child.is_null()
                    && schema.is_some_and(|id| {
                        let node = compiled.node(id);
                        !node.nullable && node.default.is_none()
                    }))
            });
            for (key, child) in map.iter_mut() {
                prune_nulls_at(child, compiled, field_node(key));
            }
        }
        Value::Array(items) => {
            let items_node = node.and_then(|id| compiled.node(id).items);
            for item in items.iter_mut() {
                prune_nulls_at(item, compiled, items_node);
            }
        }
        _ => {}
    }
}
