//! Tests of Accept negotiation and body decoding.

use serde_json::json;

use super::*;
use crate::machinery::StatusReason;

const KUBECTL_GET: &str =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
const METADATA_CLIENT_LIST: &str = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
const DISCOVERY_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const DISCOVERY_V2BETA1: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

fn negotiated(accept: &str, supported: Supported) -> Negotiated {
    negotiate(Some(accept), supported, "").unwrap_or_else(|e| panic!("{accept}: {}", e.message))
}

fn target(accept: &str, supported: Supported) -> Target {
    negotiated(accept, supported).target
}

#[test]
fn no_accept_header_means_json() {
    for accept in [None, Some(""), Some("  ")] {
        let negotiated = negotiate(accept, Supported::OBJECTS, "").unwrap();
        assert_eq!((negotiated.format, negotiated.target), (Format::Json, Target::Object));
        assert_eq!(negotiated.content_type(), "application/json");
    }
}

#[test]
fn wildcards_and_plain_types_pick_a_format() {
    assert_eq!(negotiated("*/*", Supported::OBJECTS).format, Format::Json);
    assert_eq!(negotiated("*", Supported::OBJECTS).format, Format::Json);
    assert_eq!(negotiated("application/*", Supported::OBJECTS).format, Format::Json);
    assert_eq!(negotiated("application/yaml", Supported::OBJECTS).format, Format::Yaml);
    assert_eq!(negotiated("application/yaml", Supported::OBJECTS).content_type(), "application/yaml");
    assert_eq!(negotiated("Application/JSON", Supported::OBJECTS).format, Format::Json);
}

#[test]
fn kubectl_get_receives_a_v1_table_with_metadata_rows() {
    let negotiated = negotiated(KUBECTL_GET, Supported::OBJECTS);
    assert_eq!(negotiated.target, Target::Table { version: MetaVersion::V1, include_object: IncludeObject::Metadata });
    assert_eq!(negotiated.content_type(), "application/json");
}

#[test]
fn a_v1beta1_table_is_served_when_asked_for_first() {
    let accept = "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    assert_eq!(
        target(accept, Supported::OBJECTS),
        Target::Table { version: MetaVersion::V1Beta1, include_object: IncludeObject::Metadata }
    );
    assert_eq!(MetaVersion::V1Beta1.api_version(), "meta.k8s.io/v1beta1");
}

#[test]
fn include_object_comes_from_the_query() {
    for (query, expected) in [
        ("includeObject=Object", IncludeObject::Object),
        ("includeObject=None", IncludeObject::None),
        ("includeObject=Metadata", IncludeObject::Metadata),
        ("includeObject=", IncludeObject::Metadata),
    ] {
        let negotiated = negotiate(Some(KUBECTL_GET), Supported::OBJECTS, query).unwrap();
        assert_eq!(negotiated.target, Target::Table { version: MetaVersion::V1, include_object: expected }, "{query}");
    }
    let error = negotiate(Some(KUBECTL_GET), Supported::OBJECTS, "includeObject=Everything").unwrap_err();
    assert_eq!(error.code, 400);
    assert_eq!(
        error.message,
        "Unable to convert to Table as requested: includeObject: Invalid value: \"Everything\": must be 'Metadata', 'Object', 'None', or empty"
    );
    assert!(negotiate(None, Supported::OBJECTS, "includeObject=Everything").is_ok(), "only Table requests read it");
}

#[test]
fn a_table_in_yaml_is_possible() {
    let negotiated = negotiated("application/yaml;as=Table;v=v1;g=meta.k8s.io", Supported::OBJECTS);
    assert_eq!(negotiated.format, Format::Yaml);
    assert!(matches!(negotiated.target, Target::Table { .. }));
}

#[test]
fn metadata_clients_get_partial_object_metadata_and_protobuf_is_skipped() {
    assert_eq!(target(METADATA_CLIENT_LIST, Supported::OBJECTS), Target::PartialObjectMetadataList(MetaVersion::V1));
    let single = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
    assert_eq!(target(single, Supported::WATCH), Target::PartialObjectMetadata(MetaVersion::V1));
}

