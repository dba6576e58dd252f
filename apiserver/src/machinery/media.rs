//! Content negotiation of `Accept` (JSON, YAML, Table, metadata, aggregated discovery) and body decoding.

mod decode;
#[cfg(test)]
mod tests;

pub use decode::{decode_body, decode_body_as, yaml_to_json};

use super::{ApiError, options::Query};

/// The serialization of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/yaml`.
    Yaml,
}

impl Format {
    /// The media type, e.g. `application/json`.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Yaml => "application/yaml",
        }
    }
}

/// The `meta.k8s.io` version a Table or PartialObjectMetadata is requested in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaVersion {
    /// `meta.k8s.io/v1`.
    V1,
    /// `meta.k8s.io/v1beta1`.
    V1Beta1,
}

impl MetaVersion {
    /// The `apiVersion`, e.g. `meta.k8s.io/v1`.
    pub fn api_version(self) -> &'static str {
        match self {
            Self::V1 => "meta.k8s.io/v1",
            Self::V1Beta1 => "meta.k8s.io/v1beta1",
        }
    }
}

/// `includeObject` of a Table request: what each row's `object` holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// A `PartialObjectMetadata` (the default; kubectl needs it for `-A`, `-L` and `--show-labels`).
    #[default]
    Metadata,
    /// The full object.
    Object,
    /// No `object`.
    None,
}

/// What the response body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The object or list itself.
    Object,
    /// A `Table` (one row per object; on watch, a one-row Table per event).
    Table {
        /// `meta.k8s.io/v1` or `v1beta1`.
        version: MetaVersion,
        /// What each row's `object` holds (the `includeObject` query parameter).
        include_object: IncludeObject,
    },
    /// A `PartialObjectMetadata` (for a single object or each watch event).
    PartialObjectMetadata(MetaVersion),
    /// A `PartialObjectMetadataList` (for a list).
    PartialObjectMetadataList(MetaVersion),
    /// An `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`.
    DiscoveryV2,
    /// An `apidiscovery.k8s.io/v2beta1` `APIGroupDiscoveryList`.
    DiscoveryV2Beta1,
}

/// The outcome of negotiation: what to send and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// JSON or YAML.
    pub format: Format,
    /// The kind of body.
    pub target: Target,
    /// Whether `pretty=1` was asked for (in the media type, or `?pretty=true`); the caller may add User-Agent rules.
    pub pretty: bool,
}

impl Negotiated {
    /// The `Content-Type` of the response; aggregated discovery names its kind as client-go requires
    /// (`application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`).
    pub fn content_type(&self) -> String {
        let base = self.format.media_type();
        match self.target {
            Target::DiscoveryV2 => format!("{base};g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
            Target::DiscoveryV2Beta1 => format!("{base};g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
            _ => base.to_string(),
        }
    }

    /// Checks the target against what the endpoint returns (`is_list` for list requests; `false` for get and for
    /// each watch event).
    ///
    /// # Errors
    /// 406 NotAcceptable for `PartialObjectMetadata` of a list or `PartialObjectMetadataList` of one object, as
    /// kube-apiserver answers.
    pub fn check_list(&self, is_list: bool) -> Result<(), ApiError> {
        match (self.target, is_list) {
            (Target::PartialObjectMetadata(_), true) => Err(not_acceptable_message(
                "you requested PartialObjectMetadata, but the requested object is a list (*unstructured.UnstructuredList)",
            )),
            (Target::PartialObjectMetadataList(_), false) => Err(not_acceptable_message(
                "you requested PartialObjectMetadataList, but the requested object is not a list (*unstructured.Unstructured)",
            )),
            _ => Ok(()),
        }
    }
}

fn not_acceptable_message(message: &str) -> ApiError {
    ApiError::new(406, super::StatusReason::NotAcceptable, message)
}

/// What an endpoint can produce besides plain JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Supported {
    /// `application/yaml`.
    pub yaml: bool,
    /// `as=Table` (JSON or YAML).
    pub table: bool,
    /// `as=PartialObjectMetadata` and `as=PartialObjectMetadataList`.
    pub metadata: bool,
    /// `as=APIGroupDiscoveryList` (v2 and v2beta1), preferred over anything else the client also accepts.
    pub discovery: bool,
}

impl Supported {
    /// Resource endpoints (get, list, create, update, patch, delete): JSON, YAML, Table and metadata.
    pub const OBJECTS: Self = Self { yaml: true, table: true, metadata: true, discovery: false };
    /// Watch endpoints: JSON, Table and metadata (YAML has no stream framing).
    pub const WATCH: Self = Self { yaml: false, table: true, metadata: true, discovery: false };
    /// The discovery roots `/apis` (and `/api`): aggregated discovery or the legacy JSON document.
    pub const DISCOVERY_ROOT: Self = Self { yaml: false, table: false, metadata: false, discovery: true };
    /// Everything else (legacy discovery documents, `/version`, OpenAPI): JSON only.
    pub const JSON: Self = Self { yaml: false, table: false, metadata: false, discovery: false };

