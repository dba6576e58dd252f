//! The built-in kinds of control-plane mode as one table of data, each entry served by a [`BuiltinStrategy`].

mod cron;
mod defaults;
pub(crate) mod object;
mod objects;
mod pod_printer;
pub(crate) mod printers;
pub(crate) mod scale;
mod services;
mod validation;
mod workloads;

#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::{
    api::{apps::v1 as apps, batch::v1 as batch, coordination::v1 as coordination, core::v1 as core_v1},
    api::{networking::v1 as networking, rbac::v1 as rbac},
    apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions,
};
use serde_json::Value;

use self::{
    object::{bool_at, int_at, list_at, str_at},
    printers::Printer,
    services::Allocator,
};
use super::{Registry, ResourceInfo, Strategy, crd::definition as crd};
use crate::{
    machinery::{
        FieldError, Object,
        names::{NameValidator, name_is_dns_label, name_is_dns_subdomain},
        table::ColumnDefinition,
    },
    patch::MergeSchema,
    schema::KindSchema,
};

pub(crate) use object::human_duration;
pub(crate) use validation::{dns1035_label, dns1123_subdomain};

/// A kind-specific selectable field and how to read it from an object (missing values read as `""`).
pub(crate) struct Field {
    name: &'static str,
    value: fn(&Value) -> String,
}

/// One built-in kind: everything that differs between kinds, as data and plain functions.
pub(crate) struct Kind {
    pub(crate) group: &'static str,
    pub(crate) version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) plural: &'static str,
    pub(crate) namespaced: bool,
    pub(crate) short_names: &'static [&'static str],
    pub(crate) categories: &'static [&'static str],
    pub(crate) status: bool,
    names: NameValidator,
    printer: Option<&'static Printer>,
    fields: &'static [Field],
    defaults: fn(&mut Object),
    prepare_create: fn(&mut Object),
    prepare_update: fn(&mut Object, &Object),
    validate: fn(&Object) -> Vec<FieldError>,
    validate_update: Option<fn(&Object, &Object) -> Vec<FieldError>>,
    delete: Option<fn(&mut Object) -> bool>,
    unconditional_update: bool,
    create_on_update: bool,
    schema: fn() -> Arc<KindSchema>,
}

impl Kind {
    /// The served resource's description.
    pub(crate) fn info(&self) -> ResourceInfo {
        let mut info = ResourceInfo::new(self.group, self.version, self.kind, self.plural, self.namespaced)
            .short_names(self.short_names)
            .categories(self.categories);
        info.status_subresource = self.status;
        info
    }
}

macro_rules! field {
    ($name:literal => $($path:literal).+) => {
        Field { name: $name, value: |o| str_at(o, &[$($path),+]).to_string() }
    };
    ($name:literal, $value:expr) => {
        Field { name: $name, value: $value }
    };
}

fn keep(_object: &mut Object) {}
fn keep_update(_object: &mut Object, _old: &Object) {}
fn valid(_object: &Object) -> Vec<FieldError> {
    Vec::new()
}

/// The template of every entry: a namespaced core kind without hooks.
const BASE: Kind = Kind {
    group: "",
    version: "v1",
    kind: "",
    plural: "",
    namespaced: true,
    short_names: &[],
    categories: &[],
    status: false,
    names: name_is_dns_subdomain,
    printer: None,
    fields: &[],
    defaults: defaults::none,
    prepare_create: keep,
    prepare_update: keep_update,
    validate: valid,
    validate_update: None,
    delete: None,
    unconditional_update: true,
    create_on_update: false,
    schema: KindSchema::builtin::<k8s_openapi::api::core::v1::ConfigMap>,
};

const POD_FIELDS: &[Field] = &[
    field!("spec.nodeName" => "spec"."nodeName"),
    field!("spec.restartPolicy" => "spec"."restartPolicy"),
    field!("spec.schedulerName" => "spec"."schedulerName"),
    field!("spec.serviceAccountName" => "spec"."serviceAccountName"),
    field!("spec.hostNetwork", |o| bool_at(o, &["spec", "hostNetwork"]).to_string()),
    field!("status.phase" => "status"."phase"),
    field!("status.podIP", |o| match list_at(o, &["status", "podIPs"]).first().map(|ip| str_at(ip, &["ip"])) {
        Some(ip) if !ip.is_empty() => ip.to_string(),
        _ => str_at(o, &["status", "podIP"]).to_string(),
    }),
    field!("status.podIPs", |_| String::new()),
    field!("status.nominatedNodeName" => "status"."nominatedNodeName"),
];