#[test]
fn partial_metadata_must_fit_the_shape_of_the_answer() {
    let list = negotiated(METADATA_CLIENT_LIST, Supported::OBJECTS);
    assert!(list.check_list(true).is_ok());
    let error = list.check_list(false).unwrap_err();
    assert_eq!((error.code, error.reason), (406, StatusReason::NotAcceptable));
    assert!(
        error.message.starts_with("you requested PartialObjectMetadataList, but the requested object is not a list")
    );
    let single = negotiated("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", Supported::OBJECTS);
    assert!(single.check_list(false).is_ok());
    assert!(
        single
            .check_list(true)
            .unwrap_err()
            .message
            .starts_with("you requested PartialObjectMetadata, but the requested object is a list")
    );
    assert!(negotiated(KUBECTL_GET, Supported::OBJECTS).check_list(true).is_ok());
}

#[test]
fn conversions_an_endpoint_cannot_do_fall_through_to_the_next_clause() {
    assert_eq!(target(KUBECTL_GET, Supported::JSON), Target::Object);
    assert_eq!(
        target("application/json;as=Deployment;g=apps;v=v1,application/json", Supported::OBJECTS),
        Target::Object
    );
    assert_eq!(target("application/json;v=v1,application/json", Supported::OBJECTS), Target::Object);
    assert_eq!(
        target("application/json;as=Table;v=v2;g=meta.k8s.io,application/yaml", Supported::OBJECTS),
        Target::Object
    );
}

#[test]
fn nothing_acceptable_is_406_with_the_types_the_endpoint_speaks() {
    let error = negotiate(Some("application/vnd.kubernetes.protobuf"), Supported::OBJECTS, "").unwrap_err();
    assert_eq!((error.code, error.reason), (406, StatusReason::NotAcceptable));
    assert_eq!(error.message, "only the following media types are accepted: application/json, application/yaml");
    assert_eq!(
        negotiate(Some("text/html"), Supported::JSON, "").unwrap_err().message,
        "only the following media types are accepted: application/json"
    );
    assert_eq!(
        negotiate(Some("application/json;as=Table;v=v1;g=meta.k8s.io"), Supported::JSON, "").unwrap_err().code,
        406
    );
    assert_eq!(negotiate(Some("application/yaml"), Supported::WATCH, "").unwrap_err().code, 406);
    assert_eq!(negotiate(Some("garbage"), Supported::OBJECTS, "").unwrap_err().code, 406);
}

#[test]
fn quality_values_order_the_clauses() {
    assert_eq!(negotiated("application/json;q=0.5,application/yaml", Supported::OBJECTS).format, Format::Yaml);
    assert_eq!(negotiated("application/yaml;q=0.9,application/json;q=1.0", Supported::OBJECTS).format, Format::Json);
    assert_eq!(
        negotiated("*/*;q=1,application/yaml", Supported::OBJECTS).format,
        Format::Yaml,
        "concrete beats wildcard"
    );
    let table_later = format!("application/json;q=0.8,{}", "application/json;as=Table;v=v1;g=meta.k8s.io");
    assert!(matches!(target(&table_later, Supported::OBJECTS), Target::Table { .. }));
}

#[test]
fn the_stream_parameter_needs_a_streaming_format() {
    assert_eq!(negotiated("application/json;stream=watch", Supported::WATCH).format, Format::Json);
    assert_eq!(negotiate(Some("application/yaml;stream=watch"), Supported::OBJECTS, "").unwrap_err().code, 406);
    assert_eq!(negotiate(Some("application/json;stream=other"), Supported::OBJECTS, "").unwrap_err().code, 406);
}

