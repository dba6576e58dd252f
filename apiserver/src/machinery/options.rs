//! Request options (`ListOptions`, `GetOptions`, `CreateOptions`, `UpdateOptions`, `PatchOptions`, `DeleteOptions`).

mod delete;
#[cfg(test)]
mod tests;

pub use delete::delete_options;

use super::{ApiError, FieldError, fields, labels, names::validate_field_manager};

/// `resourceVersionMatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceVersionMatch {
    /// Serve a state at least as new as `resourceVersion`.
    NotOlderThan,
    /// Serve exactly the state at `resourceVersion`.
    Exact,
}

/// `fieldValidation`: what to do with unknown or duplicate fields in a write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop unknown fields silently.
    Ignore,
    /// Drop them and say so in a `Warning` header (the default).
    #[default]
    Warn,
    /// Refuse the request with 400 BadRequest.
    Strict,
}

/// `propagationPolicy` of a delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropagationPolicy {
    /// Dependents are left in place (their ownerReferences to the object are removed).
    Orphan,
    /// The object goes now; the garbage collector removes dependents afterwards.
    Background,
    /// Dependents go first; the object waits with the `foregroundDeletion` finalizer.
    Foreground,
}

/// Options of list and watch requests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListOptions {
    /// `labelSelector`.
    pub label_selector: labels::Selector,
    /// `fieldSelector`.
    pub field_selector: fields::Selector,
    /// `resourceVersion`, unparsed (`""` when absent, `"0"` = any).
    pub resource_version: String,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// `limit` (0 = none).
    pub limit: i64,
    /// `continue`.
    pub continue_token: String,
    /// `watch=true` (or the legacy `/watch/` path).
    pub watch: bool,
    /// `allowWatchBookmarks`.
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
    /// `timeoutSeconds` (a negative value reads as absent).
    pub timeout_seconds: Option<u64>,
}

/// Options of get requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetOptions {
    /// `resourceVersion` (`""` = most recent, `"0"` = any).
    pub resource_version: String,
}

/// Options of create and update (PUT) requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldManager`; defaulted from the User-Agent when absent.
    pub field_manager: Option<String>,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
}

/// Options of patch requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatchOptions {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldManager`; required for server-side apply.
    pub field_manager: Option<String>,
    /// `force` (server-side apply only).
    pub force: Option<bool>,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
}

/// `DeleteOptions`, from the JSON body or the query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub precondition_resource_version: Option<String>,
    /// `propagationPolicy`.
    pub propagation_policy: Option<PropagationPolicy>,
    /// The deprecated `orphanDependents`.
    pub orphan_dependents: Option<bool>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// A decoded query string: every `key=value` pair in order (a key may repeat).
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes `a=1&b=x%20y` (a leading `?` is ignored); malformed escapes are kept literally.
    pub(crate) fn parse(query: &str) -> Self {
        let query = query.strip_prefix('?').unwrap_or(query);
        Self {
            pairs: form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
        }
    }

    /// The first value of `key` (kube-apiserver ignores repeats of single-valued parameters).
    pub(crate) fn first(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// A boolean parameter: absent is `None`; `0` and `false` (any case) are false; anything else, even empty, true.
    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        self.first(key).map(|v| !(v == "0" || v.eq_ignore_ascii_case("false")))
    }

    /// An integer parameter.
    ///
    /// # Errors
    /// 400 with Go's wording, e.g. `strconv.ParseInt: parsing "x": invalid syntax`.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.first(key).map(parse_int).transpose()
    }
}

/// Parses a decimal `int64` as Go's `strconv.ParseInt(s, 10, 64)`, with its error wording (400).
pub(crate) fn parse_int(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().map_err(|error| {
        let why = match error.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        ApiError::bad_request(format!("strconv.ParseInt: parsing {}: {why}", go_quote(text)))
    })
}

/// A string quoted as Go's `%q` would for ordinary text.
fn go_quote(text: &str) -> String {
    format!("{text:?}")
}

/// 422 Invalid for a `meta.k8s.io` options kind, e.g. `ListOptions.meta.k8s.io "" is invalid: ...`.
pub(crate) fn invalid_options(kind: &str, errors: &[FieldError]) -> ApiError {
    ApiError::invalid(kind, "meta.k8s.io", "", errors)
}

