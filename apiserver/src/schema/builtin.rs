//! Schemas of built-in kinds from k8s-openapi's `schemars` output, converted to OpenAPI 3.0 as kube publishes them.

use std::{
    any::TypeId,
    collections::{BTreeMap, HashMap},
    sync::{Arc, OnceLock},
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use parking_lot::Mutex;
use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use super::{KindSchema, REF_PREFIX, compile::Compiled, gvk_extension};

const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// A list field of a built-in type that strategic merge patch merges rather than replaces, as Kubernetes declares
/// it (`patchStrategy`/`patchMergeKey`); published as `x-kubernetes-patch-strategy`/`x-kubernetes-patch-merge-key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatchStrategy {
    /// The component (type) holding the field, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub schema: &'static str,
    /// The field, e.g. `containers`.
    pub field: &'static str,
    /// `merge`, `retainKeys` or `merge,retainKeys`.
    pub strategy: &'static str,
    /// The key identifying list items, e.g. `name`; `None` for lists of scalars merged as sets, and `retainKeys`.
    pub merge_key: Option<&'static str>,
}

const fn merge(schema: &'static str, field: &'static str, key: &'static str) -> PatchStrategy {
    PatchStrategy { schema, field, strategy: "merge", merge_key: Some(key) }
}

macro_rules! core {
    ($ty:literal) => {
        concat!("io.k8s.api.core.v1.", $ty)
    };
}

static PATCH_STRATEGIES: &[PatchStrategy] = &[
    merge("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", "uid"),
    PatchStrategy {
        schema: "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        field: "finalizers",
        strategy: "merge",
        merge_key: None,
    },
    merge(core!("Container"), "ports", "containerPort"),
    merge(core!("Container"), "env", "name"),
    merge(core!("Container"), "volumeMounts", "mountPath"),
    merge(core!("Container"), "volumeDevices", "devicePath"),
    merge(core!("EphemeralContainer"), "ports", "containerPort"),
    merge(core!("EphemeralContainer"), "env", "name"),
    merge(core!("EphemeralContainer"), "volumeMounts", "mountPath"),
    merge(core!("EphemeralContainer"), "volumeDevices", "devicePath"),
    merge(core!("ContainerStatus"), "volumeMounts", "mountPath"),
    merge(core!("ContainerStatus"), "allocatedResourcesStatus", "name"),
    PatchStrategy { schema: core!("PodSpec"), field: "volumes", strategy: "merge,retainKeys", merge_key: Some("name") },
    merge(core!("PodSpec"), "initContainers", "name"),
    merge(core!("PodSpec"), "containers", "name"),
    merge(core!("PodSpec"), "ephemeralContainers", "name"),
    merge(core!("PodSpec"), "imagePullSecrets", "name"),
    merge(core!("PodSpec"), "hostAliases", "ip"),
    merge(core!("PodSpec"), "topologySpreadConstraints", "topologyKey"),
    merge(core!("PodSpec"), "schedulingGates", "name"),
    PatchStrategy {
        schema: core!("PodSpec"),
        field: "resourceClaims",
        strategy: "merge,retainKeys",
        merge_key: Some("name"),
    },
    merge(core!("PodStatus"), "conditions", "type"),
    merge(core!("PodStatus"), "hostIPs", "ip"),
    merge(core!("PodStatus"), "podIPs", "ip"),
    PatchStrategy {
        schema: core!("PodStatus"),
        field: "resourceClaimStatuses",
        strategy: "merge,retainKeys",
        merge_key: Some("name"),
    },
    merge(core!("PersistentVolumeClaimStatus"), "conditions", "type"),
    merge(core!("ReplicationControllerStatus"), "conditions", "type"),
    merge(core!("ServiceSpec"), "ports", "port"),
    merge(core!("ServiceStatus"), "conditions", "type"),
    merge(core!("ServiceAccount"), "secrets", "name"),
    merge(core!("NamespaceStatus"), "conditions", "type"),
    merge(core!("NodeStatus"), "conditions", "type"),
    merge(core!("NodeStatus"), "addresses", "type"),
    PatchStrategy {
        schema: "io.k8s.api.apps.v1.DeploymentSpec",
        field: "strategy",
        strategy: "retainKeys",
        merge_key: None,
    },
    merge("io.k8s.api.apps.v1.DeploymentStatus", "conditions", "type"),
    merge("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", "type"),
    merge("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", "type"),
    merge("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", "type"),
    merge("io.k8s.api.batch.v1.JobStatus", "conditions", "type"),
];

/// The strategic-merge-patch list strategies of built-in types, by component and field (what kubectl reads from
/// `x-kubernetes-patch-*` in the OpenAPI document to compute a client-side apply patch).
pub fn patch_strategies() -> &'static [PatchStrategy] {
    PATCH_STRATEGIES
}

/// Interned component schemas: one shared copy of e.g. `ObjectMeta` for every kind.
fn intern(name: &str, schema: Value) -> Arc<Value> {
    static INTERNED: OnceLock<Mutex<HashMap<String, Arc<Value>>>> = OnceLock::new();
    let mut interned = INTERNED.get_or_init(Default::default).lock();
    match interned.get(name) {
        Some(shared) if **shared == schema => shared.clone(),
        // Another type of the same name (e.g. `ObjectReference` of two versions of one group): not shared.
        Some(_) => Arc::new(schema),
        None => interned.entry(name.to_string()).or_insert_with(|| Arc::new(schema)).clone(),
    }
}

