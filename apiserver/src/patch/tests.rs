//! PATCH bodies of every type against real objects, with the statuses kube-apiserver answers.

use serde_json::{Value, json};

use super::*;

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "finalizers": ["a"]},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"}]},
                        {"name": "sidecar", "image": "busybox"}
                    ],
                    "tolerations": [{"key": "k", "operator": "Exists"}]
                }
            }
        }
    })
}

fn smp(current: &Value, body: Value) -> Result<Value, ApiError> {
    let schema = MergeSchema::builtin("apps", "Deployment").unwrap();
    patch(current, PatchType::StrategicMerge, body.to_string().as_bytes(), Some(&schema))
}

#[test]
fn content_types_map_to_patch_types() {
    assert_eq!(PatchType::from_content_type("application/json-patch+json; charset=utf-8"), Some(PatchType::Json));
    assert_eq!(PatchType::from_content_type("application/merge-patch+json"), Some(PatchType::Merge));
    assert_eq!(PatchType::from_content_type("application/strategic-merge-patch+json"), Some(PatchType::StrategicMerge));
    assert_eq!(PatchType::from_content_type("application/apply-patch+yaml"), Some(PatchType::Apply));
    assert_eq!(PatchType::from_content_type("application/json"), None);
}

#[test]
fn json_patch_applies_operations_in_order() {
    let body = br#"[{"op":"test","path":"/spec/replicas","value":1},
                    {"op":"replace","path":"/spec/replicas","value":3},
                    {"op":"add","path":"/metadata/labels/tier","value":"web"},
                    {"op":"remove","path":"/spec/template/spec/containers/1"}]"#;
    let patched = patch(&deployment(), PatchType::Json, body, None).unwrap();
    assert_eq!(patched["spec"]["replicas"], 3);
    assert_eq!(patched["metadata"]["labels"]["tier"], "web");
    assert_eq!(patched["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 1);
}

#[test]
fn a_failing_json_patch_operation_is_unprocessable() {
    for body in [
        br#"[{"op":"test","path":"/spec/replicas","value":2}]"#.as_slice(),
        br#"[{"op":"remove","path":"/spec/nothing"}]"#,
        br#"[{"op":"frobnicate","path":"/spec"}]"#,
        br#"[{"op":"add"}]"#,
        br#"[null]"#,
    ] {
        let error = patch(&deployment(), PatchType::Json, body, None).unwrap_err();
        assert_eq!(error.code, 422, "{}", String::from_utf8_lossy(body));
        assert_eq!(error.reason, StatusReason::Invalid);
        assert_eq!(error.message, "the server rejected our request due to an error in our request");
        assert_eq!(error.to_status()["details"], json!({}));
    }
}

#[test]
fn a_malformed_json_patch_is_a_bad_request() {
    let error = patch(&deployment(), PatchType::Json, b"{not json", None).unwrap_err();
    assert_eq!(error.code, 400);
    let error = patch(&deployment(), PatchType::Json, br#"{"op":"add"}"#, None).unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        (400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    );
    assert_eq!(patch(&deployment(), PatchType::Json, b"null", None).unwrap(), deployment());
}

#[test]
fn json_patch_operation_count_is_capped() {
    let ops: Vec<Value> = (0..10_001).map(|_| json!({"op": "test", "path": "/kind", "value": "Deployment"})).collect();
    let body = serde_json::to_vec(&ops).unwrap();
    let error = patch(&deployment(), PatchType::Json, &body, None).unwrap_err();
    assert_eq!(error.code, 413);
    assert_eq!(error.message, "The allowed maximum operations in a JSON patch is 10000, got 10001");
}

#[test]
fn json_patch_replacing_the_whole_document_with_a_non_object_is_invalid() {
    let error =
        patch(&deployment(), PatchType::Json, br#"[{"op":"replace","path":"","value":[1]}]"#, None).unwrap_err();
    assert_eq!((error.code, error.reason), (422, StatusReason::Invalid));
}

#[test]
fn merge_patch_merges_maps_replaces_lists_and_deletes_nulls() {
    let body = br#"{"metadata":{"labels":{"app":null,"tier":"web"}},"spec":{"template":{"spec":{"containers":[{"name":"only"}]}}}}"#;
    let patched = patch(&deployment(), PatchType::Merge, body, None).unwrap();
    assert_eq!(patched["metadata"]["labels"], json!({"tier": "web"}));
    assert_eq!(patched["spec"]["template"]["spec"]["containers"], json!([{"name": "only"}]));
    assert_eq!(patched["spec"]["replicas"], 1);
}

#[test]
fn merge_patch_bodies_that_are_not_objects_fail_like_kube() {
    for body in [b"{oops".as_slice(), b"null", b"3", b"\"x\""] {
        let error = patch(&deployment(), PatchType::Merge, body, None).unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            (400, "Invalid JSON Patch"),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let error = patch(&deployment(), PatchType::Merge, b"[1]", None).unwrap_err();
    assert_eq!((error.code, error.reason), (422, StatusReason::Invalid));
    assert!(error.message.starts_with(" \"\" is invalid: patch: Invalid value: "), "{}", error.message);
}

#[test]
fn strategic_merge_patch_merges_containers_by_name() {
    let patched = smp(
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}}),
    )
    .unwrap();
    let containers = &patched["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], "nginx:1.27");
    assert_eq!(containers[0]["ports"][0]["containerPort"], 80, "unpatched fields of the item stay");
    assert_eq!(containers[1]["name"], "sidecar", "items not in the patch stay");
}

#[test]
fn strategic_merge_patch_merges_env_ports_and_finalizers_but_replaces_tolerations() {
    let patched = smp(
        &deployment(),
        json!({"metadata": {"finalizers": ["b"]},
               "spec": {"template": {"spec": {
                   "containers": [{"name": "nginx", "env": [{"name": "B", "value": "2"}],
                                   "ports": [{"containerPort": 443}]}],
                   "tolerations": [{"key": "other", "operator": "Exists"}]}}}}),
    )
    .unwrap();
    assert_eq!(patched["metadata"]["finalizers"], json!(["b", "a"]), "new items go first, as in kube");
    let nginx = &patched["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(nginx["env"], json!([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]));
    assert_eq!(nginx["ports"].as_array().unwrap().len(), 2);
    assert_eq!(patched["spec"]["template"]["spec"]["tolerations"], json!([{"key": "other", "operator": "Exists"}]));
}

#[test]
fn strategic_merge_patch_as_kubectl_apply_sends_it() {
    // A three-way patch from client-side `kubectl apply`: a removed container, a new one, a new order, a
    // strategy switch that clears rollingUpdate, and a finalizer removal.
    let body = json!({
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"],
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
        "spec": {
            "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            "template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "nginx"}],
                "containers": [{"name": "app", "image": "app:1"}, {"$patch": "delete", "name": "sidecar"}]
            }}
        }
    });
    let patched = smp(&deployment(), body).unwrap();
    assert_eq!(patched["metadata"]["finalizers"], json!([]));
    assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));
    let names: Vec<&str> = patched["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "nginx"]);
}

