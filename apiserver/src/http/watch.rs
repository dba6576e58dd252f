//! Watch responses: one compact JSON event per line, flushed per event, ending at the deadline or on drain.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{body::Body, response::Response};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::Value;

use super::{
    response::{JSON, serialize_json},
    table::{object_metadata, partial_metadata, table},
};
use crate::{
    machinery::media::Target,
    registry::{ResourceStore, WatchEvent, WatchEventType, WatchStream},
    server::{Drain, metrics::LongRunningGuard},
};

/// The shortest and longest server-chosen watch duration when the client sets no `timeoutSeconds` (as kube-apiserver
/// picks a random duration between its minimum request timeout and twice that).
const DEFAULT_WATCH_MIN: Duration = Duration::from_secs(1800);

/// How one watch's events are encoded.
pub struct WatchEncoder {
    store: Arc<ResourceStore>,
    target: Target,
    headers_sent: bool,
}

#[derive(Serialize)]
struct EventBody<'a> {
    #[serde(rename = "type")]
    type_: &'static str,
    object: &'a Value,
}

impl WatchEncoder {
    /// An encoder for events of `store` as `target` (the object, a one-row Table, or `PartialObjectMetadata`).
    pub fn new(store: Arc<ResourceStore>, target: Target) -> Self {
        Self { store, target, headers_sent: false }
    }

    /// One event as a line of compact JSON.
    pub fn encode(&mut self, event: &WatchEvent) -> Bytes {
        let converted;
        let object = match (self.target, event.type_) {
            (_, WatchEventType::Error) => &event.object,
            (Target::PartialObjectMetadata(version) | Target::PartialObjectMetadataList(version), _) => {
                converted = partial_metadata(&event.object, version);
                &converted
            }
            (Target::Table { version, include_object }, _) => {
                let columns = !self.headers_sent;
                self.headers_sent = true;
                let strategy = self.store.strategy().as_ref();
                let metadata = object_metadata(&event.object);
                converted = table(strategy, std::iter::once(&event.object), metadata, version, include_object, columns);
                &converted
            }
            (Target::Object | Target::DiscoveryV2 | Target::DiscoveryV2Beta1, _) => &event.object,
        };
        let mut line = serialize_json(&EventBody { type_: event.type_.as_str(), object });
        line.push(b'\n');
        Bytes::from(line)
    }
}

/// The deadline of a watch: `timeoutSeconds`, or a random duration between 30 and 60 minutes.
pub fn deadline(timeout_seconds: Option<u64>) -> Duration {
    match timeout_seconds {
        Some(seconds) => Duration::from_secs(seconds),
        None => DEFAULT_WATCH_MIN + Duration::from_secs(fastrand::u64(0..DEFAULT_WATCH_MIN.as_secs())),
    }
}

/// A 200 response streaming `events` until they end, `deadline` passes, or the server drains.
pub fn respond(
    events: WatchStream,
    mut encoder: WatchEncoder,
    deadline: Duration,
    drain: Drain,
    guard: LongRunningGuard,
) -> Response {
    let end = async move {
        tokio::select! {
            () = drain.started() => {}
            () = tokio::time::sleep(deadline) => {}
        }
    };
    let lines = events.take_until(Box::pin(end)).map(move |event| {
        let _open = &guard;
        Ok::<Bytes, Infallible>(encoder.encode(&event))
    });
    let mut response = Response::new(Body::from_stream(lines));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}
