//! Unit tests of the protobuf decoder: bodies kubectl sent, hand-built bodies of each shape, and the table.

use serde_json::{Value, json};

use super::{decode, table::Table};
use crate::machinery::StatusReason;

/// A protobuf message under construction (the test side's encoder).
#[derive(Clone, Default)]
pub(super) struct Pb(pub(super) Vec<u8>);

impl Pb {
    pub(super) fn new() -> Self {
        Self::default()
    }

    pub(super) fn push_varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    pub(super) fn key(mut self, number: u32, wire: u8) -> Self {
        self.push_varint(u64::from(number) << 3 | u64::from(wire));
        self
    }

    pub(super) fn varint(self, number: u32, value: u64) -> Self {
        let mut this = self.key(number, 0);
        this.push_varint(value);
        this
    }

    pub(super) fn int(self, number: u32, value: i64) -> Self {
        self.varint(number, value as u64)
    }

    pub(super) fn bytes(self, number: u32, bytes: &[u8]) -> Self {
        let mut this = self.key(number, 2);
        this.push_varint(bytes.len() as u64);
        this.0.extend_from_slice(bytes);
        this
    }

    pub(super) fn string(self, number: u32, text: &str) -> Self {
        self.bytes(number, text.as_bytes())
    }

    pub(super) fn message(self, number: u32, message: Pb) -> Self {
        self.bytes(number, &message.0)
    }

    pub(super) fn double(self, number: u32, value: f64) -> Self {
        let mut this = self.key(number, 1);
        this.0.extend_from_slice(&value.to_bits().to_le_bytes());
        this
    }

    /// A `map<string, string>` entry.
    pub(super) fn entry(self, number: u32, key: &str, value: &str) -> Self {
        self.message(number, Pb::new().string(1, key).string(2, value))
    }

    /// A `map<string, bytes|message>` entry.
    pub(super) fn entry_bytes(self, number: u32, key: &str, value: &[u8]) -> Self {
        self.message(number, Pb::new().string(1, key).bytes(2, value))
    }
}

/// A whole body: the magic, then `runtime.Unknown` with the type and the encoded object.
pub(super) fn body(api_version: &str, kind: &str, object: &Pb) -> Vec<u8> {
    let type_meta = Pb::new().string(1, api_version).string(2, kind);
    let unknown = Pb::new().message(1, type_meta).bytes(2, &object.0).string(3, "").string(4, "");
    [b"k8s\0".as_slice(), &unknown.0].concat()
}

fn decoded(api_version: &str, kind: &str, object: &Pb) -> Value {
    decode(&body(api_version, kind, object), Some(kind)).unwrap()
}

fn meta(name: &str) -> Pb {
    Pb::new().string(1, name)
}

/// Bodies `kubectl create ...`, `kubectl auth can-i`, `kubectl auth whoami` and `kubectl create token` (v1.33)
/// sent, and the JSON of the same objects: what `--dry-run=client -o json` prints (Go's encoding of the value the
/// command built), less `creationTimestamp: null`, which Kubernetes 1.35's types leave out (`omitzero`).
macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        [$((
            $name,
            include_bytes!(concat!("testdata/", $name, ".pb")).as_slice(),
            include_str!(concat!("testdata/", $name, ".json")),
        )),*]
    };
}

pub(super) const FIXTURES: [(&str, &[u8], &str); 26] = fixtures![
    "namespace",
    "configmap",
    "secret",
    "secret_docker_registry",
    "svc_nodeport",
    "svc_clusterip",
    "svc_headless",
    "svc_lb",
    "svc_external",
    "deployment",
    "deployment3",
    "deploy_cmd",
    "job",
    "cronjob",
    "role",
    "rolebinding",
    "clusterrole",
    "clusterrole_agg",
    "clusterrolebinding",
    "serviceaccount",
    "ingress",
    "token",
    "ssar",
    "ssar_sub",
    "ssar_nonres",
    "ssr",
];