/// Generates the named schemas `add` asks for (and everything they refer to), converted to OpenAPI 3.0.
fn generate(add: impl FnOnce(&mut SchemaGenerator)) -> BTreeMap<String, Value> {
    let settings = SchemaSettings::draft2020_12().with(|settings| {
        settings.definitions_path = "/components/schemas".into();
        settings.meta_schema = None;
    });
    let mut generator = settings.into_generator();
    add(&mut generator);
    let definitions: Map<String, Value> = generator.take_definitions(true);
    let mut components = BTreeMap::new();
    for (name, mut schema) in definitions {
        convert(&mut schema);
        kube_special_forms(&name, &mut schema);
        annotate_patch_strategies(&name, &mut schema);
        components.insert(name, schema);
    }
    components
}

/// Makes a JSON Schema subtree valid OpenAPI 3.0: `$ref` may have no siblings, so a reference with a description
/// becomes `allOf: [{$ref}]` beside it, as kube-openapi publishes it.
pub(super) fn convert(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    if let Some(Value::String(reference)) = map.get_mut("$ref")
        && let Some(name) = reference.strip_prefix("#/$defs/")
    {
        *reference = format!("{REF_PREFIX}{name}");
    }
    if map.len() > 1
        && let Some(reference) = map.remove("$ref")
    {
        map.insert("allOf".into(), json!([{"$ref": reference}]));
    }
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(properties)) = map.get_mut(key) {
            properties.values_mut().for_each(convert);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = map.get_mut(key) {
            convert(child);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(children)) = map.get_mut(key) {
            children.iter_mut().for_each(convert);
        }
    }
}

/// IntOrString and Quantity as kube-apiserver's OpenAPI v3 declares them (k8s-openapi only marks them).
fn kube_special_forms(name: &str, schema: &mut Value) {
    let mut replacement = match name {
        INT_OR_STRING => json!({
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": true,
        }),
        QUANTITY => json!({"oneOf": [{"type": "string"}, {"type": "number"}]}),
        // Embedded objects and free-form JSON: kept as sent, as a CRD schema marks them.
        "io.k8s.apimachinery.pkg.runtime.RawExtension" => {
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
        }
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON" => {
            json!({"x-kubernetes-preserve-unknown-fields": true})
        }
        _ => return,
    };
    if let Some(description) = schema.get("description").filter(|d| d.is_string()) {
        replacement["description"] = description.clone();
    }
    *schema = replacement;
}

fn annotate_patch_strategies(name: &str, schema: &mut Value) {
    for strategy in PATCH_STRATEGIES.iter().filter(|s| s.schema == name) {
        let Some(Value::Object(field)) = schema.pointer_mut(&format!("/properties/{}", strategy.field)) else {
            continue;
        };
        field.insert("x-kubernetes-patch-strategy".into(), strategy.strategy.into());
        if let Some(key) = strategy.merge_key {
            field.insert("x-kubernetes-patch-merge-key".into(), key.into());
        }
    }
}

pub(super) fn kind_schema<T: k8s_openapi::Resource + JsonSchema + 'static>() -> Arc<KindSchema> {
    static KINDS: OnceLock<Mutex<HashMap<TypeId, Arc<KindSchema>>>> = OnceLock::new();
    let kinds = KINDS.get_or_init(Default::default);
    if let Some(schema) = kinds.lock().get(&TypeId::of::<T>()) {
        return schema.clone();
    }
    let name = T::schema_name().into_owned();
    let generated = generate(|generator| {
        generator.subschema_for::<T>();
    });
    let mut components = BTreeMap::new();
    for (component, mut schema) in generated {
        if component == name
            && let Value::Object(map) = &mut schema
        {
            map.insert("x-kubernetes-group-version-kind".into(), gvk_extension(T::GROUP, T::VERSION, T::KIND));
            // The Rust field is not optional, but Kubernetes publishes `metadata` as optional (a review's body has
            // none); kubectl's client-side validation would refuse such bodies otherwise.
            if let Some(Value::Array(required)) = map.get_mut("required") {
                required.retain(|field| field != "metadata");
                if required.is_empty() {
                    map.remove("required");
                }
            }
            components.insert(component, Arc::new(schema));
        } else {
            components.insert(component.clone(), intern(&component, schema));
        }
    }
    let compiled = Compiled::builtin(&components, &name);
    let schema = Arc::new(KindSchema {
        group: T::GROUP.into(),
        version: T::VERSION.into(),
        kind: T::KIND.into(),
        name,
        components,
        compiled,
        structural: false,
    });
    kinds.lock().entry(TypeId::of::<T>()).or_insert(schema).clone()
}

/// `ObjectMeta` and the schemas it refers to (what a custom resource's `metadata` points at).
pub(super) fn object_meta_components() -> &'static BTreeMap<String, Arc<Value>> {
    static COMPONENTS: OnceLock<BTreeMap<String, Arc<Value>>> = OnceLock::new();
    COMPONENTS.get_or_init(|| {
        generate(|generator| {
            generator.subschema_for::<meta::ObjectMeta>();
        })
        .into_iter()
        .map(|(name, schema)| {
            let schema = intern(&name, schema);
            (name, schema)
        })
        .collect()
    })
}

/// The schemas every group-version document refers to from its operations: `ListMeta`, `Status`,
/// `DeleteOptions`, `Patch`, `APIResourceList` and what they refer to.
pub fn common_components() -> &'static BTreeMap<String, Arc<Value>> {
    static COMPONENTS: OnceLock<BTreeMap<String, Arc<Value>>> = OnceLock::new();
    COMPONENTS.get_or_init(|| {
        generate(|generator| {
            generator.subschema_for::<meta::ListMeta>();
            generator.subschema_for::<meta::Status>();
            generator.subschema_for::<meta::DeleteOptions>();
            generator.subschema_for::<meta::Patch>();
            generator.subschema_for::<meta::APIResourceList>();
        })
        .into_iter()
        .map(|(name, schema)| {
            let schema = intern(&name, schema);
            (name, schema)
        })
        .collect()
    })
}