const EVENT_FIELDS: &[Field] = &[
    field!("involvedObject.kind" => "involvedObject"."kind"),
    field!("involvedObject.namespace" => "involvedObject"."namespace"),
    field!("involvedObject.name" => "involvedObject"."name"),
    field!("involvedObject.uid" => "involvedObject"."uid"),
    field!("involvedObject.apiVersion" => "involvedObject"."apiVersion"),
    field!("involvedObject.resourceVersion" => "involvedObject"."resourceVersion"),
    field!("involvedObject.fieldPath" => "involvedObject"."fieldPath"),
    field!("reason" => "reason"),
    field!("reportingComponent" => "reportingComponent"),
    field!("source", |o| match str_at(o, &["source", "component"]) {
        "" => str_at(o, &["reportingComponent"]).to_string(),
        component => component.to_string(),
    }),
    field!("type" => "type"),
];

/// Every built-in kind, in registration order.
pub(crate) static KINDS: &[Kind] = &[
    Kind {
        kind: "Namespace",
        plural: "namespaces",
        namespaced: false,
        short_names: &["ns"],
        status: true,
        names: name_is_dns_label,
        printer: Some(&printers::NAMESPACE),
        fields: &[field!("status.phase" => "status"."phase")],
        defaults: defaults::namespace,
        prepare_create: objects::namespace_prepare_create,
        prepare_update: objects::namespace_prepare_update,
        validate: objects::validate_namespace,
        delete: Some(objects::namespace_prepare_delete),
        schema: KindSchema::builtin::<core_v1::Namespace>,
        ..BASE
    },
    Kind {
        kind: "ConfigMap",
        plural: "configmaps",
        short_names: &["cm"],
        printer: Some(&printers::CONFIG_MAP),
        validate: objects::validate_config_map,
        validate_update: Some(objects::validate_config_map_update),
        schema: KindSchema::builtin::<core_v1::ConfigMap>,
        ..BASE
    },
    Kind {
        kind: "Secret",
        plural: "secrets",
        printer: Some(&printers::SECRET),
        fields: &[field!("type" => "type")],
        defaults: defaults::secret,
        validate: objects::validate_secret,
        validate_update: Some(objects::validate_secret_update),
        schema: KindSchema::builtin::<core_v1::Secret>,
        ..BASE
    },
    Kind {
        kind: "Service",
        create_on_update: true,
        plural: "services",
        short_names: &["svc"],
        categories: &["all"],
        status: true,
        names: validation::name_is_dns1035_label,
        printer: Some(&printers::SERVICE),
        fields: &[field!("spec.clusterIP" => "spec"."clusterIP"), field!("spec.type" => "spec"."type")],
        defaults: defaults::service,
        validate: services::validate_service,
        schema: KindSchema::builtin::<core_v1::Service>,
        ..BASE
    },
    Kind {
        kind: "ServiceAccount",
        create_on_update: true,
        plural: "serviceaccounts",
        short_names: &["sa"],
        printer: Some(&printers::SERVICE_ACCOUNT),
        validate: objects::validate_service_account,
        schema: KindSchema::builtin::<core_v1::ServiceAccount>,
        ..BASE
    },
    Kind {
        kind: "Event",
        create_on_update: true,
        plural: "events",
        short_names: &["ev"],
        printer: Some(&printers::EVENT),
        fields: EVENT_FIELDS,
        schema: KindSchema::builtin::<core_v1::Event>,
        ..BASE
    },
    Kind {
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        short_names: &["pvc"],
        status: true,
        printer: Some(&printers::PERSISTENT_VOLUME_CLAIM),
        defaults: defaults::persistent_volume_claim,
        prepare_create: objects::claim_prepare_create,
        validate: objects::validate_claim,
        validate_update: Some(objects::validate_claim_update),
        schema: KindSchema::builtin::<core_v1::PersistentVolumeClaim>,
        ..BASE
    },
    Kind {
        kind: "Pod",
        plural: "pods",
        short_names: &["po"],
        categories: &["all"],
        status: true,
        printer: Some(&printers::POD),
        fields: POD_FIELDS,
        defaults: defaults::pod,
        prepare_create: workloads::pod_prepare_create,
        validate: workloads::validate_pod,
        validate_update: Some(workloads::validate_pod_update),
        schema: KindSchema::builtin::<core_v1::Pod>,
        ..BASE
    },
    Kind {
        kind: "Node",
        plural: "nodes",
        namespaced: false,
        short_names: &["no"],
        status: true,
        printer: Some(&printers::NODE),
        fields: &[field!("spec.unschedulable", |o| bool_at(o, &["spec", "unschedulable"]).to_string())],
        schema: KindSchema::builtin::<core_v1::Node>,
        ..BASE
    },
    Kind {
        group: "apps",
        kind: "Deployment",
        plural: "deployments",
        short_names: &["deploy"],
        categories: &["all"],
        status: true,
        printer: Some(&printers::DEPLOYMENT),
        defaults: defaults::deployment,
        prepare_create: workloads::empty_status,
        validate: workloads::validate_deployment,
        validate_update: Some(workloads::validate_deployment_update),
        schema: KindSchema::builtin::<apps::Deployment>,
        ..BASE
    },
    Kind {
        group: "apps",
        kind: "StatefulSet",
        plural: "statefulsets",
        short_names: &["sts"],
        categories: &["all"],
        status: true,
        printer: Some(&printers::STATEFUL_SET),
        defaults: defaults::stateful_set,
        prepare_create: |o| workloads::initial_status(o, &["replicas", "availableReplicas"]),
        validate: workloads::validate_stateful_set,
        validate_update: Some(workloads::validate_stateful_set_update),
        schema: KindSchema::builtin::<apps::StatefulSet>,
        ..BASE
    },
    Kind {
        group: "apps",
        kind: "DaemonSet",
        plural: "daemonsets",
        short_names: &["ds"],
        categories: &["all"],
        status: true,
        printer: Some(&printers::DAEMON_SET),
        defaults: defaults::daemon_set,
        prepare_create: |o| {
            let fields = ["currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"];
            workloads::initial_status(o, &fields)
        },
        validate: workloads::validate_daemon_set,
        validate_update: Some(workloads::validate_daemon_set_update),
        schema: KindSchema::builtin::<apps::DaemonSet>,
        ..BASE
    },
    Kind {
        group: "apps",
        kind: "ReplicaSet",
        plural: "replicasets",
        short_names: &["rs"],
        categories: &["all"],
        status: true,
        printer: Some(&printers::REPLICA_SET),
        fields: &[field!("status.replicas", |o| int_at(o, &["status", "replicas"]).to_string())],
        defaults: defaults::replica_set,
        prepare_create: |o| workloads::initial_status(o, &["replicas"]),
        validate: workloads::validate_replica_set,
        validate_update: Some(workloads::validate_replica_set_update),
        schema: KindSchema::builtin::<apps::ReplicaSet>,
        ..BASE
    },
    Kind {
        group: "batch",
        kind: "Job",
        plural: "jobs",
        categories: &["all"],
        status: true,
        printer: Some(&printers::JOB),
        fields: &[field!("status.successful", |o| int_at(o, &["status", "succeeded"]).to_string())],
        defaults: defaults::job,
        prepare_create: workloads::job_prepare_create,
        validate: workloads::validate_job,
        validate_update: Some(workloads::validate_job_update),
        schema: KindSchema::builtin::<batch::Job>,
        ..BASE
    },
    Kind {
        group: "batch",
        kind: "CronJob",
        plural: "cronjobs",
        short_names: &["cj"],
        categories: &["all"],
        status: true,
        printer: Some(&printers::CRON_JOB),
        defaults: defaults::cron_job,
        prepare_create: workloads::empty_status,
        validate: workloads::validate_cron_job,
        schema: KindSchema::builtin::<batch::CronJob>,
        ..BASE
    },
    Kind {
        group: "networking.k8s.io",
        kind: "Ingress",
        plural: "ingresses",
        short_names: &["ing"],
        status: true,
        printer: Some(&printers::INGRESS),
        prepare_create: objects::ingress_prepare_create,
        validate: objects::validate_ingress,
        schema: KindSchema::builtin::<networking::Ingress>,
        ..BASE
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        kind: "Role",
        create_on_update: true,
        plural: "roles",
        names: validation::name_is_path_segment,
        validate: objects::validate_role,
        schema: KindSchema::builtin::<rbac::Role>,
        ..BASE
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        kind: "RoleBinding",
        create_on_update: true,
        plural: "rolebindings",
        names: validation::name_is_path_segment,
        printer: Some(&printers::ROLE_BINDING),
        defaults: defaults::role_binding,
        validate: objects::validate_role_binding,
        validate_update: Some(objects::validate_role_binding_update),
        schema: KindSchema::builtin::<rbac::RoleBinding>,
        ..BASE
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        create_on_update: true,
        plural: "clusterroles",
        namespaced: false,
        names: validation::name_is_path_segment,
        validate: objects::validate_cluster_role,
        schema: KindSchema::builtin::<rbac::ClusterRole>,
        ..BASE
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        kind: "ClusterRoleBinding",
        create_on_update: true,
        plural: "clusterrolebindings",
        namespaced: false,
        names: validation::name_is_path_segment,
        printer: Some(&printers::ROLE_BINDING),
        defaults: defaults::role_binding,
        validate: objects::validate_cluster_role_binding,
        validate_update: Some(objects::validate_cluster_role_binding_update),
        schema: KindSchema::builtin::<rbac::ClusterRoleBinding>,
        ..BASE
    },
    Kind {
        group: "coordination.k8s.io",
        kind: "Lease",
        create_on_update: true,
        plural: "leases",
        printer: Some(&printers::LEASE),
        validate: objects::validate_lease,
        schema: KindSchema::builtin::<coordination::Lease>,
        ..BASE
    },
    Kind {
        group: "apiextensions.k8s.io",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        namespaced: false,
        short_names: &["crd", "crds"],
        categories: &["api-extensions"],
        status: true,
        defaults: crd::defaults,
        prepare_create: crd::prepare_create,
        prepare_update: crd::prepare_update,
        validate: crd::validate,
        validate_update: Some(crd::validate_update),
        delete: Some(crd::prepare_delete),
        unconditional_update: false,
        schema: KindSchema::builtin::<apiextensions::CustomResourceDefinition>,
        ..BASE
    },
];

