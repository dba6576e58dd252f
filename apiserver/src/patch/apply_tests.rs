//! Server-side apply and managedFields tracking, scenario by scenario, as kubectl users see them.

use serde_json::{Value, json};

use super::*;
use crate::machinery::StatusReason;

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T11:00:00Z";
const T3: &str = "2024-05-01T12:00:00Z";

fn deploy_schema() -> MergeSchema {
    MergeSchema::builtin("apps", "Deployment").unwrap()
}

fn config(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

/// What the store adds on create.
fn stored(mut object: Value) -> Value {
    object["metadata"]["uid"] = json!("0d6b6c34-1");
    object["metadata"]["resourceVersion"] = json!("5");
    object["metadata"]["creationTimestamp"] = json!(T1);
    object["metadata"]["generation"] = json!(1);
    object
}

fn entries(object: &Value) -> Vec<Value> {
    object["metadata"]["managedFields"].as_array().cloned().unwrap_or_default()
}

fn entry<'a>(object: &'a Value, manager: &str) -> &'a Value {
    object["metadata"]["managedFields"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["manager"] == manager))
        .unwrap_or_else(|| panic!("no entry for {manager} in {object}"))
}

fn ssa(live: Option<&Value>, applied: &Value, manager: &str, force: bool, now: &str) -> Result<Value, ApiError> {
    apply(live, applied, manager, force, Some(&deploy_schema()), now)
}

#[test]
fn apply_creates_and_records_exactly_the_applied_fields() {
    let created = ssa(None, &config(2, "nginx:1.25"), "kubectl", false, T1).unwrap();
    assert_eq!(created["spec"]["replicas"], 2);
    assert_eq!(created["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.25");
    assert_eq!(
        entries(&created),
        vec![json!({
            "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T1, "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                            ".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                        }}}
                    }
                }
            }
        })]
    );
}

#[test]
fn reapplying_the_same_configuration_changes_nothing() {
    let created = stored(ssa(None, &config(2, "nginx"), "kubectl", false, T1).unwrap());
    let again = ssa(Some(&created), &config(2, "nginx"), "kubectl", false, T2).unwrap();
    assert_eq!(again, created);
}

#[test]
fn fields_dropped_from_the_configuration_are_removed() {
    let mut first = config(2, "nginx");
    first["metadata"]["labels"]["tier"] = json!("frontend");
    first["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "busybox"}));
    let created = stored(ssa(None, &first, "kubectl", false, T1).unwrap());
    let updated = ssa(Some(&created), &config(2, "nginx"), "kubectl", false, T2).unwrap();
    assert_eq!(updated["metadata"]["labels"], json!({"app": "web"}));
    let containers = updated["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(entry(&updated, "kubectl")["time"], T2);
}

#[test]
fn fields_another_manager_owns_survive_when_the_applier_drops_them() {
    let mut first = config(2, "nginx");
    first["metadata"]["labels"]["tier"] = json!("frontend");
    let created = stored(ssa(None, &first, "alice", false, T1).unwrap());
    let shared = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "web", "labels": {"tier": "frontend"}}});
    let with_bob = ssa(Some(&created), &shared, "bob", false, T2).unwrap();
    assert_eq!(
        with_bob,
        {
            let mut expected = created.clone();
            let bob = json!({"manager": "bob", "operation": "Apply", "apiVersion": "apps/v1",
                         "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:tier": {}}}}});
            expected["metadata"]["managedFields"].as_array_mut().unwrap().insert(0, bob);
            expected
        },
        "a no-op apply records the new manager without a time"
    );
    let dropped = ssa(Some(&with_bob), &config(2, "nginx"), "alice", false, T3).unwrap();
    assert_eq!(dropped["metadata"]["labels"], json!({"app": "web", "tier": "frontend"}));
}

