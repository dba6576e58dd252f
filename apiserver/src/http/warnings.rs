//! `Warning` response headers: code anywhere in a request's task adds a warning; the response carries them.

use std::{cell::RefCell, future::Future};

use http::{HeaderMap, HeaderValue, header::WARNING};

/// At most this many warnings are sent per response.
const MAX_WARNINGS: usize = 64;
/// Longest warning text sent, in bytes.
const MAX_WARNING_LENGTH: usize = 4096;

tokio::task_local! {
    static WARNINGS: RefCell<Vec<String>>;
}

/// Adds a warning to the current request's response (`kubectl` prints `Warning: <text>`); ignored outside a request.
pub fn warn(text: impl Into<String>) {
    let text = text.into();
    let _ = WARNINGS.try_with(|warnings| {
        let mut warnings = warnings.borrow_mut();
        if warnings.len() < MAX_WARNINGS && !warnings.contains(&text) {
            warnings.push(text);
        }
    });
}

/// Runs `future` collecting the warnings it adds.
pub async fn collect<F: Future>(future: F) -> (F::Output, Vec<String>) {
    WARNINGS
        .scope(RefCell::new(Vec::new()), async move {
            let output = future.await;
            let warnings = WARNINGS.with(|w| std::mem::take(&mut *w.borrow_mut()));
            (output, warnings)
        })
        .await
}

/// Adds `warnings` as `Warning: 299 - "<text>"` headers.
pub fn add_headers(headers: &mut HeaderMap, warnings: &[String]) {
    for text in warnings {
        if let Ok(value) = HeaderValue::from_str(&header_value(text)) {
            headers.append(WARNING, value);
        }
    }
}

/// The RFC 7234 warning value kube-apiserver sends: code 299, agent `-`, quoted text (control characters dropped).
fn header_value(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 8);
    quoted.push_str("299 - \"");
    for c in text.chars().filter(|c| !c.is_control()) {
        if quoted.len() >= MAX_WARNING_LENGTH {
            break;
        }
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    // Header values must be visible ASCII or obs-text; replace anything else.
    quoted.chars().map(|c| if c.is_ascii() { c } else { '?' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn warnings_added_during_a_request_are_collected_once() {
        let ((), warnings) = collect(async {
            warn("unknown field \"spec.foo\"");
            warn("unknown field \"spec.foo\"");
            tokio::task::yield_now().await;
            warn("second");
        })
        .await;
        assert_eq!(warnings, vec!["unknown field \"spec.foo\"".to_string(), "second".to_string()]);
        warn("outside a request is ignored");
    }

    #[test]
    fn headers_quote_the_text_as_kube_apiserver_does() {
        let mut headers = HeaderMap::new();
        add_headers(&mut headers, &["unknown field \"spec.foo\"".into()]);
        assert_eq!(headers[WARNING], r#"299 - "unknown field \"spec.foo\"""#);
    }
}
