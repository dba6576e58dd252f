//! Tests of name, label and object metadata validation and of generated names.

use serde_json::json;

use super::*;
use crate::machinery::FieldErrorKind;

const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

#[test]
fn subdomains_follow_rfc_1123_with_apimachinerys_message() {
    for good in ["a", "web", "web-1", "a.b.c", "1x", &"a".repeat(253)] {
        assert!(is_dns1123_subdomain(good).is_empty(), "{good}");
    }
    for bad in ["", "Web", "-web", "web-", "a..b", ".a", "a.", "a_b", "a b", "é"] {
        assert_eq!(is_dns1123_subdomain(bad), vec![SUBDOMAIN_MESSAGE.to_string()], "{bad:?}");
    }
    assert_eq!(is_dns1123_subdomain(&"a".repeat(254)), vec!["must be no more than 253 bytes".to_string()]);
}

#[test]
fn labels_follow_rfc_1123_and_say_when_dots_are_the_problem() {
    assert!(is_dns1123_label("kube-system").is_empty());
    assert_eq!(is_dns1123_label("a.b"), vec!["must not contain dots".to_string()]);
    assert_eq!(is_dns1123_label("A"), vec![LABEL_MESSAGE.to_string()]);
    assert_eq!(is_dns1123_label(&"a".repeat(64)), vec!["must be no more than 63 bytes".to_string()]);
    assert_eq!(is_dns1123_label(&"-".repeat(64)).len(), 2);
}

#[test]
fn label_keys_allow_a_subdomain_prefix() {
    for good in ["app", "App_Name.v1", "example.com/MyName", "a/b", &"k".repeat(63), &format!("{}/x", "p".repeat(253))]
    {
        assert!(is_label_key(good).is_empty(), "{good}");
    }
    assert_eq!(is_label_key(""), vec![
        "name part must be non-empty".to_string(),
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_string(),
    ]);
    assert_eq!(is_label_key(&"k".repeat(64)), vec!["name part must be no more than 63 bytes".to_string()]);
    assert_eq!(is_label_key("/x"), vec!["prefix part must be non-empty".to_string()]);
    assert_eq!(is_label_key("Example.com/x"), vec![format!("prefix part {SUBDOMAIN_MESSAGE}")]);
    assert!(is_label_key("a/b/c")[0].starts_with("a valid label key must consist of alphanumeric characters"));
    assert!(
        is_label_key("a/b/c")[0]
            .ends_with(" with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
    );
}

#[test]
fn label_values_may_be_empty_but_not_odd() {
    for good in ["", "x", "1.0", "a_b-c.d", &"v".repeat(63)] {
        assert!(is_label_value(good).is_empty(), "{good}");
    }
    assert_eq!(is_label_value("-x"), vec!["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_string()]);
    assert_eq!(is_label_value(&"v".repeat(64)), vec!["must be no more than 63 bytes".to_string()]);
}

#[test]
fn a_generate_name_prefix_may_end_with_a_dash() {
    assert!(name_is_dns_subdomain("web-", true).is_empty());
    assert!(!name_is_dns_subdomain("web-", false).is_empty());
    assert!(name_is_dns_label("web-", true).is_empty());
    assert!(!name_is_dns_label("-", true).is_empty());
    assert!(name_is_dns_subdomain("é-", true).len() == 1);
}

#[test]
fn generated_names_keep_the_prefix_and_add_five_characters() {
    let name = generate_name("web-");
    assert!(name.starts_with("web-"));
    assert_eq!(name.len(), 9);
    assert!(name[4..].bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)), "{name}");
    assert_ne!(generate_name("web-"), generate_name("web-"), "suffixes are random");
}

#[test]
fn long_prefixes_are_cut_so_the_name_fits_a_label() {
    let name = generate_name(&"p".repeat(100));
    assert_eq!(name.len(), 63);
    assert!(name.starts_with(&"p".repeat(58)));
    let multibyte = generate_name(&"é".repeat(40));
    assert!(multibyte.len() <= 63);
}

fn fields_of(errors: &[crate::machinery::FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn a_valid_object_has_no_metadata_errors() {
    let object = json!({"metadata": {
        "name": "web", "namespace": "default", "generation": 1,
        "labels": {"app": "web", "example.com/tier": ""},
        "annotations": {"Example.COM/Note": "anything at all, even spaces"},
        "finalizers": ["example.com/cleanup"],
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1", "controller": true}],
        "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1"}],
    }});
    assert_eq!(validate_object_meta(&object, true, name_is_dns_subdomain), vec![]);
}

#[test]
fn a_name_or_generate_name_is_required() {
    let errors = validate_object_meta(&json!({"metadata": {}}), false, name_is_dns_subdomain);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].to_string(), "metadata.name: Required value: name or generateName is required");
    assert_eq!(errors[0].kind, FieldErrorKind::Required);
    let errors = validate_object_meta(&json!({}), false, name_is_dns_subdomain);
    assert_eq!(fields_of(&errors), ["metadata.name"]);
}