#[test]
fn bodies_kubectl_sends_decode_to_the_json_go_writes_for_them() {
    for (name, body, expected) in FIXTURES {
        let expected: Value = serde_json::from_str(expected).unwrap();
        let object = decode(body, None).unwrap_or_else(|e| panic!("{name}: {}", e.message));
        assert_eq!(object, expected, "{name}");
    }
}

#[test]
fn bodies_client_go_writes_stay_well_within_the_size_budget() {
    let table = Table::get().unwrap();
    for (name, body, _) in FIXTURES {
        let envelope = super::Envelope::read(&body[4..]).unwrap();
        let entry = table.kind(&envelope.api_version, &envelope.kind).unwrap();
        let mut decoder = super::decode::Decoder::new(table, body.len());
        let before = decoder.budget();
        decoder.top_level(entry.message, envelope.raw).unwrap();
        let spent = before - decoder.budget();
        assert!(spent <= body.len() + 64, "{name}: {spent} units for {} bytes", body.len());
    }
}

#[test]
fn a_namespace_has_the_empty_spec_and_status_go_writes() {
    let namespace = Pb::new().message(1, meta("x").string(2, "").string(3, "")).message(2, Pb::new());
    assert_eq!(
        decoded("v1", "Namespace", &namespace),
        json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "x"}, "spec": {}, "status": {}})
    );
}

#[test]
fn configmap_data_is_text_and_binary_data_is_base64() {
    let configmap = Pb::new()
        .message(1, meta("c").string(3, "x").entry(11, "app", "web"))
        .entry(2, "a", "b")
        .entry(2, "empty", "")
        .entry_bytes(3, "blob", &[0, 255, 1])
        .varint(4, 1);
    assert_eq!(
        decoded("v1", "ConfigMap", &configmap),
        json!({
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "c", "namespace": "x", "labels": {"app": "web"}},
            "data": {"a": "b", "empty": ""}, "binaryData": {"blob": "AP8B"}, "immutable": true,
        })
    );
}

#[test]
fn secret_data_is_base64_and_string_data_stays_text() {
    let secret = Pb::new()
        .message(1, meta("s"))
        .entry_bytes(2, "p", b"q")
        .entry_bytes(2, "bin", &[0xde, 0xad, 0xbe, 0xef])
        .string(3, "Opaque")
        .entry(4, "plain", "text");
    assert_eq!(
        decoded("v1", "Secret", &secret),
        json!({
            "kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s"},
            "data": {"p": "cQ==", "bin": "3q2+7w=="}, "type": "Opaque", "stringData": {"plain": "text"},
        })
    );
}

fn deployment(replicas: Option<i64>) -> Pb {
    let container = Pb::new().string(1, "nginx").string(2, "nginx").message(8, Pb::new());
    let template = Pb::new().message(1, Pb::new().entry(11, "app", "d")).message(2, Pb::new().message(2, container));
    let mut spec = Pb::new();
    if let Some(replicas) = replicas {
        spec = spec.int(1, replicas);
    }
    let spec = spec
        .message(2, Pb::new().entry(1, "app", "d"))
        .message(3, template)
        .message(4, Pb::new())
        .int(5, 0)
        .varint(7, 0);
    Pb::new().message(1, meta("d")).message(2, spec).message(3, Pb::new())
}

#[test]
fn deployment_replicas_zero_survives_because_it_is_a_pointer() {
    let zero = decoded("apps/v1", "Deployment", &deployment(Some(0)));
    assert_eq!(zero["spec"]["replicas"], json!(0));
    // minReadySeconds and paused are values with omitempty: their zeros are left out, as Go's encoder does.
    assert_eq!(zero["spec"].get("minReadySeconds"), None);
    assert_eq!(zero["spec"].get("paused"), None);
    assert_eq!(zero["spec"]["strategy"], json!({}));
    assert_eq!(zero["status"], json!({}));
    assert_eq!(
        zero["spec"]["template"]["spec"]["containers"],
        json!([{"name": "nginx", "image": "nginx", "resources": {}}])
    );
    let absent = decoded("apps/v1", "Deployment", &deployment(None));
    assert_eq!(absent["spec"].get("replicas"), None);
    assert_eq!(decoded("apps/v1", "Deployment", &deployment(Some(3)))["spec"]["replicas"], json!(3));
}