/// Hooks of a kind whose writes depend on state beyond the object (e.g. allocated service IPs).
pub(crate) trait StatefulHooks: Send + Sync + 'static {
    /// Replaces the kind's `prepare_create`.
    fn prepare_create(&self, object: &mut Object);
    /// Replaces the kind's `prepare_update`.
    fn prepare_update(&self, object: &mut Object, old: &Object);
    /// Replaces the kind's `validate`.
    fn validate(&self, object: &Object) -> Vec<FieldError>;
    /// Replaces the kind's `validate_update`.
    fn validate_update(&self, object: &Object, old: &Object) -> Vec<FieldError>;
}

impl StatefulHooks for Allocator {
    fn prepare_create(&self, object: &mut Object) {
        Allocator::prepare_create(self, object);
    }

    fn prepare_update(&self, object: &mut Object, old: &Object) {
        Allocator::prepare_update(self, object, old);
    }

    fn validate(&self, object: &Object) -> Vec<FieldError> {
        Allocator::validate(self, object)
    }

    fn validate_update(&self, object: &Object, old: &Object) -> Vec<FieldError> {
        Allocator::validate_update(self, object, old)
    }
}

/// The strategy of one built-in kind.
pub struct BuiltinStrategy {
    kind: &'static Kind,
    info: ResourceInfo,
    merge: Option<MergeSchema>,
    hooks: Option<Arc<dyn StatefulHooks>>,
}

