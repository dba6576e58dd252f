//! Tests of kind schemas: building, pruning, field validation, CRD value validation and defaulting.

use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap};
use serde_json::{Value, json};

use super::*;
use crate::machinery::{FieldErrorKind, StatusReason, options::FieldValidation};

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx", "resources": {"limits": {"cpu": "1"}}}]}
            }
        }
    })
}

fn all_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                refs.push(r.clone());
            }
            map.values().for_each(|v| all_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| all_refs(v, refs)),
        _ => {}
    }
}

#[test]
fn a_builtin_kind_is_published_under_its_kubernetes_name_with_its_group_version_kind() {
    let schema = KindSchema::builtin::<Deployment>();
    assert_eq!(schema.name(), "io.k8s.api.apps.v1.Deployment");
    assert_eq!((schema.group(), schema.version(), schema.kind()), ("apps", "v1", "Deployment"));
    assert_eq!(
        schema.schema()["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
    );
    assert_eq!(
        schema.schema()["properties"]["metadata"]["allOf"],
        json!([{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}])
    );
    assert!(!schema.is_structural());
}

#[test]
fn every_reference_of_a_builtin_kind_resolves_within_its_components() {
    let schema = KindSchema::builtin::<Deployment>();
    let mut refs = Vec::new();
    for component in schema.components().values() {
        all_refs(component, &mut refs);
    }
    assert!(refs.len() > 50);
    for reference in refs {
        let name = reference.strip_prefix(REF_PREFIX).unwrap_or_else(|| panic!("not a component ref: {reference}"));
        assert!(schema.components().contains_key(name), "{name} is missing");
    }
    for component in schema.components().values() {
        assert!(!component.to_string().contains("$defs"));
    }
}

#[test]
fn int_or_string_and_quantity_read_as_kube_declares_them() {
    let schema = KindSchema::builtin::<Deployment>();
    let int_or_string = &schema.components()["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(int_or_string["format"], "int-or-string");
    assert_eq!(int_or_string["x-kubernetes-int-or-string"], true);
    assert_eq!(int_or_string["oneOf"], json!([{"type": "integer"}, {"type": "string"}]));
    let quantity = &schema.components()["io.k8s.apimachinery.pkg.api.resource.Quantity"];
    assert_eq!(quantity["oneOf"], json!([{"type": "string"}, {"type": "number"}]));
}

#[test]
fn builtin_lists_carry_kubernetes_patch_merge_keys() {
    let schema = KindSchema::builtin::<Deployment>();
    let containers = &schema.components()["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    let strategy = &schema.components()["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
}

#[test]
fn building_a_builtin_kind_twice_shares_the_first_build() {
    let first = KindSchema::builtin::<ConfigMap>();
    let second = KindSchema::builtin::<ConfigMap>();
    assert!(Arc::ptr_eq(&first, &second));
}

#[test]
fn a_known_builtin_object_passes_unchanged_and_without_warnings() {
    let schema = KindSchema::builtin::<Deployment>();
    let mut object = deployment();
    let raw = serde_json::to_vec(&object).unwrap_or_default();
    let warnings = validate(&mut object, &schema, FieldValidation::Strict, Some(&raw));
    assert_eq!(warnings, Ok(vec![]));
    assert_eq!(object, deployment());
}

#[test]
fn unknown_builtin_fields_are_pruned_and_warned_about_in_document_order() {
    let schema = KindSchema::builtin::<Deployment>();
    let raw = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","colour":"red"},
        "spec":{"zzz":1,"selector":{"matchLabels":{"app":"web"}},"template":{"spec":{"containers":[
        {"name":"web","image":"nginx","imageTag":"1"}]}},"aaa":true}}"#;
    let mut object: Value = serde_json::from_str(raw).unwrap_or_default();
    let warnings = validate(&mut object, &schema, FieldValidation::Warn, Some(raw.as_bytes()));
    assert_eq!(
        warnings,
        Ok(vec![
            r#"unknown field "metadata.colour""#.to_string(),
            r#"unknown field "spec.zzz""#.to_string(),
            r#"unknown field "spec.template.spec.containers[0].imageTag""#.to_string(),
            r#"unknown field "spec.aaa""#.to_string(),
        ])
    );
    assert_eq!(object["metadata"], json!({"name": "web"}));
    assert!(object["spec"].get("zzz").is_none() && object["spec"].get("aaa").is_none());
    assert_eq!(object["spec"]["template"]["spec"]["containers"][0], json!({"name": "web", "image": "nginx"}));
}

#[test]
fn strict_field_validation_refuses_unknown_and_duplicate_fields_with_kubes_message() {
    let schema = KindSchema::builtin::<Deployment>();
    let raw = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
        "spec":{"replicas":1,"replicas":2,"foo":1,"selector":{}}}"#;
    let mut object: Value = serde_json::from_str(raw).unwrap_or_default();
    let error = validate(&mut object, &schema, FieldValidation::Strict, Some(raw.as_bytes()));
    let error = error.err().unwrap_or_else(|| panic!("strict validation passed"));
    assert_eq!(error.code, 400);
    assert_eq!(error.reason, StatusReason::BadRequest);
    assert_eq!(
        error.message,
        r#"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: duplicate field "spec.replicas", unknown field "spec.foo""#
    );
}

#[test]
fn ignore_prunes_silently() {
    let schema = KindSchema::builtin::<ConfigMap>();
    let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"},
        "extra": 1});
    let warnings = validate(&mut object, &schema, FieldValidation::Ignore, None);
    assert_eq!(warnings, Ok(vec![]));
    assert!(object.get("extra").is_none());
    assert_eq!(object["data"], json!({"a": "b"}));
}

