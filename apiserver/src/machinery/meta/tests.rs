//! Tests of metadata accessors, timestamps and PartialObjectMetadata.

use super::*;

fn deployment() -> Object {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "default", "uid": "u-1", "resourceVersion": "42", "generation": 3,
            "creationTimestamp": "2026-11-23T17:00:00Z",
            "labels": {"app": "web", "bad": 1},
            "annotations": {"note": "hi"},
            "finalizers": ["example.com/a", 7, "example.com/b"],
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Thing", "name": "owner", "uid": "o-1", "controller": true, "blockOwnerDeletion": true},
                {"apiVersion": "v1", "kind": "Other", "name": "x", "uid": "o-2"},
            ],
        },
        "spec": {"replicas": 2},
    })
}

#[test]
fn accessors_read_the_metadata() {
    let object = deployment();
    assert_eq!((name(&object), namespace(&object), uid(&object)), ("web", "default", "u-1"));
    assert_eq!((resource_version(&object), generation(&object)), ("42", 3));
    assert_eq!((api_version(&object), kind(&object)), ("apps/v1", "Deployment"));
    assert_eq!(creation_timestamp(&object), Some("2026-11-23T17:00:00Z"));
    assert_eq!(deletion_timestamp(&object), None);
    assert_eq!(labels(&object), BTreeMap::from([("app".to_string(), "web".to_string())]));
    assert_eq!(annotations(&object)["note"], "hi");
    assert_eq!(finalizers(&object), ["example.com/a", "example.com/b"]);
}

#[test]
fn owner_references_are_typed() {
    let references = owner_references(&deployment());
    assert_eq!(
        references[0],
        OwnerReference {
            api_version: "v1".into(),
            kind: "Thing".into(),
            name: "owner".into(),
            uid: "o-1".into(),
            controller: true,
            block_owner_deletion: true,
        }
    );
    assert!(!references[1].controller && !references[1].block_owner_deletion);
    assert_eq!(references[1].to_value(), json!({"apiVersion": "v1", "kind": "Other", "name": "x", "uid": "o-2"}));
}

#[test]
fn accessors_tolerate_missing_or_odd_metadata() {
    for object in [json!({}), json!(null), json!([1]), json!({"metadata": "x"}), json!({"metadata": {"name": 5}})] {
        assert_eq!(name(&object), "");
        assert_eq!(generation(&object), 0);
        assert!(labels(&object).is_empty() && finalizers(&object).is_empty() && owner_references(&object).is_empty());
    }
}

#[test]
fn mutators_write_the_metadata() {
    let mut object = json!({"kind": "ConfigMap"});
    set_name(&mut object, "cm");
    set_namespace(&mut object, "ns");
    set_uid(&mut object, "u");
    set_resource_version(&mut object, "7");
    set_generation(&mut object, 1);
    set_creation_timestamp(&mut object, "2026-01-01T00:00:00Z");
    set_deletion_timestamp(&mut object, Some("2026-01-02T00:00:00Z"));
    set_finalizers(&mut object, &["a.io/x".to_string()]);
    set_annotation(&mut object, "k", Some("v"));
    set_owner_references(&mut object, &[OwnerReference { kind: "K".into(), controller: true, ..Default::default() }]);
    assert_eq!(
        object["metadata"],
        json!({
            "name": "cm", "namespace": "ns", "uid": "u", "resourceVersion": "7", "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z", "deletionTimestamp": "2026-01-02T00:00:00Z",
            "finalizers": ["a.io/x"], "annotations": {"k": "v"},
            "ownerReferences": [{"apiVersion": "", "kind": "K", "name": "", "uid": "", "controller": true}],
        })
    );
    set_resource_version(&mut object, "");
    set_namespace(&mut object, "");
    set_deletion_timestamp(&mut object, None);
    set_finalizers(&mut object, &[]);
    set_annotation(&mut object, "k", None);
    set_owner_references(&mut object, &[]);
    assert_eq!(
        object["metadata"],
        json!({"name": "cm", "uid": "u", "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z"})
    );
}