#[test]
fn bad_names_and_generate_names_are_invalid() {
    let object = json!({"metadata": {"name": "Web", "generateName": "Web-"}});
    let errors = validate_object_meta(&object, false, name_is_dns_subdomain);
    assert_eq!(fields_of(&errors), ["metadata.generateName", "metadata.name"]);
    assert_eq!(errors[1].to_string(), format!("metadata.name: Invalid value: \"Web\": {SUBDOMAIN_MESSAGE}"));
}

#[test]
fn the_namespace_is_required_exactly_for_namespaced_kinds() {
    let missing = validate_object_meta(&json!({"metadata": {"name": "a"}}), true, name_is_dns_subdomain);
    assert_eq!(missing[0].to_string(), "metadata.namespace: Required value");
    let extra =
        validate_object_meta(&json!({"metadata": {"name": "a", "namespace": "x"}}), false, name_is_dns_subdomain);
    assert_eq!(extra[0].to_string(), "metadata.namespace: Forbidden: not allowed on this type");
    let dotted =
        validate_object_meta(&json!({"metadata": {"name": "a", "namespace": "a.b"}}), true, name_is_dns_subdomain);
    assert_eq!(dotted[0].to_string(), "metadata.namespace: Invalid value: \"a.b\": must not contain dots");
}

#[test]
fn label_errors_name_the_labels_field() {
    let object = json!({"metadata": {"name": "a", "labels": {"bad key": "ok", "ok": "bad value", "n": 3}}});
    let errors = validate_object_meta(&object, false, name_is_dns_subdomain);
    assert_eq!(fields_of(&errors), ["metadata.labels", "metadata.labels", "metadata.labels"]);
    assert!(
        errors[0].to_string().starts_with("metadata.labels: Invalid value: \"bad key\": name part must consist of")
    );
    assert!(errors[2].to_string().starts_with("metadata.labels: Invalid value: \"bad value\": a valid label must be"));
}

#[test]
fn annotation_keys_ignore_case_and_all_annotations_fit_256_kib() {
    let ok = json!({"metadata": {"name": "a", "annotations": {"Kubectl.Kubernetes.IO/Last-Applied": "x"}}});
    assert!(validate_object_meta(&ok, false, name_is_dns_subdomain).is_empty());
    let bad_key = json!({"metadata": {"name": "a", "annotations": {"not valid": "x"}}});
    assert_eq!(fields_of(&validate_object_meta(&bad_key, false, name_is_dns_subdomain)), ["metadata.annotations"]);
    let huge = json!({"metadata": {"name": "a", "annotations": {"a": "x".repeat(256 * 1024)}}});
    let errors = validate_object_meta(&huge, false, name_is_dns_subdomain);
    assert_eq!(errors[0].to_string(), "metadata.annotations: Too long: may not be more than 262144 bytes");
    let exact = json!({"metadata": {"name": "a", "annotations": {"a": "x".repeat(256 * 1024 - 1)}}});
    assert!(validate_object_meta(&exact, false, name_is_dns_subdomain).is_empty());
}

#[test]
fn owner_references_need_their_identity_and_one_controller_at_most() {
    let object = json!({"metadata": {"name": "a", "ownerReferences": [
        {"apiVersion": "a/b/c", "kind": "X", "name": "x", "uid": "1", "controller": true},
        {"apiVersion": "", "kind": "", "name": "", "uid": ""},
        {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "2", "controller": true},
    ]}});
    let errors = validate_object_meta(&object, false, name_is_dns_subdomain);
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown[0],
        "metadata.ownerReferences[0].apiVersion: Invalid value: \"a/b/c\": must be <group>/<version> or <version>"
    );
    assert_eq!(shown[1], "metadata.ownerReferences[1].apiVersion: Required value: must not be empty");
    assert_eq!(
        fields_of(&errors)[2..5],
        ["metadata.ownerReferences[1].kind", "metadata.ownerReferences[1].name", "metadata.ownerReferences[1].uid"]
    );
    assert!(shown[5].ends_with("/v1, Kind=Event is disallowed from being an owner"), "{}", shown[5]);
    assert!(shown[6].ends_with(
        "Only one reference can have Controller set to true. Found \"true\" in references for X/x and Event/e"
    ));
}