#[test]
fn free_form_builtin_fields_keep_whatever_they_hold() {
    let schema = KindSchema::builtin::<ConfigMap>();
    let fields = json!({"f:data": {"f:a": {}}, "f:metadata": {".": {}}});
    let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "managedFields": [{"manager": "kubectl", "fieldsType": "FieldsV1",
        "fieldsV1": fields}]}});
    let warnings = validate(&mut object, &schema, FieldValidation::Strict, None);
    assert_eq!(warnings, Ok(vec![]));
    assert_eq!(object["metadata"]["managedFields"][0]["fieldsV1"], fields);
}

fn crd_schema() -> Value {
    json!({
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["image"],
                "properties": {
                    "replicas": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 10, "default": 1},
                    "image": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                    "mode": {"type": "string", "enum": ["Fast", "Slow"], "default": "Fast"},
                    "port": {"x-kubernetes-int-or-string": true,
                             "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"},
                             "x-kubernetes-list-type": "set"},
                    "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                               "properties": {"level": {"type": "integer"}}},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                 "x-kubernetes-preserve-unknown-fields": true},
                    "when": {"type": "string", "format": "date-time"},
                    "nested": {"type": "object", "default": {},
                               "properties": {"depth": {"type": "integer", "default": 3}}}
                }
            },
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
        }
    })
}