#[test]
fn mutators_replace_broken_metadata_and_ignore_non_objects() {
    let mut object = json!({"metadata": 5});
    set_name(&mut object, "x");
    assert_eq!(object, json!({"metadata": {"name": "x"}}));
    let mut array = json!([1]);
    set_name(&mut array, "x");
    assert_eq!(array, json!([1]));
}

#[test]
fn now_is_whole_seconds_in_utc() {
    let text = now();
    assert_eq!(text.len(), "2026-11-23T17:00:00Z".len());
    assert!(text.ends_with('Z'));
    assert!(parse_time(&text).is_some());
}

#[test]
fn timestamps_are_formatted_as_kubernetes_writes_them() {
    let timestamp = jiff::Timestamp::from_second(1_795_453_200).unwrap();
    assert_eq!(format_time(timestamp), "2026-11-23T17:00:00Z");
    let with_fraction = jiff::Timestamp::new(1_795_453_200, 999_000_000).unwrap();
    assert_eq!(format_time(with_fraction), "2026-11-23T17:00:00Z");
    assert_eq!(parse_time("2026-11-23T17:00:00Z"), Some(timestamp));
    assert_eq!(parse_time("2026-11-23T18:00:00+01:00"), Some(timestamp));
    assert_eq!(parse_time("yesterday"), None);
}

#[test]
fn partial_object_metadata_keeps_only_the_metadata() {
    let partial = partial_object_metadata(&deployment());
    assert_eq!(partial["kind"], "PartialObjectMetadata");
    assert_eq!(partial["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(partial["metadata"], deployment()["metadata"]);
    assert!(partial.get("spec").is_none());
    assert_eq!(partial_object_metadata_in(&deployment(), MetaVersion::V1Beta1)["apiVersion"], "meta.k8s.io/v1beta1");
    assert_eq!(partial_object_metadata(&json!({"kind": "X"}))["metadata"], json!({}));
}

#[test]
fn a_partial_object_metadata_list_keeps_the_list_metadata() {
    let list = partial_object_metadata_list(&[deployment()], "99", Some("token"), Some(4), MetaVersion::V1);
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["metadata"], json!({"resourceVersion": "99", "continue": "token", "remainingItemCount": 4}));
    assert_eq!(list["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(list["items"][0]["metadata"]["name"], "web");
    let empty = partial_object_metadata_list(&[], "", Some(""), None, MetaVersion::V1);
    assert_eq!(empty["metadata"], json!({}));
    assert_eq!(empty["items"], json!([]));
}

#[test]
fn metadata_of_the_wrong_type_is_described_as_go_would() {
    let mut clean = deployment();
    clean["metadata"]["labels"] = json!({"app": "web"});
    clean["metadata"]["finalizers"] = json!(["example.com/a"]);
    assert_eq!(metadata_type_error(&clean), None);
    assert!(metadata_type_error(&deployment()).is_some());
    assert_eq!(metadata_type_error(&json!({})), None);
    assert_eq!(metadata_type_error(&json!({"metadata": null})), None);
    assert_eq!(
        metadata_type_error(&json!({"metadata": {"labels": {"a": 1}}})).unwrap(),
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type map[string]string"
    );
    assert_eq!(
        metadata_type_error(&json!({"metadata": {"name": ["x"]}})).unwrap(),
        "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.name of type string"
    );
    assert_eq!(
        metadata_type_error(&json!({"metadata": {"generation": "1"}})).unwrap(),
        "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.generation of type int64"
    );
    assert!(metadata_type_error(&json!({"metadata": {"finalizers": [1]}})).unwrap().contains("of type []string"));
    assert!(metadata_type_error(&json!({"metadata": {"ownerReferences": "x"}})).is_some());
    assert!(metadata_type_error(&json!({"metadata": "x"})).unwrap().contains("of type v1.ObjectMeta"));
    assert_eq!(metadata_type_error(&json!({"metadata": {"somethingNew": 5}})), None);
}