/// Parses the query string of list/watch requests, validating combinations as kube-apiserver does; `watch` comes
/// from the `watch` parameter.
///
/// # Errors
/// 400 for malformed numbers or selectors, 422 `ListOptions` Invalid for forbidden combinations (e.g.
/// `resourceVersionMatch` with `continue`).
pub fn list_options(query: &str) -> Result<ListOptions, ApiError> {
    parse_list_options(&Query::parse(query), false)
}

/// [`list_options`] for the legacy `/watch/` paths, where the request is a watch whatever `watch` says.
///
/// # Errors
/// As [`list_options`].
pub fn watch_options(query: &str) -> Result<ListOptions, ApiError> {
    parse_list_options(&Query::parse(query), true)
}

fn parse_list_options(query: &Query, force_watch: bool) -> Result<ListOptions, ApiError> {
    // Numbers are converted first, then selectors, as kube-apiserver's parameter codec does.
    let timeout = query.int("timeoutSeconds")?;
    let limit = query.int("limit")?.unwrap_or(0);
    let label_selector = labels::Selector::parse(query.first("labelSelector").unwrap_or_default())?;
    let field_selector = fields::Selector::parse(query.first("fieldSelector").unwrap_or_default())?;
    let watch = force_watch || query.bool("watch").unwrap_or(false);
    let resource_version = query.first("resourceVersion").unwrap_or_default().to_string();
    let match_text = query.first("resourceVersionMatch").unwrap_or_default();
    let continue_token = query.first("continue").unwrap_or_default().to_string();
    let send_initial_events = query.bool("sendInitialEvents");

    let mut errors = Vec::new();
    if watch {
        if send_initial_events.is_some() && match_text != "NotOlderThan" {
            errors.push(FieldError::forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !match_text.is_empty() {
            if send_initial_events.is_none() {
                errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ));
            }
            if match_text != "NotOlderThan" {
                errors.push(FieldError::not_supported("resourceVersionMatch", match_text, &["NotOlderThan"]));
            }
            if !continue_token.is_empty() {
                errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
        }
    } else {
        if !match_text.is_empty() {
            if resource_version.is_empty() {
                errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            if !continue_token.is_empty() {
                errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
            if match_text != "Exact" && match_text != "NotOlderThan" {
                errors.push(FieldError::not_supported(
                    "resourceVersionMatch",
                    match_text,
                    &["Exact", "NotOlderThan", ""],
                ));
            }
            if match_text == "Exact" && resource_version == "0" {
                errors.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
        }
        if send_initial_events.is_some() {
            errors.push(FieldError::forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
        }
    }
    if !errors.is_empty() {
        return Err(invalid_options("ListOptions", &errors));
    }
    let resource_version_match = match match_text {
        "Exact" => Some(ResourceVersionMatch::Exact),
        "NotOlderThan" => Some(ResourceVersionMatch::NotOlderThan),
        _ => None,
    };
    Ok(ListOptions {
        label_selector,
        field_selector,
        resource_version,
        resource_version_match,
        limit,
        continue_token,
        watch,
        allow_watch_bookmarks: query.bool("allowWatchBookmarks").unwrap_or(false),
        send_initial_events,
        timeout_seconds: timeout.and_then(|t| u64::try_from(t).ok()),
    })
}

/// Parses the query string of get requests (`resourceVersion`).
///
/// # Errors
/// None today; a `Result` to match the other option parsers.
pub fn get_options(query: &str) -> Result<GetOptions, ApiError> {
    let query = Query::parse(query);
    Ok(GetOptions { resource_version: query.first("resourceVersion").unwrap_or_default().to_string() })
}

/// Parses the query string of create (POST) requests.
///
/// # Errors
/// 422 `CreateOptions` Invalid for a `dryRun` other than `All`, an unknown `fieldValidation`, or a bad
/// `fieldManager` (over 128 bytes or unprintable characters).
pub fn create_options(query: &str) -> Result<WriteOptions, ApiError> {
    write_options(query, "CreateOptions")
}

/// Parses the query string of update (PUT) requests.
///
/// # Errors
/// As [`create_options`], with `UpdateOptions` in the message.
pub fn update_options(query: &str) -> Result<WriteOptions, ApiError> {
    write_options(query, "UpdateOptions")
}

fn write_options(query: &str, kind: &str) -> Result<WriteOptions, ApiError> {
    let query = Query::parse(query);
    let manager = query.first("fieldManager").unwrap_or_default();
    let dry_run = query.all("dryRun");
    let validation = query.first("fieldValidation").unwrap_or_default();
    let mut errors = validate_field_manager(manager, "fieldManager");
    errors.extend(validate_dry_run(&dry_run));
    let field_validation = parse_field_validation(validation, &mut errors);
    if !errors.is_empty() {
        return Err(invalid_options(kind, &errors));
    }
    Ok(WriteOptions {
        dry_run: !dry_run.is_empty(),
        field_manager: Some(manager.to_string()).filter(|m| !m.is_empty()),
        field_validation,
    })
}

/// Parses the query string of patch requests; `is_apply` for `application/apply-patch+yaml`.
///
/// # Errors
/// 422 `PatchOptions` Invalid when apply lacks `fieldManager`, when `force` is given for another patch type, for a
/// `dryRun` other than `All`, an unknown `fieldValidation` or a bad `fieldManager`.
pub fn patch_options(query: &str, is_apply: bool) -> Result<PatchOptions, ApiError> {
    let query = Query::parse(query);
    let manager = query.first("fieldManager").unwrap_or_default();
    let force = query.bool("force");
    let dry_run = query.all("dryRun");
    let mut errors = Vec::new();
    if is_apply {
        if manager.is_empty() {
            errors.push(FieldError::required("fieldManager", "is required for apply patch"));
        }
    } else if force.is_some() {
        errors.push(FieldError::forbidden("force", "may not be specified for non-apply patch"));
    }
    errors.extend(validate_field_manager(manager, "fieldManager"));
    errors.extend(validate_dry_run(&dry_run));
    let field_validation = parse_field_validation(query.first("fieldValidation").unwrap_or_default(), &mut errors);
    if !errors.is_empty() {
        return Err(invalid_options("PatchOptions", &errors));
    }
    Ok(PatchOptions {
        dry_run: !dry_run.is_empty(),
        field_manager: Some(manager.to_string()).filter(|m| !m.is_empty()),
        force,
        field_validation,
    })
}

/// `dryRun` accepts only `All` (each repeat checked).
pub(crate) fn validate_dry_run(values: &[&str]) -> Vec<FieldError> {
    if values.iter().all(|v| *v == "All") {
        return Vec::new();
    }
    vec![FieldError::not_supported("dryRun", values.to_vec(), &["All"])]
}

fn parse_field_validation(text: &str, errors: &mut Vec<FieldError>) -> FieldValidation {
    match text {
        "Ignore" => FieldValidation::Ignore,
        "Strict" => FieldValidation::Strict,
        "" | "Warn" => FieldValidation::Warn,
        other => {
            errors.push(FieldError::not_supported("fieldValidation", other, &["", "Ignore", "Strict", "Warn"]));
            FieldValidation::Warn
        }
    }
}

/// The field manager of a non-apply write: `fieldManager` when given, else the User-Agent up to its first `/`,
/// without unprintable characters and cut to 128 bytes (`kubectl/v1.31 (linux)` → `kubectl`).
pub fn field_manager_or_user_agent(field_manager: Option<&str>, user_agent: &str) -> String {
    if let Some(manager) = field_manager.filter(|m| !m.is_empty()) {
        return manager.to_string();
    }
    let product = user_agent.split('/').next().unwrap_or_default();
    let mut manager = String::new();
    for c in product.chars().filter(|c| super::names::is_printable(*c)) {
        if manager.len() + c.len_utf8() > super::names::FIELD_MANAGER_MAX_LENGTH {
            break;
        }
        manager.push(c);
    }
    manager
}

/// Parses a resourceVersion as kube-apiserver's storage does (`""` and `"0"` are 0).
///
/// # Errors
/// 400 `invalid resource version: resourceVersion: Invalid value: "x": strconv.ParseUint: parsing "x": invalid
/// syntax`.
pub fn parse_resource_version(resource_version: &str) -> Result<u64, ApiError> {
    if resource_version.is_empty() || resource_version == "0" {
        return Ok(0);
    }
    // Go's ParseUint takes no sign; Rust's would accept a leading `+`.
    let parsed = if resource_version.starts_with('+') { None } else { resource_version.parse::<u64>().ok() };
    parsed.ok_or_else(|| {
        let overflow = resource_version.bytes().all(|b| b.is_ascii_digit());
        let why = if overflow { "value out of range" } else { "invalid syntax" };
        let detail = format!("strconv.ParseUint: parsing {}: {why}", go_quote(resource_version));
        let error = FieldError::invalid("resourceVersion", resource_version, detail);
        ApiError::bad_request(format!("invalid resource version: {error}"))
    })
}