fn widget() -> KindSchema {
    KindSchema::from_crd("example.com", "v1", "Widget", &crd_schema()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_crd_schema_is_published_with_type_meta_and_an_object_meta_reference() {
    let schema = widget();
    assert_eq!(schema.name(), "com.example.v1.Widget");
    assert!(schema.is_structural());
    let published = schema.schema();
    assert_eq!(
        published["x-kubernetes-group-version-kind"],
        json!([{"group": "example.com", "kind": "Widget",
        "version": "v1"}])
    );
    assert_eq!(published["properties"]["apiVersion"]["type"], "string");
    assert_eq!(published["properties"]["metadata"]["allOf"][0]["$ref"], format!("{REF_PREFIX}{OBJECT_META}"));
    assert!(schema.components().contains_key(OBJECT_META));
    let template = &published["properties"]["spec"]["properties"]["template"];
    assert_eq!(template["required"], json!(["kind", "apiVersion"]));
    assert!(template["properties"]["metadata"].is_object());
}

#[test]
fn a_crd_schema_must_be_an_object() {
    assert_eq!(KindSchema::from_crd("g", "v1", "K", &json!("x")).err(), Some(SchemaError::NotAnObject));
}

#[test]
fn crd_pruning_drops_unknown_fields_but_preserves_where_the_schema_says_so() {
    let schema = widget();
    let mut object = json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "bogus": 1},
        "spec": {"image": "nginx", "colour": "red", "config": {"anything": {"goes": true}, "level": 2},
                 "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "junk": 1},
                              "spec": {"free": "form"}},
                 "labels": {"a": "b"}},
        "status": {"ready": true, "phase": "Up"},
        "other": 1
    });
    let warnings = validate(&mut object, &schema, FieldValidation::Warn, None);
    assert_eq!(
        warnings,
        Ok(vec![
            r#"unknown field "metadata.bogus""#.to_string(),
            r#"unknown field "other""#.to_string(),
            r#"unknown field "spec.colour""#.to_string(),
            r#"unknown field "status.phase""#.to_string(),
            r#"unknown field "spec.template.metadata.junk""#.to_string(),
        ])
    );
    assert_eq!(object["spec"]["config"], json!({"anything": {"goes": true}, "level": 2}));
    assert_eq!(object["spec"]["template"]["spec"], json!({"free": "form"}));
    assert_eq!(object["spec"]["template"]["metadata"], json!({"name": "p"}));
    assert_eq!(object["metadata"], json!({"name": "w"}));
}

#[test]
fn crd_duplicates_come_before_unknown_fields_in_strict_errors() {
    let schema = widget();
    let raw = r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},
        "spec":{"image":"a","image":"b","zz":1,"aa":2}}"#;
    let mut object: Value = serde_json::from_str(raw).unwrap_or_default();
    let error = validate(&mut object, &schema, FieldValidation::Strict, Some(raw.as_bytes())).err();
    assert_eq!(
        error.map(|e| e.message),
        Some(
            r#"Widget in version "v1" cannot be handled as a Widget: strict decoding error: duplicate field "spec.image", unknown field "spec.aa", unknown field "spec.zz""#
                .to_string()
        )
    );
}

#[test]
fn crd_nulls_without_nullable_or_default_are_dropped() {
    let schema = widget();
    let mut object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"image": "a", "when": null, "mode": null}});
    let _ = validate(&mut object, &schema, FieldValidation::Ignore, None);
    assert!(object["spec"].get("when").is_none());
    assert_eq!(object["spec"]["mode"], Value::Null);
    apply_defaults(&mut object, &schema);
    assert_eq!(object["spec"]["mode"], "Fast");
}

#[test]
fn crd_defaults_fill_missing_fields_at_every_level() {
    let schema = widget();
    let mut object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"image": "a", "replicas": 3}});
    apply_defaults(&mut object, &schema);
    assert_eq!(object["spec"]["replicas"], 3);
    assert_eq!(object["spec"]["mode"], "Fast");
    assert_eq!(object["spec"]["nested"], json!({"depth": 3}));
}

fn messages(object: &Value) -> Vec<String> {
    validate_values(object, &widget()).iter().map(ToString::to_string).collect()
}

fn widget_with(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
}

#[test]
fn a_valid_custom_resource_has_no_errors() {
    let object = widget_with(json!({"image": "nginx", "replicas": 3, "mode": "Slow", "port": "http",
        "tags": ["a", "b"], "when": "2024-01-02T03:04:05Z", "labels": {"x": "y"}}));
    assert_eq!(messages(&object), Vec::<String>::new());
    assert!(messages(&widget_with(json!({"image": "nginx", "port": 8080}))).is_empty());
}

#[test]
fn wrong_types_read_as_kube_apiserver_reports_them() {
    let errors = validate_values(&widget_with(json!({"image": "a", "replicas": "string"})), &widget());
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#]
    );
    assert_eq!(errors[0].kind, FieldErrorKind::TypeInvalid);
    assert_eq!(
        messages(&widget_with(json!({"image": "a", "port": true}))),
        vec![
            r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
            r#"<nil>: Invalid value: "": "spec.port" must validate at least one schema (anyOf)"#,
            r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer: "boolean""#,
        ]
    );
}