impl BuiltinStrategy {
    fn new(kind: &'static Kind, hooks: Option<Arc<dyn StatefulHooks>>) -> Self {
        Self { kind, info: kind.info(), merge: merge_schema(kind), hooks }
    }

    /// The strategy of the built-in kind `kind` of `group` (without the state some kinds keep, e.g. services
    /// allocate no cluster IPs), for tools and tests.
    pub fn of(group: &str, kind: &str) -> Option<Self> {
        KINDS.iter().find(|k| k.group == group && k.kind == kind).map(|k| Self::new(k, None))
    }

    /// Table cells at a given time (the AGE columns are durations until `now`).
    pub fn table_cells_at(&self, object: &Object, now: Timestamp) -> Vec<Value> {
        match self.kind.printer {
            Some(printer) => (printer.cells)(object, now),
            None => crate::machinery::table::default_cells(object),
        }
    }
}

/// The kind's strategic-merge/apply schema (Kubernetes' merge keys and list types).
fn merge_schema(kind: &Kind) -> Option<MergeSchema> {
    MergeSchema::builtin(kind.group, kind.kind)
}

impl Strategy for BuiltinStrategy {
    fn info(&self) -> &ResourceInfo {
        &self.info
    }

    fn default(&self, object: &mut Object) {
        (self.kind.defaults)(object);
    }