#[test]
fn finalizers_are_qualified_names_and_not_both_orphan_and_foreground() {
    let object = json!({"metadata": {"name": "a", "finalizers": ["bad finalizer", "orphan", "foregroundDeletion"]}});
    let errors = validate_object_meta(&object, false, name_is_dns_subdomain);
    assert_eq!(fields_of(&errors), ["metadata.finalizers", "metadata.finalizers"]);
    assert!(errors[1].to_string().ends_with("finalizer orphan and foregroundDeletion cannot be both set"));
}

#[test]
fn managed_fields_entries_are_checked() {
    let object = json!({"metadata": {"name": "a", "generation": -1, "managedFields": [
        {"manager": "m", "operation": ""},
        {"manager": "m\u{7}", "operation": "Patch", "fieldsType": "FieldsV2", "subresource": "s".repeat(257)},
    ]}});
    let shown: Vec<String> =
        validate_object_meta(&object, false, name_is_dns_subdomain).iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "metadata.generation: Invalid value: -1: must be greater than or equal to 0",
            "metadata.managedFields[0].operation: Required value: must not be empty",
            "metadata.managedFields[1].operation: Unsupported value: \"Patch\": supported values: \"Apply\", \"Update\"",
            "metadata.managedFields[1].fieldsType: Invalid value: \"FieldsV2\": must be `FieldsV1`",
            "metadata.managedFields[1].manager: Invalid value: \"m\\u0007\": invalid character U+0007 (at position 1)",
            "metadata.managedFields[1].subresource: Too long: may not be more than 256 bytes",
        ]
    );
}

#[test]
fn field_managers_are_short_and_printable() {
    assert!(validate_field_manager("kubectl-client-side-apply", "fieldManager").is_empty());
    assert!(validate_field_manager("with space and ünïcode", "fieldManager").is_empty());
    assert_eq!(
        validate_field_manager(&"m".repeat(129), "fieldManager")[0].to_string(),
        "fieldManager: Too long: may not be more than 128 bytes"
    );
    assert_eq!(validate_field_manager("a\u{200b}", "fieldManager").len(), 1);
}

fn stored() -> serde_json::Value {
    json!({"metadata": {"name": "a", "namespace": "ns", "uid": "u", "resourceVersion": "5", "generation": 2,
        "creationTimestamp": "2026-01-01T00:00:00Z"}})
}

#[test]
fn an_update_keeping_identity_is_valid() {
    let mut updated = stored();
    updated["metadata"]["labels"] = json!({"new": "label"});
    assert_eq!(validate_object_meta_update(&updated, &stored()), vec![]);
}

#[test]
fn an_update_needs_a_resource_version_and_may_not_change_identity() {
    let updated = json!({"metadata": {"name": "b", "namespace": "ns", "uid": "other", "generation": 1,
        "creationTimestamp": "2027-01-01T00:00:00Z", "deletionTimestamp": "2027-01-01T00:00:00Z"}});
    let shown: Vec<String> = validate_object_meta_update(&updated, &stored()).iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "metadata.resourceVersion: Invalid value: \"\": must be specified for an update",
            "metadata.generation: Invalid value: 1: must not be decremented",
            "metadata.name: Invalid value: \"b\": field is immutable",
            "metadata.uid: Invalid value: \"other\": field is immutable",
            "metadata.creationTimestamp: Invalid value: \"2027-01-01T00:00:00Z\": field is immutable",
            "metadata.deletionTimestamp: Invalid value: \"2027-01-01T00:00:00Z\": field is immutable",
        ]
    );
}

#[test]
fn no_finalizer_may_be_added_while_deleting() {
    let mut old = stored();
    old["metadata"]["deletionTimestamp"] = json!("2026-02-01T00:00:00Z");
    old["metadata"]["finalizers"] = json!(["a.io/x"]);
    let mut updated = old.clone();
    updated["metadata"]["finalizers"] = json!(["a.io/x", "b.io/y", "a.io/z"]);
    let errors = validate_object_meta_update(&updated, &old);
    assert_eq!(
        errors[0].to_string(),
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"a.io/z\", \"b.io/y\"}"
    );
    let mut removed = old.clone();
    removed["metadata"]["finalizers"] = json!([]);
    assert!(validate_object_meta_update(&removed, &old).is_empty());
}

#[test]
fn metadata_of_the_wrong_shape_does_not_panic() {
    for object in [
        json!(null),
        json!([]),
        json!({"metadata": 5}),
        json!({"metadata": {"name": 5, "labels": [], "ownerReferences": {}}}),
    ] {
        let _ = validate_object_meta(&object, true, name_is_dns_label);
        let _ = validate_object_meta_update(&object, &object);
    }
}
