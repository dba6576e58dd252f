//! Paged lists, continue tokens and impossible resource versions.

use crate::support::BackendKind;
use serde_json::json;

use crate::client::*;

pub(crate) async fn lists_page_with_continue_tokens_and_refuse_impossible_resource_versions(kind: BackendKind) {
    let server = start(kind).await;
    let wire = Wire::new(&server).await;
    wire.namespace("pages").await;
    let cms = "/api/v1/namespaces/pages/configmaps";
    for i in 1..=5 {
        wire.post(cms, &configmap(&format!("cm-{i}"), json!({"page": "yes"}), json!({"v": "1"}))).await.expect(201);
    }

    let first = wire.get(&format!("{cms}?limit=2")).await.expect(200);
    assert_eq!((&first["kind"], &first["apiVersion"]), (&json!("ConfigMapList"), &json!("v1")));
    assert_eq!(names(&first), ["cm-1", "cm-2"]);
    assert_eq!(first["metadata"]["remainingItemCount"], 3, "{first}");
    let token = continue_token(&first);
    let snapshot = rv(&first);

    // Later pages read the first page's snapshot: changes made in between do not show.
    wire.delete(&format!("{cms}/cm-4"), None).await.expect(200);
    wire.patch(&format!("{cms}/cm-3"), &json!({"data": {"v": "2"}})).await.expect(200);
    let second = wire.get(&format!("{cms}?limit=2&continue={token}")).await.expect(200);
    assert_eq!(names(&second), ["cm-3", "cm-4"]);
    assert_eq!(second["items"][0]["data"]["v"], "1", "the snapshot's cm-3");
    assert_eq!((rv(&second), &second["metadata"]["remainingItemCount"]), (snapshot, &json!(1)), "{second}");
    let third = wire.get(&format!("{cms}?limit=2&continue={}", continue_token(&second))).await.expect(200);
    assert_eq!(names(&third), ["cm-5"]);
    assert_eq!(rv(&third), snapshot);
    assert_complete(&third);
    let now = wire.get(cms).await.expect(200);
    assert_eq!(names(&now), ["cm-1", "cm-2", "cm-3", "cm-5"]);
    assert_complete(&now);
    assert!(rv(&now) > snapshot);

    // remainingItemCount is only known without selectors.
    let selected = wire.get(&format!("{cms}?limit=1&labelSelector=page%3Dyes")).await.expect(200);
    assert_eq!(names(&selected), ["cm-1"]);
    continue_token(&selected);
    assert!(selected["metadata"]["remainingItemCount"].is_null(), "{selected}");

    // A resourceVersion the store has not reached: 504 with the cause client-go's reflector relists on.
    for path in [format!("{cms}?resourceVersion=999999999"), format!("{cms}/cm-1?resourceVersion=999999999")] {
        let reply = wire.get(&path).await;
        let status = failure(&reply, 504, "Timeout");
        let message = status["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("Timeout: Too large resource version: 999999999, current: "), "{path}: {message}");
        assert_eq!(causes(&status).first().map(|c| c.0.as_str()), Some("ResourceVersionTooLarge"), "{status}");
        let retry = status["details"]["retryAfterSeconds"].as_u64().expect("retryAfterSeconds");
        assert_eq!(reply.header("retry-after"), retry.to_string(), "{path}");
    }

    // Invalid ListOptions: 422.
    let both = format!("{cms}?limit=2&resourceVersion={snapshot}&resourceVersionMatch=NotOlderThan&continue={token}");
    let status = failure(&wire.get(&both).await, 422, "Invalid");
    assert_eq!(
        (&status["details"]["group"], &status["details"]["kind"]),
        (&json!("meta.k8s.io"), &json!("ListOptions"))
    );
    let found = causes(&status);
    assert!(
        found.iter().any(|(reason, field, message)| reason == "FieldValueForbidden"
            && field == "resourceVersionMatch"
            && message.contains("continue")),
        "{status}"
    );
    let status = failure(&wire.get(&format!("{cms}?resourceVersionMatch=NotOlderThan")).await, 422, "Invalid");
    assert!(causes(&status).iter().any(|(_, field, _)| field == "resourceVersionMatch"), "{status}");
    failure(&wire.get(&format!("{cms}?limit=2&continue=not-a-token")).await, 400, "BadRequest");
}

// ---------------------------------------------------------------------------------------------------------------
// 4a. Compaction.