#[test]
fn changing_a_field_another_manager_set_is_a_conflict() {
    let created = stored(ssa(None, &config(2, "nginx"), "kubectl", false, T1).unwrap());
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(5);
    track_update(Some(&created), &mut scaled, "kubectl-scale", None, Some(&deploy_schema()), T2);
    let scaler = entry(&scaled, "kubectl-scale");
    assert_eq!(scaler["operation"], "Update");
    assert_eq!(scaler["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    assert!(entry(&scaled, "kubectl")["fieldsV1"]["f:spec"].get("f:replicas").is_none(), "ownership moved");

    let error = ssa(Some(&scaled), &config(3, "nginx"), "kubectl", false, T3).unwrap_err();
    assert_eq!(error.code, 409);
    assert_eq!(error.reason, StatusReason::Conflict);
    assert_eq!(
        error.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-scale\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        error.details,
        Some(json!({"causes": [{"reason": "FieldManagerConflict",
                                "message": "conflict with \"kubectl-scale\" using apps/v1", "field": ".spec.replicas"}]}))
    );

    let forced = ssa(Some(&scaled), &config(3, "nginx"), "kubectl", true, T3).unwrap();
    assert_eq!(forced["spec"]["replicas"], 3);
    assert!(entries(&forced).iter().all(|e| e["manager"] != "kubectl-scale"), "empty managers are dropped");
    assert_eq!(entry(&forced, "kubectl")["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
}

#[test]
fn applying_the_value_another_manager_set_shares_the_field() {
    let created = stored(ssa(None, &config(2, "nginx"), "kubectl", false, T1).unwrap());
    let replicas = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                          "spec": {"replicas": 2}});
    let shared = ssa(Some(&created), &replicas, "hpa", false, T2).unwrap();
    assert_eq!(entry(&shared, "hpa")["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    assert_eq!(entry(&shared, "kubectl")["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
}

#[test]
fn several_conflicts_are_listed_by_manager() {
    let created = stored(ssa(None, &config(2, "nginx"), "kubectl", false, T1).unwrap());
    let mut changed = config(4, "nginx:2");
    changed["metadata"].as_object_mut().unwrap().remove("labels");
    let error = ssa(Some(&created), &changed, "ci", false, T2).unwrap_err();
    assert_eq!(
        error.message,
        "Apply failed with 2 conflicts: conflicts with \"kubectl\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"nginx\"].image"
    );
    assert_eq!(error.details.unwrap()["causes"].as_array().unwrap().len(), 2);
}

fn client_side_create(config: &Value) -> Value {
    let mut object = config.clone();
    object["metadata"]["annotations"] = json!({LAST_APPLIED: config.to_string()});
    let mut object = stored(object);
    track_update(None, &mut object, "kubectl-client-side-apply", None, Some(&deploy_schema()), T1);
    object
}

#[test]
fn creates_are_tracked_against_the_kinds_empty_object() {
    let created = client_side_create(&config(2, "nginx"));
    let fields = &entry(&created, "kubectl-client-side-apply")["fieldsV1"];
    assert_eq!(entry(&created, "kubectl-client-side-apply")["operation"], "Update");
    assert_eq!(fields["f:metadata"]["f:labels"], json!({".": {}, "f:app": {}}));
    assert!(fields["f:metadata"].get("f:name").is_none() && fields["f:metadata"].get("f:uid").is_none());
    assert!(fields["f:spec"].get(".").is_none(), "spec always exists in a typed empty object");
    assert!(fields["f:spec"]["f:template"]["f:spec"]["f:containers"].get(".").is_none());
    assert_eq!(fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]["."], json!({}));
    assert_eq!(fields["f:spec"]["f:selector"], json!({}));
}

#[test]
fn kubectl_server_side_apply_takes_over_from_client_side_apply() {
    let created = client_side_create(&config(2, "nginx"));
    let upgraded = ssa(Some(&created), &config(3, "nginx"), "kubectl", false, T2).unwrap();
    assert_eq!(upgraded["spec"]["replicas"], 3);
    assert_eq!(entry(&upgraded, "kubectl")["fieldsV1"]["f:spec"]["f:replicas"], json!({}));
    let annotation = upgraded["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap();
    assert!(annotation.ends_with('\n'));
    let recorded: Value = serde_json::from_str(annotation).unwrap();
    assert_eq!(recorded["spec"]["replicas"], 3, "the last-applied annotation follows server-side applies");

    let other = ssa(Some(&created), &config(3, "nginx"), "someone-else", false, T2).unwrap_err();
    assert_eq!(other.code, 409);
    assert!(other.message.contains("\"kubectl-client-side-apply\" using apps/v1: .spec.replicas"), "{}", other.message);
}

#[test]
fn client_side_changes_after_the_last_apply_still_conflict() {
    let created = client_side_create(&config(2, "nginx"));
    let mut edited = created.clone();
    edited["spec"]["replicas"] = json!(7);
    track_update(Some(&created), &mut edited, "kubectl-edit", None, Some(&deploy_schema()), T2);
    let error = ssa(Some(&edited), &config(3, "nginx"), "kubectl", false, T3).unwrap_err();
    assert_eq!(
        error.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn objects_without_managed_fields_get_a_before_first_apply_owner() {
    let mut legacy = stored(config(2, "nginx"));
    legacy["metadata"]["labels"]["extra"] = json!("x");
    let applied = ssa(Some(&legacy), &config(2, "nginx"), "kubectl", false, T2).unwrap();
    let before = entry(&applied, "before-first-apply");
    assert_eq!(before["operation"], "Update");
    assert_eq!(before["fieldsV1"]["f:metadata"]["f:labels"]["f:extra"], json!({}));
    assert_eq!(applied["metadata"]["labels"]["extra"], "x");
    let changed = ssa(Some(&legacy), &config(9, "nginx"), "kubectl", false, T2).unwrap_err();
    assert!(changed.message.contains("\"before-first-apply\" using apps/v1: .spec.replicas"));
}

#[test]
fn apply_refuses_another_kind_and_managed_fields() {
    let created = stored(ssa(None, &config(2, "nginx"), "kubectl", false, T1).unwrap());
    let mut other = config(2, "nginx");
    other["kind"] = json!("StatefulSet");
    let error = ssa(Some(&created), &other, "kubectl", false, T2).unwrap_err();
    assert_eq!((error.code, error.message.as_str()), (400, "invalid object type: apps/v1, Kind=StatefulSet"));
    let mut with_fields = config(2, "nginx");
    with_fields["metadata"]["managedFields"] = json!([]);
    let error = ssa(Some(&created), &with_fields, "kubectl", false, T2).unwrap_err();
    assert_eq!((error.code, error.message.as_str()), (400, "metadata.managedFields must be nil"));
}

#[test]
fn duplicate_or_keyless_items_fail_as_kube_does() {
    let mut doubled = config(2, "nginx");
    doubled["spec"]["template"]["spec"]["containers"] = json!([{"name": "a"}, {"name": "a"}]);
    let error = ssa(None, &doubled, "kubectl", false, T1).unwrap_err();
    assert_eq!(error.code, 500);
    assert_eq!(error.reason, StatusReason::Unknown);
    assert_eq!(
        error.message,
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name=\"a\"]"
    );
    let mut keyless = config(2, "nginx");
    keyless["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
    let error = ssa(None, &keyless, "kubectl", false, T1).unwrap_err();
    assert!(error.message.ends_with("element 0: associative list with keys has an element that omits all key fields [\"name\"] (and doesn't have default values for any key fields)"), "{}", error.message);
}

#[test]
fn updates_take_fields_and_removals_from_other_managers() {
    let created = stored(ssa(None, &config(2, "nginx"), "kubectl", false, T1).unwrap());
    let mut edited = created.clone();
    edited["metadata"]["labels"] = json!({"app": "web", "env": "prod"});
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    edited["spec"]["replicas"] = Value::Null;
    edited.as_object_mut().unwrap()["spec"].as_object_mut().unwrap().remove("replicas");
    track_update(Some(&created), &mut edited, "kubectl-edit", None, Some(&deploy_schema()), T2);
    assert_eq!(
        entry(&edited, "kubectl-edit")["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:env": {}}},
               "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {"f:image": {}}}}}}})
    );
    let kubectl = &entry(&edited, "kubectl")["fieldsV1"];
    assert!(kubectl["f:spec"].get("f:replicas").is_none(), "removed fields leave their owner");
    assert!(
        kubectl["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"].get("f:image").is_none()
    );
    assert_eq!(entry(&edited, "kubectl-edit")["time"], T2);
}

#[test]
fn an_update_that_changes_nothing_leaves_managed_fields_alone() {
    let created = stored(ssa(None, &config(2, "nginx"), "kubectl", false, T1).unwrap());
    let mut same = created.clone();
    same["metadata"]["resourceVersion"] = json!("9");
    track_update(Some(&created), &mut same, "kubectl-edit", None, Some(&deploy_schema()), T2);
    assert_eq!(same["metadata"]["managedFields"], created["metadata"]["managedFields"]);
}

#[test]
fn status_is_owned_only_through_the_status_subresource() {
    let created = stored(ssa(None, &config(2, "nginx"), "kubectl", false, T1).unwrap());
    let mut main = created.clone();
    main["status"] = json!({"replicas": 2});
    track_update(Some(&created), &mut main, "meddler", None, Some(&deploy_schema()), T2);
    assert!(entries(&main).iter().all(|e| e["manager"] != "meddler"));

    let mut status = created.clone();
    status["status"] = json!({"replicas": 2});
    status["spec"]["replicas"] = json!(100);
    track_update(Some(&created), &mut status, "kube-controller-manager", Some("status"), Some(&deploy_schema()), T2);
    let controller = entry(&status, "kube-controller-manager");
    assert_eq!(controller["subresource"], "status");
    assert_eq!(controller["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
}

#[test]
fn managed_fields_sent_by_the_client_are_honoured_or_reset() {
    let created = stored(ssa(None, &config(2, "nginx"), "kubectl", false, T1).unwrap());
    let mut reset = created.clone();
    reset["metadata"]["managedFields"] = json!([]);
    track_update(Some(&created), &mut reset, "kubectl-edit", None, Some(&deploy_schema()), T2);
    assert!(reset["metadata"].get("managedFields").is_none(), "a reset existing object is no longer tracked");

    let mut untracked = created.clone();
    untracked["metadata"].as_object_mut().unwrap().remove("managedFields");
    let mut next = untracked.clone();
    next["spec"]["replicas"] = json!(4);
    track_update(Some(&untracked), &mut next, "kubectl-edit", None, Some(&deploy_schema()), T2);
    assert!(next["metadata"].get("managedFields").is_none());

    let mut rewritten = created.clone();
    rewritten["metadata"]["managedFields"][0]["manager"] = json!("renamed");
    track_update(Some(&created), &mut rewritten, "kubectl-edit", None, Some(&deploy_schema()), T2);
    assert_eq!(entries(&rewritten)[0]["manager"], "renamed");

    let mut garbage = created.clone();
    garbage["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Nope"}]);
    track_update(Some(&created), &mut garbage, "kubectl-edit", None, Some(&deploy_schema()), T2);
    assert_eq!(garbage["metadata"]["managedFields"], created["metadata"]["managedFields"]);
}

#[test]
fn at_most_ten_update_managers_are_kept() {
    let mut object = stored(ssa(None, &config(2, "nginx"), "kubectl", false, T1).unwrap());
    for i in 0..12 {
        let mut next = object.clone();
        next["metadata"]["labels"][format!("l{i}")] = json!("x");
        let now = format!("2024-05-01T10:00:{i:02}Z");
        track_update(Some(&object), &mut next, &format!("writer-{i}"), None, Some(&deploy_schema()), &now);
        object = next;
    }
    let updaters: Vec<Value> = entries(&object).into_iter().filter(|e| e["operation"] == "Update").collect();
    assert_eq!(updaters.len(), 10);
    assert!(updaters.iter().any(|e| e["manager"] == "ancient-changes"));
    assert!(entries(&object).iter().any(|e| e["manager"] == "kubectl"), "appliers are never capped");
}

#[test]
fn an_unnamed_manager_is_unknown() {
    let mut object = stored(config(1, "x"));
    track_update(None, &mut object, "", None, Some(&deploy_schema()), T1);
    assert_eq!(entries(&object)[0]["manager"], "unknown");
}

#[test]
fn custom_resources_own_preserved_fields_as_map_keys() {
    let schema = MergeSchema::from_openapi(&json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["id"],
                      "items": {"type": "object", "properties": {"id": {"type": "integer"}, "v": {"type": "string"}}}},
            "blob": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}));
    let cr = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "finalizers": ["f"]},
                    "spec": {"items": [{"id": 1, "v": "a"}], "blob": {"deep": {"x": 1}}}});
    let created = apply(None, &cr, "op", false, Some(&schema), T1).unwrap();
    assert_eq!(
        entry(&created, "op")["fieldsV1"],
        json!({"f:metadata": {"f:finalizers": {"v:\"f\"": {}}},
               "f:spec": {"f:blob": {"f:deep": {".": {}, "f:x": {}}},
                          "f:items": {"k:{\"id\":1}": {".": {}, "f:id": {}, "f:v": {}}}}})
    );
    let mut more = cr.clone();
    more["spec"]["items"] = json!([{"id": 2, "v": "b"}]);
    let other = apply(Some(&created), &more, "other", false, Some(&schema), T2).unwrap();
    assert_eq!(other["spec"]["items"], json!([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]), "items merge by key");
}

#[test]
fn apply_without_a_schema_treats_lists_as_atomic() {
    let cr = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a"}, "spec": {"l": [1, 2]}});
    let created = apply(None, &cr, "op", false, None, T1).unwrap();
    // metadata.name is nobody's; everything else is owned as map keys, lists whole.
    assert_eq!(entry(&created, "op")["fieldsV1"], json!({"f:spec": {".": {}, "f:l": {}}}));
}

#[test]
fn apply_to_the_status_subresource_records_the_subresource() {
    let created = stored(ssa(None, &config(2, "nginx"), "kubectl", false, T1).unwrap());
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                        "status": {"replicas": 2}});
    let updated =
        apply_subresource(Some(&created), &status, "ctrl", Some("status"), false, Some(&deploy_schema()), T2).unwrap();
    let ctrl = entry(&updated, "ctrl");
    assert_eq!(ctrl["subresource"], "status");
    assert_eq!(ctrl["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
    assert_eq!(updated["status"]["replicas"], 2);
}