#[test]
fn service_ports_keep_node_ports_and_int_or_string_target_ports() {
    let http = Pb::new()
        .string(1, "http")
        .string(2, "TCP")
        .int(3, 80)
        .message(4, Pb::new().int(1, 0).int(2, 8080).string(3, ""))
        .int(5, 30001);
    let named = Pb::new()
        .string(1, "metrics")
        .string(2, "TCP")
        .int(3, 9090)
        .message(4, Pb::new().int(1, 1).int(2, 0).string(3, "metrics"))
        .int(5, 0);
    let spec = Pb::new().message(1, http).message(1, named).entry(2, "app", "s").string(4, "NodePort");
    let service = Pb::new().message(1, meta("s")).message(2, spec).message(3, Pb::new().message(1, Pb::new()));
    assert_eq!(
        decoded("v1", "Service", &service),
        json!({
            "kind": "Service", "apiVersion": "v1", "metadata": {"name": "s"},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30001},
                    {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics"},
                ],
                "selector": {"app": "s"}, "type": "NodePort",
            },
            "status": {"loadBalancer": {}},
        })
    );
}

#[test]
fn an_encoder_that_leaves_zero_fields_out_reads_like_client_go() {
    // prost (kube-rs's k8s-pb) writes only the fields that are set; Go's zero values fill in the rest.
    let container = Pb::new().string(1, "nginx").string(2, "nginx");
    let template = Pb::new().message(1, Pb::new().entry(11, "app", "d")).message(2, Pb::new().message(2, container));
    let spec = Pb::new().int(1, 0).message(2, Pb::new().entry(1, "app", "d")).message(3, template);
    let sparse = Pb::new().message(1, meta("d").string(3, "default").entry(11, "app", "d")).message(2, spec);
    let (_, kubectl, _) = FIXTURES.iter().find(|(name, _, _)| *name == "deployment").unwrap();
    assert_eq!(decoded("apps/v1", "Deployment", &sparse), decode(kubectl, None).unwrap());
}

#[test]
fn pointer_scalars_keep_their_zero_and_false_values() {
    let security = Pb::new().int(2, 0).varint(3, 0).int(6, 0);
    let spec = Pb::new()
        .message(2, Pb::new().string(1, "app").string(2, "busybox"))
        .int(4, 0)
        .varint(21, 0)
        .message(14, security)
        .varint(11, 0);
    let pod = decoded("v1", "Pod", &Pb::new().message(1, meta("p")).message(2, spec));
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], json!(0));
    assert_eq!(pod["spec"]["automountServiceAccountToken"], json!(false));
    assert_eq!(pod["spec"]["securityContext"], json!({"runAsUser": 0, "runAsNonRoot": false, "runAsGroup": 0}));
    // hostNetwork is a value with omitempty.
    assert_eq!(pod["spec"].get("hostNetwork"), None);
}

#[test]
fn inlined_go_structs_merge_into_their_parent() {
    let volume = Pb::new()
        .string(1, "config")
        .message(2, Pb::new().message(19, Pb::new().message(1, Pb::new().string(1, "settings")).int(3, 420)));
    let env_from = Pb::new().message(2, Pb::new().message(1, Pb::new().string(1, "env")).varint(2, 1));
    let container = Pb::new().string(1, "app").message(19, env_from);
    let spec = Pb::new().message(1, volume).message(2, container);
    let pod = decoded("v1", "Pod", &Pb::new().message(1, meta("p")).message(2, spec));
    assert_eq!(
        pod["spec"]["volumes"],
        json!([{"name": "config", "configMap": {"name": "settings", "defaultMode": 420}}])
    );
    assert_eq!(pod["spec"]["containers"][0]["envFrom"], json!([{"configMapRef": {"name": "env", "optional": true}}]));
}