#[test]
fn every_client_go_discovery_header_gets_aggregated_discovery() {
    let v0_28 = format!("{DISCOVERY_V2BETA1},application/json");
    let v0_32 = format!("{DISCOVERY_V2},{DISCOVERY_V2BETA1},application/json");
    let head = format!("{DISCOVERY_V2},application/json");
    assert_eq!(target(&v0_28, Supported::DISCOVERY_ROOT), Target::DiscoveryV2Beta1);
    assert_eq!(target(&v0_32, Supported::DISCOVERY_ROOT), Target::DiscoveryV2);
    assert_eq!(target(&head, Supported::DISCOVERY_ROOT), Target::DiscoveryV2);
    assert_eq!(
        negotiated(&head, Supported::DISCOVERY_ROOT).content_type(),
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert_eq!(
        negotiated(&v0_28, Supported::DISCOVERY_ROOT).content_type(),
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    );
}

#[test]
fn aggregated_discovery_wins_even_when_listed_after_plain_json() {
    let accept = format!("application/json,{DISCOVERY_V2}");
    assert_eq!(target(&accept, Supported::DISCOVERY_ROOT), Target::DiscoveryV2);
    let reordered = "application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io";
    assert_eq!(target(reordered, Supported::DISCOVERY_ROOT), Target::DiscoveryV2, "parameter order does not matter");
}

#[test]
fn legacy_discovery_is_plain_json_and_strict() {
    assert_eq!(target("application/json", Supported::DISCOVERY_ROOT), Target::Object);
    assert_eq!(target("*/*", Supported::DISCOVERY_ROOT), Target::Object);
    assert_eq!(negotiate(None, Supported::DISCOVERY_ROOT, "").unwrap().target, Target::Object);
    let unknown = "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList";
    assert_eq!(negotiate(Some(unknown), Supported::DISCOVERY_ROOT, "").unwrap_err().code, 406);
    let with_fallback = format!("{DISCOVERY_V2},application/json");
    assert_eq!(target(&with_fallback, Supported::OBJECTS), Target::Object, "other endpoints ignore discovery");
}

#[test]
fn discovery_headers_on_object_endpoints_are_not_acceptable() {
    assert_eq!(negotiate(Some(DISCOVERY_V2), Supported::JSON, "").unwrap_err().code, 406);
}

#[test]
fn pretty_printing_is_requested_by_parameter_or_query() {
    assert!(negotiated("application/json;pretty=1", Supported::OBJECTS).pretty);
    assert!(!negotiated("application/json", Supported::OBJECTS).pretty);
    assert!(negotiate(None, Supported::OBJECTS, "pretty=true").unwrap().pretty);
    assert!(!negotiate(None, Supported::OBJECTS, "pretty=nope").unwrap().pretty);
}

#[test]
fn json_and_yaml_bodies_decode_to_objects() {
    let json = decode_body(Some("application/json"), br#"{"kind":"ConfigMap","data":{"a":"1"}}"#).unwrap();
    assert_eq!(json, json!({"kind": "ConfigMap", "data": {"a": "1"}}));
    let yaml = decode_body(Some("application/yaml; charset=utf-8"), b"kind: ConfigMap\ndata:\n  a: \"1\"\n").unwrap();
    assert_eq!(yaml, json);
    assert_eq!(decode_body(None, b"{}").unwrap(), json!({}));
    assert_eq!(decode_body(Some(""), b"{}").unwrap(), json!({}));
}

#[test]
fn other_content_types_are_unsupported() {
    for content_type in ["text/plain", "application/cbor", "application/merge-patch+json", ";;"] {
        let error = decode_body(Some(content_type), b"{}").unwrap_err();
        assert_eq!((error.code, error.reason), (415, StatusReason::UnsupportedMediaType), "{content_type}");
    }
}

#[test]
fn malformed_bodies_are_bad_requests_with_kube_like_messages() {
    let error = decode_body(Some("application/json"), b"{\"kind\":").unwrap_err();
    assert_eq!((error.code, error.reason), (400, StatusReason::BadRequest));
    assert!(
        error.message.starts_with("the object provided is unrecognized: couldn't get version/kind; json parse error: "),
        "{}",
        error.message
    );
    assert!(error.message.ends_with(" ({\"kind\":)"), "{}", error.message);
    let typed = decode_body_as(None, b"nope", "Deployment").unwrap_err();
    assert!(
        typed.message.starts_with("the object provided is unrecognized (must be of type Deployment): "),
        "{}",
        typed.message
    );
    assert!(typed.message.ends_with(" (6e6f7065)"), "hex summary: {}", typed.message);
    let array = decode_body(None, b"[1]").unwrap_err();
    assert!(array.message.contains("json: cannot unmarshal array into Go value of type struct"), "{}", array.message);
    assert!(decode_body(None, b"null").unwrap_err().message.contains("Object 'Kind' is missing in 'null'"));
    assert!(decode_body(None, b"").unwrap_err().message.contains("unexpected end of JSON input (<empty>)"));
    let yaml = decode_body(Some("application/yaml"), b"a: b: c").unwrap_err();
    assert!(yaml.message.contains("error converting YAML to JSON: yaml: "), "{}", yaml.message);
    assert_eq!(decode_body(Some("application/yaml"), b"- 1\n- 2").unwrap_err().code, 400);
    assert_eq!(decode_body(Some("application/yaml"), b"a: 1\n---\nb: 2").unwrap_err().code, 400);
    assert_eq!(decode_body(Some("application/json"), b"{\"a\":\"\xff\"}").unwrap_err().code, 400);
}

#[test]
fn a_long_body_is_summarized_in_errors() {
    let body = format!("{{\"kind\":\"ConfigMap\",\"data\":{}", "x".repeat(100));
    let message = decode_body(None, body.as_bytes()).unwrap_err().message;
    assert!(message.ends_with(" ({\"kind\":\"ConfigMap\",\"data\":xxx ...)"), "{message}");
}

#[test]
fn yaml_becomes_json_as_kube_converts_it() {
    let yaml = b"
base: &base {app: web, tier: front}
labels:
  <<: *base
  tier: back
1: one
true: yes-string
null: nothing
tagged: !custom {x: 1}
float: 1.5
big: 18446744073709551615
neg: -3
";
    let value = yaml_to_json(yaml).unwrap();
    assert_eq!(value["labels"], json!({"app": "web", "tier": "back"}));
    assert_eq!(value["1"], "one");
    assert_eq!(value["true"], "yes-string");
    assert_eq!(value["null"], "nothing");
    assert_eq!(value["tagged"], json!({"x": 1}));
    assert_eq!(value["float"], 1.5);
    assert_eq!(value["big"], json!(18_446_744_073_709_551_615u64));
    assert_eq!(value["neg"], -3);
    assert_eq!(yaml_to_json(b"").unwrap(), serde_json::Value::Null);
    assert_eq!(yaml_to_json(b"x: .inf").unwrap_err(), "json: unsupported value: +Inf");
    assert!(yaml_to_json(b"? [a, b]\n: c").unwrap_err().starts_with("unsupported map key"));
}

#[test]
fn deeply_nested_json_is_refused_without_overflowing_the_stack() {
    for body in
        ["[".repeat(1_000_000), "{\"a\":".repeat(500_000), format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200))]
    {
        let error = decode_body(Some("application/json"), body.as_bytes()).unwrap_err();
        assert_eq!(error.code, 400);
    }
}

