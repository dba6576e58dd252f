//! PATCH through the store: merge, JSON, strategic (refused without merge keys) and server-side apply.

use serde_json::{Value, json};

use super::rv;
use crate::{
    machinery::options::{FieldValidation, GetOptions, PatchOptions, WriteOptions},
    patch::PatchType,
    registry::store::testing::{Harness, configmap, configmaps, create, ctx, widgets},
};

fn managers(object: &Value) -> Vec<(String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or_default().into(),
                        e["operation"].as_str().unwrap_or_default().into(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn merge_and_json_patches_change_the_stored_object() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let created = create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    assert_eq!(managers(&created), [("kubectl".to_string(), "Update".to_string())]);
    let merge = br#"{"metadata": {"labels": {"app": "web"}}, "data": {"k": null, "n": "1"}}"#;
    let (merged, created_now) =
        cms.patch(&ctx(), Some("ns"), "a", PatchType::Merge, merge, None, &PatchOptions::default()).await.unwrap();
    assert!(!created_now);
    assert_eq!(merged["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(merged["data"], json!({"n": "1"}));
    assert!(rv(&merged) > rv(&created));
    let json_patch =
        br#"[{"op": "test", "path": "/data/n", "value": "1"}, {"op": "replace", "path": "/data/n", "value": "2"}]"#;
    let (patched, _) =
        cms.patch(&ctx(), Some("ns"), "a", PatchType::Json, json_patch, None, &PatchOptions::default()).await.unwrap();
    assert_eq!(patched["data"], json!({"n": "2"}));
    let failing = br#"[{"op": "test", "path": "/data/n", "value": "9"}]"#;
    let error = cms.patch(&ctx(), Some("ns"), "a", PatchType::Json, failing, None, &PatchOptions::default()).await;
    assert_eq!(error.unwrap_err().code, 422);
    let stale = br#"{"metadata": {"resourceVersion": "1"}}"#;
    let error = cms.patch(&ctx(), Some("ns"), "a", PatchType::Merge, stale, None, &PatchOptions::default()).await;
    assert_eq!(error.unwrap_err().code, 409, "a resourceVersion in the patch is a precondition");
    let missing = cms.patch(&ctx(), Some("ns"), "zz", PatchType::Merge, b"{}", None, &PatchOptions::default()).await;
    assert_eq!(missing.unwrap_err().code, 404);
}

#[tokio::test]
async fn strategic_merge_needs_merge_keys() {
    let h = Harness::new(vec![widgets()]).await;
    let widgets = h.resource("widgets");
    let body = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    create(&widgets, Some("ns"), body).await;
    let error = widgets
        .patch(&ctx(), Some("ns"), "w", PatchType::StrategicMerge, b"{}", None, &PatchOptions::default())
        .await
        .unwrap_err();
    assert_eq!((error.code, error.reason.as_str()), (415, "UnsupportedMediaType"));
}

#[tokio::test]
async fn server_side_apply_creates_then_updates_with_its_manager() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let options = PatchOptions { field_manager: Some("tool".into()), ..PatchOptions::default() };
    let body = br#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1"}}"#;
    let (created, was_created) =
        cms.patch(&ctx(), Some("ns"), "a", PatchType::Apply, body, None, &options).await.unwrap();
    assert!(was_created);
    assert_eq!(created["metadata"]["namespace"], "ns");
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(managers(&created), [("tool".to_string(), "Apply".to_string())]);
    let body = br#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "2"}}"#;
    let (updated, was_created) =
        cms.patch(&ctx(), Some("ns"), "a", PatchType::Apply, body, None, &options).await.unwrap();
    assert!(!was_created);
    assert_eq!(updated["data"], json!({"k": "2"}));
    let no_manager = PatchOptions::default();
    let without_manager = cms.patch(&ctx(), Some("ns"), "a", PatchType::Apply, body, None, &no_manager).await;
    assert_eq!(without_manager.unwrap_err().code, 422);
    let other = PatchOptions { field_manager: Some("other".into()), ..PatchOptions::default() };
    let body = br#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "3"}}"#;
    let conflict = cms.patch(&ctx(), Some("ns"), "a", PatchType::Apply, body, None, &other).await.unwrap_err();
    assert_eq!(conflict.code, 409);
    let forced = PatchOptions { force: Some(true), ..other };
    let (taken, _) = cms.patch(&ctx(), Some("ns"), "a", PatchType::Apply, body, None, &forced).await.unwrap();
    assert_eq!(taken["data"], json!({"k": "3"}));
    let stored = cms.get(Some("ns"), "a", &GetOptions::default()).await.unwrap();
    assert_eq!(stored, taken);
}

#[tokio::test]
async fn unknown_fields_are_dropped_or_refused_as_field_validation_asks() {
    let h = Harness::new(vec![configmaps()]).await;
    let cms = h.resource("configmaps");
    let created = create(&cms, Some("ns"), configmap("ns", "a", json!({}))).await;
    let mut changed = created;
    changed["data"] = json!({"k": "2"});
    let strict = WriteOptions { field_validation: FieldValidation::Strict, ..WriteOptions::default() };
    let (updated, _) = cms.update(&ctx(), Some("ns"), "a", changed, None, &strict).await.unwrap();
    assert_eq!(updated["data"], json!({"k": "2"}), "without a kind schema nothing is unknown");
}