#[test]
fn times_are_rfc3339_and_zero_times_are_left_out() {
    let created = Pb::new().int(1, 1_767_225_600).int(2, 123_456_789);
    let metadata = meta("e").message(8, created).message(9, Pb::new().int(1, 1_767_225_660));
    let event_time = Pb::new().int(1, 1_767_225_600).int(2, 123_456_789);
    let event = Pb::new()
        .message(1, metadata)
        .message(2, Pb::new().string(1, "Pod").string(3, "p"))
        .string(3, "Started")
        .message(6, Pb::new())
        .message(7, Pb::new().int(1, 0))
        .message(10, event_time);
    let event = decoded("v1", "Event", &event);
    assert_eq!(event["metadata"]["creationTimestamp"], json!("2026-01-01T00:00:00Z"));
    assert_eq!(event["metadata"]["deletionTimestamp"], json!("2026-01-01T00:01:00Z"));
    assert_eq!(event["eventTime"], json!("2026-01-01T00:00:00.123456Z"));
    // firstTimestamp: an empty Time is Go's zero time, written as null (no omitempty on a struct).
    assert_eq!(event["firstTimestamp"], json!(null));
    // lastTimestamp: seconds 0 is the Unix epoch, not the zero time.
    assert_eq!(event["lastTimestamp"], json!("1970-01-01T00:00:00Z"));
    let template_metadata = decoded("apps/v1", "Deployment", &deployment(Some(1)));
    assert_eq!(template_metadata["spec"]["template"]["metadata"], json!({"labels": {"app": "d"}}));
}

#[test]
fn lease_times_are_micro_times() {
    let spec = Pb::new()
        .string(1, "holder")
        .int(2, 15)
        .message(3, Pb::new().int(1, 1_767_225_600).int(2, 999_999_999))
        .message(4, Pb::new())
        .int(5, 0);
    let lease = decoded("coordination.k8s.io/v1", "Lease", &Pb::new().message(1, meta("l")).message(2, spec));
    assert_eq!(
        lease["spec"],
        json!({
            "holderIdentity": "holder", "leaseDurationSeconds": 15, "acquireTime": "2026-01-01T00:00:00.999999Z",
            // A set pointer to the zero MicroTime: Go writes null.
            "renewTime": null, "leaseTransitions": 0,
        })
    );
}

#[test]
fn custom_resource_definition_schemas_keep_their_json_shapes() {
    let replicas = Pb::new().string(5, "integer").double(9, 5.0).double(11, 1.5).message(8, Pb::new().bytes(1, b"1"));
    let color = Pb::new()
        .string(5, "string")
        .message(20, Pb::new().bytes(1, b"\"red\""))
        .message(20, Pb::new().bytes(1, b"\"blue\""));
    let tags = Pb::new().string(5, "array").message(24, Pb::new().message(1, Pb::new().string(5, "string")));
    let spec_schema = Pb::new()
        .string(5, "object")
        .message(29, Pb::new().string(1, "replicas").message(2, replicas))
        .message(29, Pb::new().string(1, "color").message(2, color))
        .message(29, Pb::new().string(1, "tags").message(2, tags))
        .message(30, Pb::new().varint(1, 0))
        .message(32, Pb::new().string(1, "tags").message(2, Pb::new().string(2, "color")))
        .varint(38, 1);
    let root = Pb::new().string(5, "object").message(29, Pb::new().string(1, "spec").message(2, spec_schema));
    let version = Pb::new()
        .string(1, "v1")
        .varint(2, 1)
        .varint(3, 1)
        .message(4, Pb::new().message(1, root))
        .message(5, Pb::new().message(1, Pb::new()));
    let names = Pb::new().string(1, "widgets").string(2, "widget").string(4, "Widget").string(5, "WidgetList");
    let spec = Pb::new().string(1, "example.com").message(3, names).string(4, "Namespaced").message(7, version);
    let crd = Pb::new().message(1, meta("widgets.example.com")).message(2, spec);
    let crd = decoded("apiextensions.k8s.io/v1", "CustomResourceDefinition", &crd);
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["subresources"], json!({"status": {}}));
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(
        spec,
        &json!({
            "type": "object",
            "properties": {
                "replicas": {"type": "integer", "maximum": 5, "minimum": 1.5, "default": 1},
                "color": {"type": "string", "enum": ["red", "blue"]},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": false,
            "dependencies": {"tags": ["color"]},
            "x-kubernetes-preserve-unknown-fields": true,
        })
    );
}

