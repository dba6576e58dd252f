//! Hostile protobuf bodies: every failure is a 400 with a reason, nothing panics, nothing grows without bound.

use super::{
    decode,
    tests::{FIXTURES, Pb, body},
};
use crate::machinery::{ApiError, StatusReason};

fn bad_request(body: &[u8]) -> ApiError {
    let error = decode(body, Some("ConfigMap")).unwrap_err();
    assert_eq!((error.code, error.reason), (400, StatusReason::BadRequest), "{}", error.message);
    error
}

#[test]
fn empty_and_foreign_bodies_are_bad_requests_worded_as_kube_apiserver() {
    let empty = bad_request(b"");
    assert_eq!(empty.message, "the object provided is unrecognized (must be of type ConfigMap): empty data (<empty>)");
    let json = bad_request(br#"{"kind":"ConfigMap"}"#);
    assert_eq!(
        json.message,
        "the object provided is unrecognized (must be of type ConfigMap): provided data does not appear to be a \
         protobuf message, expected prefix [107 56 115 0] ({\"kind\":\"ConfigMap\"})"
    );
    assert!(bad_request(b"k8s\0").message.contains("empty body (6b387300)"));
    assert!(bad_request(&[0xff; 40]).message.ends_with(&format!("({} ...)", "ff".repeat(30))));
}

#[test]
fn malformed_objects_name_the_kind_and_version_as_kube_apiserver_does() {
    let configmap = Pb::new().varint(2, 5);
    let error = bad_request(&body("v1", "ConfigMap", &configmap));
    assert_eq!(
        error.message,
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: proto: wrong wireType = 0 for field data of \
         k8s.io.api.core.v1.ConfigMap"
    );
    let deployment = Pb::new().message(2, Pb::new().string(1, "three"));
    let error = decode(&body("apps/v1", "Deployment", &deployment), Some("Deployment")).unwrap_err();
    assert!(error.message.starts_with("Deployment in version \"v1\" cannot be handled as a Deployment: proto: wrong wireType = 2 for field replicas"), "{}", error.message);
}

#[test]
fn truncated_and_overlong_encodings_are_refused() {
    let cases: [&[u8]; 8] = [
        b"k8s\0\x0a",                                             // a key without its length
        b"k8s\0\x0a\x05\x0a\x02v1",                               // a length beyond the body
        b"k8s\0\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",     // a length of 2^64 - 1
        b"k8s\0\x12\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", // an eleven-byte varint
        b"k8s\0\x00\x01",                                         // field number 0
        b"k8s\0\x0c",                                             // an end-group that closes nothing
        b"k8s\0\x0e",                                             // wire type 6
        b"k8s\0\x0b\x08\x01",                                     // a group that never ends
    ];
    for case in cases {
        bad_request(case);
    }
}

#[test]
fn every_prefix_of_a_real_body_decodes_or_fails_cleanly() {
    for (name, body, _) in FIXTURES {
        for end in 0..body.len() {
            if let Err(error) = decode(&body[..end], None) {
                assert!(matches!(error.code, 400 | 415), "{name}[..{end}]: {}", error.message);
            }
        }
    }
}

#[test]
fn corrupted_real_bodies_never_panic() {
    for (name, body, _) in FIXTURES {
        for position in 4..body.len() {
            for value in [0x00, 0x01, 0x07, 0x0b, 0x0c, 0x12, 0x7f, 0x80, 0xff] {
                let mut corrupted = body.to_vec();
                corrupted[position] = value;
                if let Err(error) = decode(&corrupted, None) {
                    assert!(matches!(error.code, 400 | 415), "{name} @{position}={value}: {}", error.message);
                }
            }
        }
    }
}

#[test]
fn random_bytes_inside_a_valid_envelope_never_panic() {
    let mut rng = fastrand::Rng::with_seed(7);
    for kind in [("v1", "Pod"), ("apps/v1", "Deployment"), ("apiextensions.k8s.io/v1", "CustomResourceDefinition")] {
        for _ in 0..2_000 {
            let length = rng.usize(0..200);
            let raw: Vec<u8> = (0..length).map(|_| rng.u8(..)).collect();
            let _ = decode(&body(kind.0, kind.1, &Pb(raw)), None);
        }
    }
}

/// A JSONSchemaProps nested `levels` deep through `not` (field 28), built outside-in in linear time.
fn nested_schema(levels: usize) -> Pb {
    let innermost = Pb::new().string(5, "string").0;
    let mut sizes = vec![innermost.len()];
    for level in 0..levels {
        let inner = sizes[level];
        sizes.push(2 + varint_len(inner) + inner);
    }
    let mut out = Pb(Vec::with_capacity(sizes[levels]));
    for level in (0..levels).rev() {
        out.0.extend_from_slice(&[0xe2, 0x01]);
        out.push_varint(sizes[level] as u64);
    }
    out.0.extend_from_slice(&innermost);
    out
}

fn varint_len(value: usize) -> usize {
    let mut pb = Pb::new();
    pb.push_varint(value as u64);
    pb.0.len()
}

fn crd_with_schema(schema: Pb) -> Vec<u8> {
    let validation = Pb::new().message(1, schema);
    let version = Pb::new().string(1, "v1").varint(2, 1).varint(3, 1).message(4, validation);
    body("apiextensions.k8s.io/v1", "CustomResourceDefinition", &Pb::new().message(2, Pb::new().message(7, version)))
}

#[test]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    let error = decode(&crd_with_schema(nested_schema(100_000)), None).unwrap_err();
    assert_eq!(error.code, 400);
    assert!(error.message.contains("exceeded max depth"), "{}", error.message);
    // Whatever is accepted can be stored and read back as JSON.
    let mut accepted = 0;
    for levels in 100..130 {
        if let Ok(object) = decode(&crd_with_schema(nested_schema(levels)), None) {
            let text = serde_json::to_string(&object).unwrap();
            assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), object, "{levels}");
            accepted = levels;
        }
    }
    assert!(accepted >= 110, "{accepted}");
}