#[test]
fn deeply_nested_yaml_is_refused_quickly() {
    let started = std::time::Instant::now();
    for body in [
        "[".repeat(3 * 1024 * 1024),
        "- ".repeat(1_500_000),
        "{a: ".repeat(500_000),
        format!("a:\n{}", (1..300).map(|i| format!("{}b{i}:\n", " ".repeat(i))).collect::<String>()),
    ] {
        let error = decode_body(Some("application/yaml"), body.as_bytes()).unwrap_err();
        assert_eq!(error.code, 400);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn yaml_alias_bombs_are_refused() {
    let bomb = b"a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
";
    let error = decode_body(Some("application/yaml"), bomb).unwrap_err();
    assert_eq!(error.code, 400);
    assert!(error.message.contains("repetition limit exceeded"), "{}", error.message);
}

#[test]
fn a_large_flat_body_decodes() {
    let items: Vec<String> = (0..20_000).map(|i| format!("\"k{i}\":\"v\"")).collect();
    let body = format!("{{\"data\":{{{}}}}}", items.join(","));
    assert_eq!(decode_body(None, body.as_bytes()).unwrap()["data"].as_object().unwrap().len(), 20_000);
    let yaml: String = (0..20_000).map(|i| format!("k{i}: v\n")).collect();
    assert_eq!(decode_body(Some("application/yaml"), yaml.as_bytes()).unwrap().as_object().unwrap().len(), 20_000);
}