#[test]
fn delete_options_are_accepted_in_any_group_version() {
    let options = Pb::new().int(1, 0).message(2, Pb::new().string(1, "uid-1")).string(4, "Foreground").string(5, "All");
    for api_version in ["v1", "apps/v1", "meta.k8s.io/v1"] {
        assert_eq!(
            decoded(api_version, "DeleteOptions", &options),
            json!({
                "kind": "DeleteOptions", "apiVersion": api_version,
                "gracePeriodSeconds": 0, "preconditions": {"uid": "uid-1"}, "propagationPolicy": "Foreground",
                "dryRun": ["All"],
            })
        );
    }
}

#[test]
fn delete_options_bodies_in_protobuf_reach_the_delete_options() {
    let options = Pb::new().int(1, 0).string(4, "Orphan");
    let parsed =
        crate::machinery::options::delete_options("", Some(&body("apps/v1", "DeleteOptions", &options))).unwrap();
    assert_eq!(parsed.grace_period_seconds, Some(0));
    assert_eq!(parsed.propagation_policy, Some(crate::machinery::options::PropagationPolicy::Orphan));
    let wrong = crate::machinery::options::delete_options("", Some(&body("v1", "ConfigMap", &Pb::new())));
    assert_eq!(wrong.unwrap_err().code, 400);
}

#[test]
fn subject_access_review_extra_values_are_plain_arrays() {
    let extra = Pb::new().string(1, "scopes").message(2, Pb::new().string(1, "a").string(1, "b"));
    let spec = Pb::new()
        .message(1, Pb::new().string(1, "x").string(2, "get").string(5, "pods"))
        .string(3, "alice")
        .string(4, "dev")
        .message(5, extra)
        .message(5, Pb::new().string(1, "none").message(2, Pb::new()));
    let review = decoded("authorization.k8s.io/v1", "SubjectAccessReview", &Pb::new().message(2, spec));
    assert_eq!(
        review["spec"],
        json!({
            "resourceAttributes": {"namespace": "x", "verb": "get", "resource": "pods"},
            "user": "alice", "groups": ["dev"], "extra": {"scopes": ["a", "b"], "none": null},
        })
    );
    assert_eq!(review["status"], json!({"allowed": false}));
}

#[test]
fn a_missing_kind_comes_from_the_endpoint_and_a_missing_version_from_the_table() {
    let object = decode(&body("", "", &Pb::new().message(1, meta("c"))), Some("ConfigMap")).unwrap();
    assert_eq!((&object["kind"], &object["apiVersion"]), (&json!("ConfigMap"), &json!("v1")));
    let error = decode(&body("v1", "", &Pb::new()), None).unwrap_err();
    assert_eq!(error.code, 400);
    assert!(error.message.contains("Object 'Kind' is missing in 'runtime.TypeMeta{APIVersion:\"v1\", Kind:\"\"}'"));
}

#[test]
fn kinds_without_a_protobuf_layout_are_unsupported_media_types() {
    for (api_version, kind) in [("example.com/v1", "Widget"), ("v2", "ConfigMap"), ("policy/v1", "Eviction")] {
        let error = decode(&body(api_version, kind, &Pb::new()), Some(kind)).unwrap_err();
        assert_eq!((error.code, error.reason), (415, StatusReason::UnsupportedMediaType), "{kind}");
        assert!(error.message.contains("application/vnd.kubernetes.protobuf"), "{}", error.message);
        assert!(error.message.contains(kind), "{}", error.message);
    }
}