#[test]
fn strategic_merge_patch_errors_carry_kubes_statuses() {
    let error = smp(&deployment(), json!([1])).unwrap_err();
    assert_eq!(
        (error.code, error.message.as_str()),
        (400, "json: cannot unmarshal array into Go value of type map[string]interface {}")
    );
    let error = smp(&deployment(), json!({"spec": {"strategy": {"$retainKeys": ["type"], "x": 1}}})).unwrap_err();
    assert_eq!((error.code, error.message.as_str()), (400, "invalid patch format of retainKeys"));
    let error =
        smp(&deployment(), json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})).unwrap_err();
    assert_eq!(error.code, 500);
    assert_eq!(error.message, "map: map[image:x] does not contain declared merge key: name");
    assert!(error.to_status().get("reason").is_none(), "kube-apiserver sends no reason for these");
    let schema = MergeSchema::builtin("apps", "Deployment").unwrap();
    let error = patch(&deployment(), PatchType::StrategicMerge, b"{not json", Some(&schema)).unwrap_err();
    assert_eq!(error.code, 400);
}

#[test]
fn strategic_merge_patch_needs_a_merge_schema() {
    let error = patch(&deployment(), PatchType::StrategicMerge, b"{}", None).unwrap_err();
    assert_eq!((error.code, error.reason), (415, StatusReason::UnsupportedMediaType));
    let crd = MergeSchema::from_openapi(&json!({"type": "object"}));
    assert!(!crd.supports_strategic_merge());
    assert_eq!(patch(&deployment(), PatchType::StrategicMerge, b"{}", Some(&crd)).unwrap_err().code, 415);
    assert_eq!(
        error.message,
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
}

#[test]
fn apply_bodies_parse_from_yaml_or_json() {
    let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: \"1\"\n";
    assert_eq!(
        parse_apply_body(yaml).unwrap(),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "1"}})
    );
    assert_eq!(parse_apply_body(br#"{"kind":"ConfigMap"}"#).unwrap(), json!({"kind": "ConfigMap"}));
    for bad in [b"- a\n- b\n".as_slice(), b"key: [unclosed", b"\xff\xfe", b"just a string"] {
        let error = parse_apply_body(bad).unwrap_err();
        assert_eq!(error.code, 400, "{}", String::from_utf8_lossy(bad));
        assert!(error.message.starts_with("error decoding patch: "), "{}", error.message);
    }
}

#[test]
fn deeply_nested_bodies_do_not_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(patch(&deployment(), PatchType::Json, deep.as_bytes(), None).unwrap_err().code, 400);
    assert_eq!(patch(&deployment(), PatchType::Merge, deep.as_bytes(), None).unwrap_err().code, 400);
    let deep_yaml = format!("a: {}1{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(parse_apply_body(deep_yaml.as_bytes()).unwrap_err().code, 400);
    let nested_object = format!("{}1{}", "{\"a\":".repeat(120), "}".repeat(120));
    assert!(smp(&deployment(), serde_json::from_str(&nested_object).unwrap()).is_ok());
}

#[test]
fn large_lists_merge_without_quadratic_blowup() {
    let items = |prefix: &str| -> Vec<Value> { (0..20_000).map(|i| json!({"name": format!("{prefix}{i}")})).collect() };
    let mut current = deployment();
    current["spec"]["template"]["spec"]["containers"] = Value::Array(items("live-"));
    let mut body_items = items("new-");
    body_items.extend((0..20_000).map(|i| json!({"name": format!("live-{i}"), "$patch": "delete"})));
    let patched = smp(&current, json!({"spec": {"template": {"spec": {"containers": body_items}}}})).unwrap();
    assert_eq!(patched["spec"]["template"]["spec"]["containers"].as_array().unwrap().len(), 20_000);

    let copies: Vec<Value> =
        (0..200).map(|i| json!({"op": "copy", "from": "/spec/template", "path": format!("/metadata/c{i}")})).collect();
    let error = patch(&patched, PatchType::Json, &serde_json::to_vec(&copies).unwrap(), None).unwrap_err();
    assert_eq!(error.code, 422, "copies are capped at 3 MiB");
}