    fn formats(self) -> &'static [Format] {
        if self.yaml { &[Format::Json, Format::Yaml] } else { &[Format::Json] }
    }

    /// The media types named in a 406 answer.
    pub fn media_types(self) -> Vec<&'static str> {
        self.formats().iter().map(|f| f.media_type()).collect()
    }
}

/// The media type of `offered` (each `type/subtype`) the `Accept` header prefers: clauses best first, for each the
/// first offered type it matches (`*/*` and `type/*` included); no header means the first offered. `None` when no
/// clause with `q` above 0 matches any (a 406).
pub fn preferred<'a>(accept: Option<&str>, offered: &[&'a str]) -> Option<&'a str> {
    let header = accept.map(str::trim).filter(|h| !h.is_empty());
    let Some(header) = header else { return offered.first().copied() };
    parse_accept(header).iter().filter(|clause| clause.q > 0.0).find_map(|clause| {
        offered.iter().copied().find(|media| {
            let (type_, subtype) = media.split_once('/').unwrap_or((media, ""));
            (clause.type_ == "*" || clause.type_.eq_ignore_ascii_case(type_))
                && (clause.subtype == "*" || clause.subtype.eq_ignore_ascii_case(subtype))
        })
    })
}

/// 406 NotAcceptable naming the media types an endpoint offers.
pub fn not_acceptable(offered: &[&str]) -> ApiError {
    not_acceptable_message(&format!("only the following media types are accepted: {}", offered.join(", ")))
}

/// One `Accept` entry.
#[derive(Clone, Debug, PartialEq)]
struct Clause {
    type_: String,
    subtype: String,
    params: Vec<(String, String)>,
    q: f32,
}

impl Clause {
    fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn matches(&self, format: Format) -> bool {
        let (type_, subtype) = match format {
            Format::Json => ("application", "json"),
            Format::Yaml => ("application", "yaml"),
        };
        (self.type_ == type_ && (self.subtype == subtype || self.subtype == "*"))
            || (self.type_ == "*" && self.subtype == "*")
    }
}

/// Parses an `Accept` header into clauses, best first: by `q` (default 1), then concrete types before wildcards.
/// Entries without a `/` (other than `*`) are dropped, as by kube-apiserver's parser.
fn parse_accept(header: &str) -> Vec<Clause> {
    let mut clauses = Vec::new();
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let range = pieces.next().unwrap_or_default().trim();
        let (type_, subtype) = match range.split_once('/') {
            Some((t, s)) if !s.contains('/') => (t.trim().to_ascii_lowercase(), s.trim().to_ascii_lowercase()),
            None if range == "*" => ("*".to_string(), "*".to_string()),
            _ => continue,
        };
        let mut clause = Clause { type_, subtype, params: Vec::new(), q: 1.0 };
        for param in pieces {
            let Some((key, value)) = param.split_once('=') else { continue };
            let key = key.trim();
            if key == "q" {
                clause.q = value.trim().parse::<f32>().unwrap_or(0.0);
            } else {
                clause.params.push((key.to_string(), value.trim().to_string()));
            }
        }
        clauses.push(clause);
    }
    clauses.sort_by(|a, b| {
        b.q.total_cmp(&a.q)
            .then_with(|| (a.type_ == "*").cmp(&(b.type_ == "*")))
            .then_with(|| (a.subtype == "*").cmp(&(b.subtype == "*")))
    });
    clauses
}

/// The conversion a clause asks for through its `g`, `v` and `as` parameters.
struct Conversion<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
}

fn conversion(clause: &Clause) -> Option<Conversion<'_>> {
    let (group, version, kind) = (clause.param("g"), clause.param("v"), clause.param("as"));
    if group.is_none() && version.is_none() && kind.is_none() {
        return None;
    }
    Some(Conversion {
        group: group.unwrap_or_default(),
        version: version.unwrap_or_default(),
        kind: kind.unwrap_or_default(),
    })
}