#[test]
fn unknown_fields_are_skipped_as_go_skips_them() {
    let configmap = Pb::new()
        .message(1, meta("c").varint(99, 7))
        .varint(90, 1)
        .string(91, "x")
        .double(92, 1.0)
        .key(94, 3)
        .varint(1, 5)
        .key(94, 4)
        .entry(2, "a", "b");
    let mut with_fixed32 = configmap.clone();
    with_fixed32.0.splice(0..0, [0xed, 0x05, 1, 2, 3, 4]); // field 93, wire type 5, then four bytes
    let expected = json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}, "data": {"a": "b"}});
    assert_eq!(decoded("v1", "ConfigMap", &with_fixed32), expected);
}

#[test]
fn the_last_scalar_wins_and_repeated_message_fields_merge() {
    let configmap = Pb::new()
        .message(1, meta("first").string(3, "x"))
        .message(1, meta("second").entry(11, "a", "b"))
        .entry(2, "k", "1")
        .entry(2, "k", "2");
    assert_eq!(
        decoded("v1", "ConfigMap", &configmap),
        json!({
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "second", "namespace": "x", "labels": {"a": "b"}}, "data": {"k": "2"},
        })
    );
}

#[test]
fn repeated_numbers_may_come_packed_or_one_by_one() {
    // PodSecurityContext.supplementalGroups is a repeated int64.
    let unpacked = Pb::new().int(4, 1000).int(4, 2000);
    let mut packed = Pb::new();
    let mut numbers = Pb::new();
    numbers.push_varint(1000);
    numbers.push_varint(2000);
    packed = packed.bytes(4, &numbers.0);
    for security in [unpacked, packed] {
        let pod = decoded("v1", "Pod", &Pb::new().message(2, Pb::new().message(14, security)));
        assert_eq!(pod["spec"]["securityContext"]["supplementalGroups"], json!([1000, 2000]));
    }
}

#[test]
fn invalid_utf8_in_strings_is_replaced_as_go_json_does() {
    let configmap = Pb::new().message(1, Pb::new().bytes(1, b"a\xffb")).entry(2, "k", "v");
    assert_eq!(decoded("v1", "ConfigMap", &configmap)["metadata"]["name"], json!("a\u{fffd}b"));
}

#[test]
fn the_committed_table_parses_and_holds_every_special_type() {
    let table = Table::get().unwrap();
    assert!(table.messages.len() > 200);
    for name in [
        "k8s.io.apimachinery.pkg.apis.meta.v1.Time",
        "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime",
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
        "k8s.io.apimachinery.pkg.api.resource.Quantity",
        "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
    ] {
        let message = table.messages.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("{name}"));
        assert_ne!(message.special, super::table::Special::None, "{name}");
    }
}

#[test]
fn every_served_built_in_kind_has_a_protobuf_layout() {
    let table = Table::get().unwrap();
    for kind in crate::registry::builtin::KINDS {
        let api_version =
            if kind.group.is_empty() { kind.version.to_string() } else { format!("{}/{}", kind.group, kind.version) };
        assert!(table.kind(&api_version, kind.kind).is_some(), "{api_version} {}", kind.kind);
    }
}

#[test]
fn quantities_and_resource_lists_are_strings() {
    let resources = Pb::new()
        .message(1, Pb::new().string(1, "cpu").message(2, Pb::new().string(1, "500m")))
        .message(2, Pb::new().string(1, "memory").message(2, Pb::new()));
    let container = Pb::new().string(1, "app").message(8, resources);
    let pod = decoded("v1", "Pod", &Pb::new().message(2, Pb::new().message(2, container)));
    assert_eq!(
        pod["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m"}, "requests": {"memory": "0"}})
    );
}
