//! Write semantics: generateName, fieldValidation, status split, finalizers, preconditions.

use crate::support::BackendKind;
use serde_json::{Value, json};

use crate::client::*;

pub(crate) async fn writes_follow_kubernetes_create_update_and_delete_semantics(kind: BackendKind) {
    let server = start(kind).await;
    let wire = Wire::new(&server).await;
    wire.namespace("writes").await;
    let cms = "/api/v1/namespaces/writes/configmaps";
    let at = |name: &str| format!("{cms}/{name}");

    // generateName: the prefix plus five characters of the alphabet Kubernetes uses.
    let mut generated = Vec::new();
    for _ in 0..2 {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}});
        let object = wire.post(cms, &body).await.expect(201);
        let name = name(&object).to_string();
        let suffix = name.strip_prefix("gen-").unwrap_or_else(|| panic!("{name} starts with the prefix"));
        assert!(suffix.len() == 5 && suffix.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)), "{name}");
        assert_eq!(object["metadata"]["generateName"], "gen-");
        assert!(object["metadata"]["uid"].is_string() && object["metadata"]["creationTimestamp"].is_string());
        wire.get(&at(&name)).await.expect(200);
        generated.push(name);
    }
    assert_ne!(generated[0], generated[1]);

    // fieldValidation: Strict refuses unknown fields, Warn (the default) and Ignore drop them.
    let with_unknown = |name: &str| {
        let metadata = json!({"name": name, "alsoBogus": 2});
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {}, "bogus": 1})
    };
    let strict = wire.post(&format!("{cms}?fieldValidation=Strict"), &with_unknown("strict")).await;
    let message = failure(&strict, 400, "BadRequest")["message"].as_str().unwrap_or_default().to_string();
    let unknown = r#"strict decoding error: unknown field "bogus", unknown field "metadata.alsoBogus""#;
    assert_eq!(message, format!(r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: {unknown}"#));
    failure(&wire.get(&at("strict")).await, 404, "NotFound");
    for (query, name) in [("?fieldValidation=Warn", "warned"), ("", "defaulted")] {
        let reply = wire.post(&format!("{cms}{query}"), &with_unknown(name)).await;
        let object = reply.expect(201);
        let mut warnings = reply.all("warning");
        warnings.sort();
        assert_eq!(
            warnings,
            [r#"299 - "unknown field \"bogus\"""#, r#"299 - "unknown field \"metadata.alsoBogus\"""#],
            "{query}"
        );
        assert!(object.get("bogus").is_none() && object["metadata"].get("alsoBogus").is_none(), "{object}");
    }
    let ignored = wire.post(&format!("{cms}?fieldValidation=Ignore"), &with_unknown("ignored")).await;
    let object = ignored.expect(201);
    assert!(ignored.all("warning").is_empty() && object.get("bogus").is_none(), "{object}");

    // dryRun=All runs everything and stores nothing.
    let dry =
        wire.post(&format!("{cms}?dryRun=All"), &configmap("dry", json!({}), json!({"k": "v"}))).await.expect(201);
    assert_eq!((name(&dry), &dry["data"]), ("dry", &json!({"k": "v"})));
    failure(&wire.get(&at("dry")).await, 404, "NotFound");
    let kept = wire.post(cms, &configmap("kept", json!({}), json!({"k": "v"}))).await.expect(201);
    let mut changed = kept.clone();
    changed["data"]["k"] = json!("dry");
    let dry = wire.put(&format!("{}?dryRun=All", at("kept")), &changed).await.expect(200);
    assert_eq!(dry["data"]["k"], "dry");
    wire.delete(&format!("{}?dryRun=All", at("kept")), None).await.expect(200);
    let still = wire.get(&at("kept")).await.expect(200);
    assert_eq!((&still["data"]["k"], rv(&still)), (&json!("v"), rv(&kept)), "dry runs changed nothing");

    // A PUT or patch that changes nothing is not written: the resourceVersion stays.
    let same = wire.put(&at("kept"), &kept).await.expect(200);
    assert_eq!(rv(&same), rv(&kept), "no-op PUT");
    let same = wire.patch(&at("kept"), &json!({"data": {"k": "v"}})).await.expect(200);
    assert_eq!(rv(&same), rv(&kept), "no-op patch");

    // DeleteOptions preconditions (in the body, as client-go sends them): a mismatch is 409 and deletes nothing.
    let uid = kept["metadata"]["uid"].as_str().expect("uid").to_string();
    let options =
        |preconditions: Value| json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": preconditions});
    let zero = "00000000-0000-0000-0000-000000000000";
    let mismatches = [
        (
            json!({"uid": zero}),
            format!(
                "the UID in the precondition ({zero}) does not match the UID in record ({uid}). \
                 The object might have been deleted and then recreated"
            ),
        ),
        (
            json!({"resourceVersion": "1"}),
            format!(
                "the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({}). \
                 The object might have been modified",
                rv(&kept)
            ),
        ),
    ];
    for (wrong, why) in mismatches {
        let reply = wire.delete(&at("kept"), Some(&options(wrong))).await;
        let message = failure(&reply, 409, "Conflict")["message"].as_str().unwrap_or_default().to_string();
        assert_eq!(message, format!("Operation cannot be fulfilled on ConfigMap \"kept\": {why}"));
    }
    wire.get(&at("kept")).await.expect(200);
    let right = options(json!({"uid": uid, "resourceVersion": kept["metadata"]["resourceVersion"]}));
    let deleted = wire.delete(&at("kept"), Some(&right)).await.expect(200);
    if deleted["kind"] == "Status" {
        assert_eq!((&deleted["status"], &deleted["details"]["name"]), (&json!("Success"), &json!("kept")), "{deleted}");
    }
    failure(&wire.get(&at("kept")).await, 404, "NotFound");

    // Finalizers: delete marks the object; removing the last finalizer deletes it.
    let mut held = configmap("held", json!({}), json!({}));
    held["metadata"]["finalizers"] = json!(["example.flotilla.dev/hold"]);
    wire.post(cms, &held).await.expect(201);
    let marked = wire.delete(&at("held"), None).await.expect(200);
    assert_eq!(marked["kind"], "ConfigMap", "the object is returned while finalizers remain: {marked}");
    assert!(marked["metadata"]["deletionTimestamp"].is_string(), "{marked}");
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 0, "{marked}");
    let still = wire.get(&at("held")).await.expect(200);
    assert_eq!(still["metadata"]["deletionTimestamp"], marked["metadata"]["deletionTimestamp"]);
    wire.patch(&at("held"), &json!({"metadata": {"finalizers": null}})).await.expect(200);
    failure(&wire.get(&at("held")).await, 404, "NotFound");

    // deletecollection with a label selector deletes exactly the matching objects and returns them.
    for (name, sweep) in [("sweep-1", "yes"), ("sweep-2", "yes"), ("sweep-3", "no")] {
        wire.post(cms, &configmap(name, json!({"sweep": sweep}), json!({}))).await.expect(201);
    }
    let swept = wire.delete(&format!("{cms}?labelSelector=sweep%3Dyes"), None).await.expect(200);
    assert_eq!((&swept["kind"], &swept["apiVersion"]), (&json!("ConfigMapList"), &json!("v1")), "{swept}");
    let mut gone = names(&swept);
    gone.sort_unstable();
    assert_eq!(gone, ["sweep-1", "sweep-2"]);
    let left = wire.get(&format!("{cms}?labelSelector=sweep")).await.expect(200);
    assert_eq!(names(&left), ["sweep-3"]);
}

// ---------------------------------------------------------------------------------------------------------------
// 5b. The status subresource.

pub(crate) async fn the_status_subresource_keeps_spec_and_status_apart(kind: BackendKind) {
    let server = start(kind).await;
    let wire = Wire::new(&server).await;
    wire.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", &widget_crd()).await.expect(201);
    wire.namespace("status").await;
    let widgets = "/apis/example.flotilla.dev/v1/namespaces/status/widgets";
    wire.until_served(widgets).await;
    let (main, status) = (format!("{widgets}/w"), format!("{widgets}/w/status"));

    // Fields the schema does not declare: refused under Strict, dropped otherwise.
    let mut unknown = json!({
        "apiVersion": "example.flotilla.dev/v1", "kind": "Widget", "metadata": {"name": "odd"},
        "spec": {"size": 1, "color": "red"},
    });
    let message = failure(&wire.post(&format!("{widgets}?fieldValidation=Strict"), &unknown).await, 400, "BadRequest")
        ["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        message,
        r#"Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.color""#
    );
    unknown["metadata"]["name"] = json!("pruned");
    let reply = wire.post(&format!("{widgets}?fieldValidation=Warn"), &unknown).await;
    assert_eq!(reply.expect(201)["spec"], json!({"size": 1}), "unknown fields are pruned");
    assert_eq!(reply.all("warning"), [r#"299 - "unknown field \"spec.color\"""#]);

    // Create ignores status and sets generation 1.
    let widget = json!({
        "apiVersion": "example.flotilla.dev/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 1}, "status": {"ready": true},
    });
    let created = wire.post(widgets, &widget).await.expect(201);
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(created.get("status").is_none_or(Value::is_null), "status is not set on create: {created}");

    // A /status update changes only status; generation stays.
    let mut update = created.clone();
    update["status"] = json!({"ready": true});
    update["spec"]["size"] = json!(99);
    let updated = wire.put(&status, &update).await.expect(200);
    assert_eq!((&updated["spec"], &updated["status"]), (&json!({"size": 1}), &json!({"ready": true})), "{updated}");
    assert_eq!(updated["metadata"]["generation"], 1);
    assert!(rv(&updated) > rv(&created));

    // A main update keeps status; a spec change bumps generation, a metadata-only change does not.
    let mut update = updated.clone();
    update["spec"]["size"] = json!(2);
    update["status"]["ready"] = json!(false);
    let updated = wire.put(&main, &update).await.expect(200);
    assert_eq!((&updated["spec"], &updated["status"]), (&json!({"size": 2}), &json!({"ready": true})), "{updated}");
    assert_eq!(updated["metadata"]["generation"], 2);
    let labelled = wire.patch(&main, &json!({"metadata": {"labels": {"tier": "gold"}}})).await.expect(200);
    assert_eq!(
        (&labelled["metadata"]["generation"], &labelled["metadata"]["labels"]["tier"]),
        (&json!(2), &json!("gold"))
    );
    let status_only = wire.patch(&main, &json!({"status": {"ready": false}})).await.expect(200);
    assert_eq!((rv(&status_only), &status_only["status"]), (rv(&labelled), &json!({"ready": true})), "a no-op");

    // A /status patch changes status; GET /status returns the whole object.
    let patched = wire.patch(&status, &json!({"status": {"ready": false}, "spec": {"size": 7}})).await.expect(200);
    assert_eq!((&patched["spec"], &patched["status"]), (&json!({"size": 2}), &json!({"ready": false})), "{patched}");
    assert_eq!(patched["metadata"]["generation"], 2);
    let whole = wire.get(&status).await.expect(200);
    assert_eq!(
        (&whole["kind"], &whole["spec"], &whole["status"]),
        (&json!("Widget"), &json!({"size": 2}), &json!({"ready": false}))
    );
}