#[test]
fn enum_required_and_bound_violations_read_as_kube_apiserver_reports_them() {
    assert_eq!(
        messages(&widget_with(json!({"image": "a", "mode": "x"}))),
        vec![r#"spec.mode: Unsupported value: "x": supported values: "Fast", "Slow""#]
    );
    assert_eq!(messages(&widget_with(json!({}))), vec!["spec.image: Required value"]);
    assert_eq!(messages(&json!({"apiVersion": "example.com/v1", "kind": "Widget"})), vec!["spec: Required value"]);
    assert_eq!(
        messages(&widget_with(json!({"image": "a", "replicas": 0}))),
        vec!["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"]
    );
    assert_eq!(
        messages(&widget_with(json!({"image": "a", "replicas": 11}))),
        vec!["spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"]
    );
}

#[test]
fn string_and_list_violations_read_as_kube_apiserver_reports_them() {
    assert_eq!(
        messages(&widget_with(json!({"image": "UPPER"}))),
        vec![r#"spec.image: Invalid value: "UPPER": spec.image in body should match '^[a-z]+$'"#]
    );
    assert_eq!(
        messages(&widget_with(json!({"image": "abcdefghij"}))),
        vec!["spec.image: Too long: may not be more than 8 bytes"]
    );
    assert_eq!(
        messages(&widget_with(json!({"image": "a", "tags": ["x", "y", "x"]}))),
        vec!["spec.tags: Too many: 3: must have at most 2 items", r#"spec.tags[2]: Duplicate value: "x""#]
    );
    assert_eq!(
        messages(&widget_with(json!({"image": "a", "when": "soon"}))),
        vec![r#"spec.when: Invalid value: "soon": spec.when in body must be of type date-time: "soon""#]
    );
    assert_eq!(
        messages(&widget_with(json!({"image": "a", "labels": {"k": 1}}))),
        vec![r#"spec.labels.k: Invalid value: "integer": spec.labels.k in body must be of type string: "integer""#]
    );
}

#[test]
fn builtin_kinds_have_no_schema_value_errors_or_defaults() {
    let schema = KindSchema::builtin::<Deployment>();
    let mut object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "x"}});
    assert!(validate_values(&object, &schema).is_empty());
    let before = object.clone();
    apply_defaults(&mut object, &schema);
    assert_eq!(object, before);
}

#[test]
fn unstructured_kinds_keep_everything_but_check_metadata() {
    let schema = KindSchema::unstructured("example.com", "v1", "Thing");
    let mut object = json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t", "x": 1},
        "anything": {"at": ["all"]}});
    let warnings = validate(&mut object, &schema, FieldValidation::Warn, None);
    assert_eq!(warnings, Ok(vec![r#"unknown field "metadata.x""#.to_string()]));
    assert_eq!(object["anything"], json!({"at": ["all"]}));
}

#[test]
fn hostile_objects_do_not_panic() {
    let schema = widget();
    let mut deep = json!(1);
    for depth in 0..100 {
        deep = if depth % 2 == 0 { json!({"spec": deep, "a": 1}) } else { json!([deep, {"x": null}]) };
    }
    let _ = validate(&mut deep.clone(), &schema, FieldValidation::Strict, Some(b"{\"a\":"));
    let _ = validate_values(&deep, &schema);
    apply_defaults(&mut deep, &schema);
    let huge = json!({"spec": {"image": "a", "replicas": 1e300, "tags": [1e300, -1e300]}});
    assert!(!validate_values(&huge, &schema).is_empty());
}

#[test]
fn a_crd_with_a_rich_schema_is_accepted_strictly_and_kept_whole() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let schema = KindSchema::builtin::<CustomResourceDefinition>();
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                "schema": {"openAPIV3Schema": crd_schema()}}]}
    });
    let mut object = crd.clone();
    let raw = serde_json::to_vec(&crd).unwrap_or_default();
    assert_eq!(validate(&mut object, &schema, FieldValidation::Strict, Some(&raw)), Ok(vec![]));
    assert_eq!(object, crd);
}
