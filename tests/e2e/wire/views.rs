//! PartialObjectMetadata and Table views of lists, gets and watches.

use crate::support::BackendKind;
use serde_json::{Value, json};

use crate::client::*;

// ---------------------------------------------------------------------------------------------------------------
// 2. PartialObjectMetadata and Table.

/// Asserts a `PartialObjectMetadata` of `meta.k8s.io/<version>` named `expected`, without the object's data.
pub(crate) fn assert_partial(object: &Value, version: &str, expected: &str) {
    assert_eq!(object["kind"], "PartialObjectMetadata", "{object}");
    assert_eq!(object["apiVersion"], format!("meta.k8s.io/{version}"), "{object}");
    assert_eq!(name(object), expected, "{object}");
    assert!(object["metadata"]["uid"].is_string() && object["metadata"]["resourceVersion"].is_string(), "{object}");
    assert!(object.get("data").is_none(), "metadata only: {object}");
}

/// Asserts a Table of `meta.k8s.io/<version>` with column definitions and rows for `rows` (first cell = name).
pub(crate) fn assert_table(table: &Value, version: &str, rows: &[&str]) {
    assert_eq!((&table["kind"], &table["apiVersion"]), (&json!("Table"), &json!(format!("meta.k8s.io/{version}"))));
    let columns = table["columnDefinitions"].as_array().expect("columnDefinitions");
    assert_eq!(
        (&columns[0]["name"], &columns[0]["type"], &columns[0]["format"]),
        (&json!("Name"), &json!("string"), &json!("name"))
    );
    for column in columns {
        for field in ["name", "type", "format", "description", "priority"] {
            assert!(column.get(field).is_some(), "{field} in every column: {column}");
        }
    }
    let cells: Vec<&str> =
        table["rows"].as_array().expect("rows").iter().map(|r| r["cells"][0].as_str().unwrap_or_default()).collect();
    assert_eq!(cells, rows, "{table}");
    for row in table["rows"].as_array().into_iter().flatten() {
        assert_eq!(row["cells"].as_array().map(Vec::len), Some(columns.len()), "one cell per column: {row}");
    }
}

pub(crate) async fn metadata_and_table_views_serve_lists_gets_and_watches(kind: BackendKind) {
    let server = start(kind).await;
    let wire = Wire::new(&server).await;
    wire.namespace("views").await;
    let cms = "/api/v1/namespaces/views/configmaps";
    for name in ["a", "b"] {
        wire.post(cms, &configmap(name, json!({"app": "web"}), json!({"key": "value"}))).await.expect(201);
    }

    // Metadata-only clients (client-go's metadata client, kube-rs `Api::list_metadata`).
    let reply = wire.get_as(cms, METADATA_LIST).await;
    let list = reply.expect(200);
    assert_eq!(reply.header("content-type"), JSON);
    assert_eq!((&list["kind"], &list["apiVersion"]), (&json!("PartialObjectMetadataList"), &json!("meta.k8s.io/v1")));
    rv(&list);
    assert_eq!(names(&list), ["a", "b"]);
    for (item, expected) in list["items"].as_array().expect("items").iter().zip(["a", "b"]) {
        assert_partial(item, "v1", expected);
        assert_eq!(item["metadata"]["labels"]["app"], "web");
    }
    let reply = wire.get_as(&format!("{cms}/a"), METADATA).await;
    assert_partial(&reply.expect(200), "v1", "a");
    assert_eq!(reply.header("content-type"), JSON);
    failure(&wire.get_as(cms, METADATA).await, 406, "NotAcceptable");
    failure(&wire.get_as(&format!("{cms}/a"), METADATA_LIST).await, 406, "NotAcceptable");

    // Tables, v1 and v1beta1, for lists and gets; includeObject chooses what each row carries.
    for (accept, version) in [(TABLE_V1, "v1"), (TABLE_V1BETA1, "v1beta1"), (KUBECTL_TABLE, "v1")] {
        let reply = wire.get_as(cms, accept).await;
        let table = reply.expect(200);
        assert_eq!(reply.header("content-type"), JSON, "{accept}");
        assert_table(&table, version, &["a", "b"]);
        rv(&table);
        for (row, expected) in table["rows"].as_array().expect("rows").iter().zip(["a", "b"]) {
            assert_partial(&row["object"], version, expected);
        }
        let one = wire.get_as(&format!("{cms}/b"), accept).await.expect(200);
        assert_table(&one, version, &["b"]);
        assert_partial(&one["rows"][0]["object"], version, "b");
    }
    let full = wire.get_as(&format!("{cms}?includeObject=Object"), KUBECTL_TABLE).await.expect(200);
    assert_table(&full, "v1", &["a", "b"]);
    for row in full["rows"].as_array().expect("rows") {
        let object = &row["object"];
        assert_eq!(
            (&object["kind"], &object["apiVersion"], &object["data"]),
            (&json!("ConfigMap"), &json!("v1"), &json!({"key": "value"}))
        );
    }
    let bare = wire.get_as(&format!("{cms}/a?includeObject=None"), TABLE_V1).await.expect(200);
    assert_table(&bare, "v1", &["a"]);
    assert!(bare["rows"][0].get("object").is_none_or(Value::is_null), "no object with includeObject=None: {bare}");
    let page = wire.get_as(&format!("{cms}?limit=1"), KUBECTL_TABLE).await.expect(200);
    assert_table(&page, "v1", &["a"]);
    continue_token(&page);
    assert_eq!(page["metadata"]["remainingItemCount"], 1, "{page}");

    // Watches: metadata-only events, and Tables whose first event alone carries the column definitions.
    let from = rv(&wire.get(cms).await.expect(200));
    let mut metadata = wire.watch(&format!("{cms}?watch=true&resourceVersion={from}"), METADATA).await;
    let mut tables = wire.watch(&format!("{cms}?watch=true&resourceVersion={from}"), KUBECTL_TABLE).await;
    wire.post(cms, &configmap("c", json!({}), json!({"key": "value"}))).await.expect(201);
    wire.patch(&format!("{cms}/c"), &json!({"data": {"key": "changed"}})).await.expect(200);
    for expected in ["ADDED", "MODIFIED"] {
        let event = metadata.change().await;
        assert_eq!(event["type"], expected);
        assert_partial(&event["object"], "v1", "c");
    }
    let first = tables.change().await;
    assert_eq!(first["type"], "ADDED");
    assert_table(&first["object"], "v1", &["c"]);
    assert_partial(&first["object"]["rows"][0]["object"], "v1", "c");
    let second = tables.change().await;
    assert_eq!(second["type"], "MODIFIED");
    let table = &second["object"];
    assert_eq!((&table["kind"], &table["apiVersion"]), (&json!("Table"), &json!("meta.k8s.io/v1")));
    let columns = &table["columnDefinitions"];
    assert!(
        columns.is_null() || columns.as_array().is_some_and(Vec::is_empty),
        "rows only after the first event: {table}"
    );
    assert_eq!(table["rows"].as_array().map(Vec::len), Some(1), "{table}");
    assert_eq!(table["rows"][0]["cells"][0], "c");
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Lists.
