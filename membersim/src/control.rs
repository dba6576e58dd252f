//! The fault-control endpoint: plain HTTP on 127.0.0.1 to stop, start, slow down or break one simulated cluster.

use std::{collections::HashMap, net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::SimulatedCluster;

/// The clusters the endpoint controls, by name.
pub type Clusters = Arc<Vec<SimulatedCluster>>;

/// The endpoint's routes (see `flotilla member-sim --help`).
pub fn router(clusters: Clusters) -> Router {
    Router::new()
        .route("/clusters", get(list))
        .route("/clusters/{name}/stop", post(stop))
        .route("/clusters/{name}/start", post(start))
        .route("/clusters/{name}/latency", post(set_latency).delete(clear_latency))
        .route("/clusters/{name}/errors", post(set_errors).delete(clear_errors))
        .with_state(clusters)
}

/// Binds `127.0.0.1:port` and serves the endpoint until the task is dropped; returns the bound address.
///
/// # Errors
/// A port that cannot be bound.
pub async fn serve(port: u16, clusters: Clusters) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port)).await?;
    let address = listener.local_addr()?;
    let app = router(clusters);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::warn!(%error, "the member-sim control endpoint stopped");
        }
    });
    Ok((address, task))
}

fn describe(cluster: &SimulatedCluster) -> Value {
    json!({
        "name": cluster.name(),
        "url": cluster.url(),
        "listening": cluster.is_listening(),
        "latencyMs": cluster.faults().latency(),
        "errorStatus": cluster.faults().error(),
    })
}

/// Runs `change` on the named cluster and answers its new state, or 404.
fn with_cluster(clusters: &Clusters, name: &str, change: impl FnOnce(&SimulatedCluster)) -> Response {
    match clusters.iter().find(|cluster| cluster.name() == name) {
        Some(cluster) => {
            change(cluster);
            Json(describe(cluster)).into_response()
        }
        None => (StatusCode::NOT_FOUND, Json(json!({"error": format!("no simulated cluster named {name:?}")})))
            .into_response(),
    }
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

async fn list(State(clusters): State<Clusters>) -> Json<Value> {
    Json(Value::Array(clusters.iter().map(describe).collect()))
}

async fn stop(State(clusters): State<Clusters>, Path(name): Path<String>) -> Response {
    with_cluster(&clusters, &name, |cluster| cluster.set_listening(false))
}

async fn start(State(clusters): State<Clusters>, Path(name): Path<String>) -> Response {
    with_cluster(&clusters, &name, |cluster| cluster.set_listening(true))
}

async fn set_latency(
    State(clusters): State<Clusters>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(ms) = query.get("ms").and_then(|ms| ms.parse::<u64>().ok()) else {
        return bad_request("latency needs ?ms=<milliseconds>");
    };
    with_cluster(&clusters, &name, |cluster| cluster.faults().set_latency(ms))
}

async fn clear_latency(State(clusters): State<Clusters>, Path(name): Path<String>) -> Response {
    with_cluster(&clusters, &name, |cluster| cluster.faults().set_latency(0))
}

async fn set_errors(
    State(clusters): State<Clusters>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let status = query.get("status").map_or(Some(503), |status| status.parse::<u16>().ok());
    let Some(status) = status.filter(|status| (400..=599).contains(status)) else {
        return bad_request("errors needs ?status=<400..599> (default 503)");
    };
    with_cluster(&clusters, &name, |cluster| cluster.faults().set_error(Some(status)))
}

async fn clear_errors(State(clusters): State<Clusters>, Path(name): Path<String>) -> Response {
    with_cluster(&clusters, &name, |cluster| cluster.faults().set_error(None))
}