#[test]
fn deeply_nested_groups_are_refused() {
    let group = vec![0x0b; 100]; // field 1, start group, a hundred times
    let error = decode(&body("v1", "ConfigMap", &Pb(group)), None).unwrap_err();
    assert_eq!(error.code, 400);
}

#[test]
fn empty_elements_cannot_amplify_a_small_body() {
    // Each two-byte empty Container becomes an object with a name and resources; a megabyte of them is refused.
    let mut containers = Vec::new();
    for _ in 0..500_000 {
        containers.extend_from_slice(&[0x12, 0x00]);
    }
    let pod = Pb::new().bytes(2, &containers);
    let error = decode(&body("v1", "Pod", &pod), None).unwrap_err();
    assert!(error.message.contains("message too large"), "{}", error.message);
    // A handful of them is fine.
    let pod = Pb::new().bytes(2, &containers[..20]);
    let pod = decode(&body("v1", "Pod", &pod), None).unwrap();
    assert_eq!(pod["spec"]["containers"].as_array().map(Vec::len), Some(10));
    assert_eq!(pod["spec"]["containers"][0], serde_json::json!({"name": "", "resources": {}}));
}

#[test]
fn values_json_cannot_hold_are_refused() {
    let schema = Pb::new().string(5, "number").double(9, f64::NAN);
    let error = decode(&crd_with_schema(schema), None).unwrap_err();
    assert!(error.message.contains("json: unsupported value: NaN"), "{}", error.message);
    let bad_default = Pb::new().string(5, "object").message(8, Pb::new().bytes(1, b"{not json"));
    assert_eq!(decode(&crd_with_schema(bad_default), None).unwrap_err().code, 400);
    let port = Pb::new().message(4, Pb::new().int(1, 7));
    let service = Pb::new().message(2, Pb::new().message(1, port));
    let error = decode(&body("v1", "Service", &service), None).unwrap_err();
    assert!(error.message.contains("impossible IntOrString.Type"), "{}", error.message);
    let far_future = Pb::new().message(1, Pb::new().message(8, Pb::new().int(1, 300_000_000_000)));
    assert!(decode(&body("v1", "ConfigMap", &far_future), None).unwrap_err().message.contains("year"));
}