    fn prepare_for_create(&self, object: &mut Object) {
        match &self.hooks {
            Some(hooks) => hooks.prepare_create(object),
            None => (self.kind.prepare_create)(object),
        }
    }

    fn prepare_for_update(&self, object: &mut Object, old: &Object) {
        match &self.hooks {
            Some(hooks) => hooks.prepare_update(object, old),
            None => (self.kind.prepare_update)(object, old),
        }
    }

    fn validate(&self, object: &Object) -> Vec<FieldError> {
        match &self.hooks {
            Some(hooks) => hooks.validate(object),
            None => (self.kind.validate)(object),
        }
    }

    fn validate_update(&self, object: &Object, old: &Object) -> Vec<FieldError> {
        match (&self.hooks, self.kind.validate_update) {
            (Some(hooks), _) => hooks.validate_update(object, old),
            (None, Some(validate_update)) => validate_update(object, old),
            (None, None) => (self.kind.validate)(object),
        }
    }

    fn allow_unconditional_update(&self) -> bool {
        self.kind.unconditional_update
    }

    fn allow_create_on_update(&self) -> bool {
        self.kind.create_on_update
    }

    fn name_validator(&self) -> NameValidator {
        self.kind.names
    }

    fn prepare_for_delete(&self, object: &mut Object) -> bool {
        self.kind.delete.is_some_and(|delete| delete(object))
    }

    fn field_value(&self, object: &Object, field: &str) -> Option<String> {
        self.kind.fields.iter().find(|f| f.name == field).map(|f| (f.value)(object))
    }

    fn table_columns(&self) -> Vec<ColumnDefinition> {
        match self.kind.printer {
            Some(printer) => printer.columns.iter().map(printers::Column::definition).collect(),
            None => crate::machinery::table::default_columns(),
        }
    }

    fn table_cells(&self, object: &Object) -> Vec<Value> {
        self.table_cells_at(object, Timestamp::now())
    }

    fn schema(&self) -> Option<Value> {
        Some((self.kind.schema)().schema().clone())
    }

    fn kind_schema(&self) -> Option<Arc<KindSchema>> {
        Some((self.kind.schema)())
    }

    fn merge_schema(&self) -> Option<&MergeSchema> {
        self.merge.as_ref()
    }
}

/// Serves every built-in kind. Services allocate cluster IPs and node ports against the stored services, which
/// they follow from a background task when a Tokio runtime is running.
pub fn register_all(registry: &Registry) {
    for kind in KINDS {
        let hooks: Option<Arc<dyn StatefulHooks>> = if kind.group.is_empty() && kind.kind == "Service" {
            let allocator = Arc::new(Allocator::default());
            if tokio::runtime::Handle::try_current().is_ok() {
                allocator.track(registry);
            }
            Some(allocator)
        } else {
            None
        };
        registry.register(Arc::new(BuiltinStrategy::new(kind, hooks)));
    }
}