/// Whether the clause's other parameters can be honoured (`stream=watch` only with JSON, `sv` only `v1`).
fn parameters_allowed(clause: &Clause, format: Format) -> bool {
    let stream_ok = clause.param("stream").is_none_or(|s| s.is_empty() || (s == "watch" && format == Format::Json));
    let server_version_ok = clause.param("sv").is_none_or(|v| v.is_empty() || v == "v1");
    stream_ok && server_version_ok
}

fn discovery_target(conversion: &Conversion<'_>) -> Option<Target> {
    if conversion.group != "apidiscovery.k8s.io" || conversion.kind != "APIGroupDiscoveryList" {
        return None;
    }
    match conversion.version {
        "v2" => Some(Target::DiscoveryV2),
        "v2beta1" => Some(Target::DiscoveryV2Beta1),
        _ => None,
    }
}

fn meta_target(conversion: &Conversion<'_>, supported: Supported) -> Option<Target> {
    if conversion.group != "meta.k8s.io" {
        return None;
    }
    let version = match conversion.version {
        "v1" => MetaVersion::V1,
        "v1beta1" => MetaVersion::V1Beta1,
        _ => return None,
    };
    match conversion.kind {
        "Table" if supported.table => Some(Target::Table { version, include_object: IncludeObject::Metadata }),
        "PartialObjectMetadata" if supported.metadata => Some(Target::PartialObjectMetadata(version)),
        "PartialObjectMetadataList" if supported.metadata => Some(Target::PartialObjectMetadataList(version)),
        _ => None,
    }
}

/// Chooses the response form for `accept` (the `Accept` header, `None` or empty = JSON) on an endpoint that
/// produces `supported`; `query` supplies `includeObject` (Table) and `pretty`.
///
/// Clauses are tried best first and the first one the endpoint can honour wins; media types the server does not
/// speak (protobuf, CBOR) are skipped. With `supported.discovery`, any clause asking for aggregated discovery
/// wins over plain JSON, as on kube-apiserver's `/apis`.
///
/// # Errors
/// 406 NotAcceptable when no clause can be honoured; 400 for an unknown `includeObject` on a Table request.
pub fn negotiate(accept: Option<&str>, supported: Supported, query: &str) -> Result<Negotiated, ApiError> {
    let query = Query::parse(query);
    let query_pretty = query.first("pretty").is_some_and(|v| matches!(v, "1" | "t" | "T" | "true" | "TRUE" | "True"));
    let header = accept.map(str::trim).unwrap_or_default();
    if header.is_empty() {
        return Ok(Negotiated { format: Format::Json, target: Target::Object, pretty: query_pretty });
    }
    let clauses = parse_accept(header);
    let answer = |format: Format, target: Target, clause: &Clause| Negotiated {
        format,
        target,
        pretty: query_pretty || clause.param("pretty") == Some("1"),
    };
    if supported.discovery {
        for clause in &clauses {
            for &format in supported.formats() {
                if !clause.matches(format) || !parameters_allowed(clause, format) {
                    continue;
                }
                if let Some(target) = conversion(clause).as_ref().and_then(discovery_target) {
                    return Ok(answer(format, target, clause));
                }
            }
        }
    }
    for clause in &clauses {
        for &format in supported.formats() {
            if !clause.matches(format) || !parameters_allowed(clause, format) {
                continue;
            }
            let Some(conversion) = conversion(clause) else {
                return Ok(answer(format, Target::Object, clause));
            };
            if let Some(mut target) = meta_target(&conversion, supported) {
                if let Target::Table { include_object: include, .. } = &mut target {
                    *include = include_object(&query)?;
                }
                return Ok(answer(format, target, clause));
            }
        }
    }
    Err(ApiError::not_acceptable(&supported.media_types()))
}

/// `includeObject` of a Table request.
fn include_object(query: &Query) -> Result<IncludeObject, ApiError> {
    match query.first("includeObject").unwrap_or_default() {
        "" | "Metadata" => Ok(IncludeObject::Metadata),
        "Object" => Ok(IncludeObject::Object),
        "None" => Ok(IncludeObject::None),
        other => Err(ApiError::bad_request(format!(
            "Unable to convert to Table as requested: includeObject: Invalid value: {}: must be 'Metadata', 'Object', 'None', or empty",
            serde_json::Value::from(other)
        ))),
    }
}
