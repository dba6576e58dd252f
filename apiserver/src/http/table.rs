//! `meta.k8s.io` conversions: Tables (columns from the strategy) and `PartialObjectMetadata[List]`.

use serde_json::{Map, Value, json};

use crate::{
    machinery::{
        Object,
        media::{IncludeObject, MetaVersion},
    },
    registry::Strategy,
};

/// `metadata` of a list or table: `resourceVersion`, `continue`, `remainingItemCount` when set.
pub fn list_metadata(resource_version: &str, continue_token: Option<&str>, remaining: Option<i64>) -> Value {
    let mut metadata = Map::new();
    if !resource_version.is_empty() {
        metadata.insert("resourceVersion".into(), resource_version.into());
    }
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        metadata.insert("continue".into(), token.into());
    }
    if let Some(remaining) = remaining {
        metadata.insert("remainingItemCount".into(), remaining.into());
    }
    Value::Object(metadata)
}

/// The `PartialObjectMetadata` of `object`.
pub fn partial_metadata(object: &Object, version: MetaVersion) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": version.api_version(),
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A `PartialObjectMetadataList` of `items` with list `metadata`.
pub fn partial_metadata_list<'a>(
    items: impl IntoIterator<Item = &'a Object>,
    metadata: Value,
    version: MetaVersion,
) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": version.api_version(),
        "metadata": metadata,
        "items": items.into_iter().map(|item| partial_metadata(item, version)).collect::<Vec<_>>(),
    })
}

/// A Table of `objects` with `metadata`; `columns` false leaves `columnDefinitions` empty (later watch events).
pub fn table<'a>(
    strategy: &dyn Strategy,
    objects: impl IntoIterator<Item = &'a Object>,
    metadata: Value,
    version: MetaVersion,
    include: IncludeObject,
    columns: bool,
) -> Value {
    let rows: Vec<Value> = objects.into_iter().map(|object| row(strategy, object, version, include)).collect();
    let definitions =
        if columns { serde_json::to_value(strategy.table_columns()).unwrap_or_else(|_| json!([])) } else { json!([]) };
    json!({
        "kind": "Table",
        "apiVersion": version.api_version(),
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

fn row(strategy: &dyn Strategy, object: &Object, version: MetaVersion, include: IncludeObject) -> Value {
    let mut row = Map::new();
    row.insert("cells".into(), Value::Array(strategy.table_cells(object)));
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row.insert("object".into(), partial_metadata(object, version));
        }
        IncludeObject::Object => {
            row.insert("object".into(), object.clone());
        }
    }
    Value::Object(row)
}

/// The Table metadata for a single object: its resourceVersion.
pub fn object_metadata(object: &Object) -> Value {
    let resource_version = object.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default();
    list_metadata(resource_version, None, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ResourceInfo;

    struct Plain(ResourceInfo);

    impl Strategy for Plain {
        fn info(&self) -> &ResourceInfo {
            &self.0
        }
    }

    fn strategy() -> Plain {
        Plain(ResourceInfo::new("", "v1", "ConfigMap", "configmaps", true))
    }

    fn config_map(name: &str) -> Object {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
               "metadata": {"name": name, "namespace": "default", "resourceVersion": "7",
                            "creationTimestamp": "2026-01-01T00:00:00Z"}})
    }

    #[test]
    fn a_table_has_the_strategy_columns_and_metadata_rows() {
        let objects = [config_map("a"), config_map("b")];
        let table = table(
            &strategy(),
            &objects,
            list_metadata("9", Some("tok"), Some(3)),
            MetaVersion::V1,
            IncludeObject::Metadata,
            true,
        );
        assert_eq!(table["kind"], "Table");
        assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(table["metadata"], json!({"resourceVersion": "9", "continue": "tok", "remainingItemCount": 3}));
        assert_eq!(table["columnDefinitions"][0]["name"], "Name");
        assert_eq!(table["columnDefinitions"][0]["format"], "name");
        assert_eq!(table["rows"][1]["cells"], json!(["b", "2026-01-01T00:00:00Z"]));
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(table["rows"][0]["object"]["metadata"]["namespace"], "default");
        assert!(table["rows"][0]["object"].get("data").is_none());
    }

    #[test]
    fn include_object_chooses_what_rows_carry() {
        let objects = [config_map("a")];
        let none = table(&strategy(), &objects, json!({}), MetaVersion::V1Beta1, IncludeObject::None, false);
        assert!(none["rows"][0].get("object").is_none());
        assert_eq!(none["apiVersion"], "meta.k8s.io/v1beta1");
        assert_eq!(none["columnDefinitions"], json!([]));
        let full = table(&strategy(), &objects, json!({}), MetaVersion::V1, IncludeObject::Object, true);
        assert_eq!(full["rows"][0]["object"]["data"]["a"], "b");
    }

    #[test]
    fn partial_metadata_lists_keep_only_metadata() {
        let list = partial_metadata_list(&[config_map("a")], list_metadata("5", None, None), MetaVersion::V1);
        assert_eq!(list["kind"], "PartialObjectMetadataList");
        assert_eq!(list["metadata"]["resourceVersion"], "5");
        assert_eq!(
            list["items"][0],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": config_map("a")["metadata"]})
        );
    }
}
