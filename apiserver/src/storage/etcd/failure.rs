//! What an etcd-client error means to a `Store` caller: the single place etcd errors are classified.

use std::error::Error as _;

use etcd_client::Error;
use tonic::Code;

use super::super::StoreError;

/// etcd's message for a read or compaction below the compacted revision.
const COMPACTED_MESSAGE: &str = "required revision has been compacted";
/// etcd's message for a read or compaction above the current revision.
const FUTURE_REVISION_MESSAGE: &str = "required revision is a future revision";

/// An etcd error, sorted by what the store has to do about it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// The request needed history etcd has compacted away (the compacted revision is not in etcd's message).
    Compacted,
    /// The request named a revision etcd has not reached yet.
    FutureRevision,
    /// Anything else, already in the store's terms.
    Other(StoreError),
}

/// Sorts `error` from a request to the etcd cluster at `endpoints`.
pub(super) fn classify(error: &Error, endpoints: &str) -> Failure {
    match error {
        Error::GRpcStatus(status) => {
            let message = status.message();
            if message.contains(COMPACTED_MESSAGE) {
                return Failure::Compacted;
            }
            if message.contains(FUTURE_REVISION_MESSAGE) {
                return Failure::FutureRevision;
            }
            let detail = describe_status(status);
            match status.code() {
                Code::Unavailable
                | Code::DeadlineExceeded
                | Code::Cancelled
                | Code::Unknown
                | Code::Aborted
                | Code::ResourceExhausted
                | Code::Unauthenticated
                | Code::PermissionDenied => unavailable(endpoints, &detail),
                _ => Failure::Other(StoreError::Internal(format!("etcd at {endpoints} answered {detail}"))),
            }
        }
        Error::TransportError(_)
        | Error::IoError(_)
        | Error::WatchError(_)
        | Error::EndpointError(_)
        | Error::InvalidUri(_)
        | Error::InvalidArgs(_) => unavailable(endpoints, &with_sources(error)),
        other => Failure::Other(StoreError::Internal(format!("etcd client at {endpoints}: {}", with_sources(other)))),
    }
}

/// The `Unavailable` answer for a request to `endpoints` that did not finish within `timeout`.
pub(super) fn timed_out(endpoints: &str, timeout: std::time::Duration) -> StoreError {
    StoreError::Unavailable(format!("etcd at {endpoints} did not answer within {timeout:?}"))
}

fn unavailable(endpoints: &str, detail: &str) -> Failure {
    Failure::Other(StoreError::Unavailable(format!("etcd at {endpoints} cannot be reached: {detail}")))
}

/// A gRPC status as `code: message (cause: ...)`, without tonic's metadata dump.
fn describe_status(status: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    let mut source = status.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An error and its chain of causes on one line.
fn with_sources(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: Code, message: &str) -> Error {
        Error::GRpcStatus(tonic::Status::new(code, message))
    }

    #[test]
    fn etcds_compaction_and_future_revision_messages_are_recognised() {
        let compacted = status(Code::OutOfRange, "etcdserver: mvcc: required revision has been compacted");
        let future = status(Code::OutOfRange, "etcdserver: mvcc: required revision is a future revision");
        assert_eq!(classify(&compacted, "e"), Failure::Compacted);
        assert_eq!(classify(&future, "e"), Failure::FutureRevision);
    }

    #[test]
    fn transport_trouble_is_unavailable_and_names_the_endpoints() {
        let failure = classify(&status(Code::Unavailable, "tcp connect error"), "http://127.0.0.1:1");
        let Failure::Other(StoreError::Unavailable(message)) = failure else {
            panic!("expected Unavailable, got {failure:?}");
        };
        assert!(message.contains("http://127.0.0.1:1"), "{message}");
        assert!(message.contains("tcp connect error"), "{message}");
    }

    #[test]
    fn a_rejected_request_is_an_internal_error() {
        let failure = classify(&status(Code::InvalidArgument, "etcdserver: request is too large"), "e");
        assert!(matches!(failure, Failure::Other(StoreError::Internal(_))), "{failure:?}");
    }
}
