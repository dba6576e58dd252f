//! The merge keys and list semantics of the built-in kinds Flotilla serves, as a table.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::schema::{ListKey, ListType, MergeSchema, NodeId, ROOT, Smp, SmpStrategy};

/// Non-default field semantics of the built-in kinds, derived from the Kubernetes API types (`patchStrategy`,
/// `patchMergeKey`, `+listType`, `+listMapKey`, `+structType=atomic`, `+mapType=atomic`). Anything not listed
/// merges field by field (objects) or is replaced whole (lists).
///
/// Grammar, one entry per line:
/// - `@name` starts a fragment; `kind <group>/<Kind>` starts a kind (`core` is the empty group).
/// - `<path> <token>...`: the path is dotted, relative to the fragment or kind; list items are stepped into
///   implicitly. Tokens: `set`, `map:<key>[=<default>],...` (list semantics for ownership), `atomic` (an
///   object owned and replaced whole), `smp=<strategy>[:<mergeKey>]` (strategic merge patch), `@fragment` (the
///   node, or the list's items, follow the fragment).
/// - `skeleton <path>...`: objects present in the kind's empty object; `null <path>...`: lists present as null.
/// - `reset-status <path>...`: fields the `/status` subresource does not let writers own.
const TABLE: &str = r"
@meta
ownerReferences map:uid smp=merge:uid
finalizers set smp=merge

@podtemplate
metadata @meta
spec @podspec

@podspec
volumes map:name smp=merge,retainKeys:name @volume
initContainers map:name smp=merge:name @container
containers map:name smp=merge:name @container
ephemeralContainers map:name smp=merge:name @container
nodeSelector atomic
imagePullSecrets map:name smp=merge:name
affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution atomic
hostAliases map:ip smp=merge:ip
topologySpreadConstraints map:topologyKey,whenUnsatisfiable smp=merge:topologyKey
topologySpreadConstraints.labelSelector atomic
schedulingGates map:name smp=merge:name
resourceClaims map:name smp=merge,retainKeys:name
resources.claims map:name

@container
ports map:containerPort,protocol=TCP smp=merge:containerPort
env map:name smp=merge:name
env.valueFrom.fieldRef atomic
env.valueFrom.resourceFieldRef atomic
env.valueFrom.configMapKeyRef atomic
env.valueFrom.secretKeyRef atomic
env.valueFrom.fileKeyRef atomic
resources.claims map:name
volumeMounts map:mountPath smp=merge:mountPath
volumeMounts.bindMountOptions set
volumeDevices map:devicePath smp=merge:devicePath

@volume
iscsi.secretRef atomic
rbd.secretRef atomic
flexVolume.secretRef atomic
cinder.secretRef atomic
cephfs.secretRef atomic
scaleIO.secretRef atomic
storageos.secretRef atomic
csi.nodePublishSecretRef atomic
ephemeral.volumeClaimTemplate.metadata @meta
ephemeral.volumeClaimTemplate.spec.selector atomic
ephemeral.volumeClaimTemplate.spec.dataSource atomic

@workload
metadata @meta
spec.selector atomic
spec.template @podtemplate
status.conditions map:type smp=merge:type
skeleton metadata spec spec.template spec.template.metadata spec.template.spec status
null spec.template.spec.containers
reset-status spec metadata.labels

kind core/Pod
metadata @meta
spec @podspec
status.conditions map:type smp=merge:type
status.hostIPs smp=merge:ip
status.podIPs map:ip smp=merge:ip
status.resourceClaimStatuses map:name smp=merge,retainKeys:name
status.resources.claims map:name
status.volumeHealth map:name
status.volumeHealth.healthConditions map:status,reason smp=merge:status
skeleton metadata spec status
null spec.containers
reset-status spec metadata.deletionTimestamp metadata.ownerReferences

kind core/Service
metadata @meta
spec.ports map:port,protocol=TCP smp=merge:port
spec.selector atomic
status.conditions map:type smp=merge:type
skeleton metadata spec status status.loadBalancer

kind core/ConfigMap
metadata @meta
skeleton metadata

kind core/Secret
metadata @meta
skeleton metadata

kind core/Namespace
metadata @meta
status.conditions map:type smp=merge:type
skeleton metadata spec status

kind core/ServiceAccount
metadata @meta
secrets map:name smp=merge:name
skeleton metadata

kind core/Event
metadata @meta
involvedObject atomic
related atomic
skeleton metadata involvedObject source

kind core/PersistentVolumeClaim
metadata @meta
spec.selector atomic
spec.dataSource atomic
status.conditions map:type smp=merge:type
status.healthStatus.healthConditions map:status,reason smp=merge:status
skeleton metadata spec spec.resources status

kind core/Node
metadata @meta
spec.podCIDRs set smp=merge
status.conditions map:type smp=merge:type
status.addresses map:type smp=merge:type
skeleton metadata spec status status.daemonEndpoints status.daemonEndpoints.kubeletEndpoint status.nodeInfo

kind apps/Deployment
@workload
spec.strategy smp=retainKeys
skeleton spec.strategy

kind apps/StatefulSet
@workload
skeleton spec.updateStrategy

kind apps/DaemonSet
@workload
spec.updateStrategy smp=retainKeys
skeleton spec.updateStrategy

kind apps/ReplicaSet
@workload

kind batch/Job
metadata @meta
spec.selector atomic
spec.template @podtemplate
status.conditions smp=merge:type
status.uncountedTerminatedPods.succeeded set
status.uncountedTerminatedPods.failed set
skeleton metadata spec spec.template spec.template.metadata spec.template.spec status
null spec.template.spec.containers

kind batch/CronJob
metadata @meta
spec.jobTemplate.metadata @meta
spec.jobTemplate.spec.selector atomic
spec.jobTemplate.spec.template @podtemplate
skeleton metadata spec spec.jobTemplate spec.jobTemplate.metadata spec.jobTemplate.spec status
skeleton spec.jobTemplate.spec.template spec.jobTemplate.spec.template.metadata spec.jobTemplate.spec.template.spec
null spec.jobTemplate.spec.template.spec.containers

kind networking.k8s.io/Ingress
metadata @meta
spec.defaultBackend.service.port atomic
spec.defaultBackend.resource atomic
skeleton metadata spec status status.loadBalancer

kind rbac.authorization.k8s.io/Role
metadata @meta
skeleton metadata
null rules

kind rbac.authorization.k8s.io/ClusterRole
metadata @meta
skeleton metadata
null rules

kind rbac.authorization.k8s.io/RoleBinding
metadata @meta
roleRef atomic
skeleton metadata roleRef

kind rbac.authorization.k8s.io/ClusterRoleBinding
metadata @meta
roleRef atomic
skeleton metadata roleRef

kind coordination.k8s.io/Lease
metadata @meta
skeleton metadata spec

kind apiextensions.k8s.io/CustomResourceDefinition
metadata @meta
status.conditions map:type
skeleton metadata spec spec.names status status.acceptedNames
null spec.versions
";

impl MergeSchema {
    /// The merge schema of a built-in kind (`group` empty for the core group), or `None` for kinds Flotilla
    /// does not serve as built-ins (custom resources use [`MergeSchema::from_openapi`]).
    pub fn builtin(group: &str, kind: &str) -> Option<MergeSchema> {
        static KINDS: OnceLock<BTreeMap<(String, String), MergeSchema>> = OnceLock::new();
        KINDS
            .get_or_init(|| parse_table(TABLE).unwrap_or_default())
            .get(&(group.to_string(), kind.to_string()))
            .cloned()
    }
}

/// Gives `node` the semantics of `ObjectMeta` (finalizers as a set, ownerReferences keyed by uid).
pub(crate) fn apply_object_meta(schema: &mut MergeSchema, node: NodeId) {
    if let Ok(fragments) = fragments(TABLE) {
        let _ = apply_fragment(schema, node, "meta", &fragments, 0);
    }
}

type Fragments<'a> = BTreeMap<&'a str, Vec<&'a str>>;

/// Fragment bodies by name, and kind bodies by `group/Kind`.
fn sections(text: &str) -> (Fragments<'_>, Fragments<'_>) {
    let mut fragments: Fragments<'_> = BTreeMap::new();
    let mut kinds: Fragments<'_> = BTreeMap::new();
    let mut current: Option<(bool, &str)> = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(name) = line.strip_prefix("kind ") {
            current = Some((true, name.trim()));
            kinds.entry(name.trim()).or_default();
        } else if let Some(name) = line.strip_prefix('@').filter(|_| current.is_none_or(|(k, _)| !k)) {
            current = Some((false, name));
            fragments.entry(name).or_default();
        } else if let Some((is_kind, name)) = current {
            let target = if is_kind { &mut kinds } else { &mut fragments };
            target.entry(name).or_default().push(line);
        }
    }
    (fragments, kinds)
}

fn fragments(text: &str) -> Result<Fragments<'_>, String> {
    Ok(sections(text).0)
}

fn parse_table(text: &str) -> Result<BTreeMap<(String, String), MergeSchema>, String> {
    let (fragments, kinds) = sections(text);
    let mut out = BTreeMap::new();
    for (name, lines) in kinds {
        let (group, kind) = name.split_once('/').ok_or_else(|| format!("bad kind {name:?}"))?;
        let group = if group == "core" { "" } else { group };
        let mut schema = MergeSchema::default();
        apply_lines(&mut schema, ROOT, &lines, &fragments, 0)?;
        out.insert((group.to_string(), kind.to_string()), schema);
    }
    Ok(out)
}

fn apply_fragment(
    schema: &mut MergeSchema,
    node: NodeId,
    name: &str,
    fragments: &Fragments<'_>,
    depth: usize,
) -> Result<(), String> {
    let lines = fragments.get(name).ok_or_else(|| format!("unknown fragment @{name}"))?;
    if depth > 8 {
        return Err(format!("fragment @{name} nests too deeply"));
    }
    apply_lines(schema, node, lines, fragments, depth + 1)
}

fn apply_lines(
    schema: &mut MergeSchema,
    root: NodeId,
    lines: &[&str],
    fragments: &Fragments<'_>,
    depth: usize,
) -> Result<(), String> {
    for line in lines {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        match first {
            "skeleton" => words.for_each(|path| skeleton_insert(&mut schema.skeleton, path, Value::Object(Map::new()))),
            "null" => words.for_each(|path| skeleton_insert(&mut schema.skeleton, path, Value::Null)),
            "reset-status" => {
                schema.status_resets = words.map(|p| p.split('.').map(str::to_string).collect()).collect();
            }
            fragment if fragment.starts_with('@') => apply_fragment(schema, root, &fragment[1..], fragments, depth)?,
            path => {
                let node = schema.ensure_path(root, path);
                let mut items_fragment = None;
                for token in words {
                    apply_token(schema, node, token, &mut items_fragment)?;
                }
                if let Some(fragment) = items_fragment {
                    let target = if matches!(schema.node(node).list, ListType::Atomic)
                        && schema.node(node).smp.merge_key.is_none()
                    {
                        node
                    } else {
                        schema.ensure_elem(node)
                    };
                    apply_fragment(schema, target, fragment, fragments, depth)?;
                }
            }
        }
    }
    Ok(())
}

fn apply_token<'a>(
    schema: &mut MergeSchema,
    node: NodeId,
    token: &'a str,
    fragment: &mut Option<&'a str>,
) -> Result<(), String> {
    let target = schema.nodes.get_mut(node).ok_or("node out of range")?;
    if token == "atomic" {
        target.atomic = true;
    } else if token == "set" {
        target.list = ListType::Set;
    } else if let Some(keys) = token.strip_prefix("map:") {
        let keys = keys
            .split(',')
            .map(|k| match k.split_once('=') {
                Some((name, default)) => {
                    ListKey { name: name.to_string(), default: Some(Value::String(default.into())) }
                }
                None => ListKey { name: k.to_string(), default: None },
            })
            .collect();
        target.list = ListType::Map(keys);
    } else if let Some(smp) = token.strip_prefix("smp=") {
        let (strategies, key) = match smp.split_once(':') {
            Some((s, k)) => (s, Some(k.to_string())),
            None => (smp, None),
        };
        let strategies: Vec<&str> = strategies.split(',').collect();
        target.smp = Smp {
            strategy: if strategies.contains(&"merge") {
                SmpStrategy::Merge
            } else if strategies.contains(&"replace") {
                SmpStrategy::Replace
            } else {
                SmpStrategy::Default
            },
            merge_key: key,
            retain_keys: strategies.contains(&"retainKeys"),
        };
    } else if let Some(name) = token.strip_prefix('@') {
        *fragment = Some(name);
    } else {
        return Err(format!("unknown token {token:?}"));
    }
    Ok(())
}

fn skeleton_insert(skeleton: &mut Value, path: &str, leaf: Value) {
    let mut current = skeleton;
    let segments: Vec<&str> = path.split('.').collect();
    for (i, segment) in segments.iter().enumerate() {
        let Value::Object(map) = current else { return };
        let last = i + 1 == segments.len();
        let entry = map.entry(segment.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if last {
            if !entry.is_object() || leaf.is_null() {
                *entry = leaf;
            }
            return;
        }
        current = entry;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KINDS: &[(&str, &str)] = &[
        ("", "Pod"),
        ("", "Service"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Namespace"),
        ("", "ServiceAccount"),
        ("", "Event"),
        ("", "PersistentVolumeClaim"),
        ("", "Node"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("networking.k8s.io", "Ingress"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("coordination.k8s.io", "Lease"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ];

    fn at(schema: &MergeSchema, path: &str) -> NodeId {
        let mut id = ROOT;
        for segment in path.split('.') {
            if !matches!(schema.node(id).list, ListType::Atomic) {
                id = schema.item(id);
            }
            id = schema.child(id, segment).0;
        }
        id
    }

    #[test]
    fn the_table_parses_and_covers_every_served_built_in_kind() {
        parse_table(TABLE).unwrap();
        for (group, kind) in KINDS {
            assert!(MergeSchema::builtin(group, kind).is_some(), "{group}/{kind}");
        }
        assert!(MergeSchema::builtin("cluster.karmada.io", "Cluster").is_none());
        assert!(MergeSchema::builtin("apps", "Pod").is_none());
    }

    #[test]
    fn pod_templates_merge_containers_by_name_everywhere() {
        for (group, kind, prefix) in [
            ("", "Pod", "spec"),
            ("apps", "Deployment", "spec.template.spec"),
            ("apps", "StatefulSet", "spec.template.spec"),
            ("apps", "DaemonSet", "spec.template.spec"),
            ("apps", "ReplicaSet", "spec.template.spec"),
            ("batch", "Job", "spec.template.spec"),
            ("batch", "CronJob", "spec.jobTemplate.spec.template.spec"),
        ] {
            let schema = MergeSchema::builtin(group, kind).unwrap();
            for list in ["containers", "initContainers", "ephemeralContainers", "volumes", "imagePullSecrets"] {
                let node = schema.node(at(&schema, &format!("{prefix}.{list}")));
                assert_eq!(node.smp.merge_key.as_deref(), Some("name"), "{kind} {list}");
                assert_eq!(node.smp.strategy, SmpStrategy::Merge);
            }
            let ports = schema.node(at(&schema, &format!("{prefix}.containers.ports")));
            assert_eq!(ports.smp.merge_key.as_deref(), Some("containerPort"));
            assert_eq!(
                ports.list,
                ListType::Map(vec![
                    ListKey { name: "containerPort".into(), default: None },
                    ListKey { name: "protocol".into(), default: Some(json!("TCP")) },
                ])
            );
            let mounts = schema.node(at(&schema, &format!("{prefix}.initContainers.volumeMounts")));
            assert_eq!(mounts.smp.merge_key.as_deref(), Some("mountPath"));
            let env = schema.node(at(&schema, &format!("{prefix}.containers.env")));
            assert_eq!(env.smp.merge_key.as_deref(), Some("name"));
            let tolerations = schema.node(at(&schema, &format!("{prefix}.tolerations")));
            assert_eq!(tolerations.list, ListType::Atomic);
            assert_eq!(tolerations.smp.strategy, SmpStrategy::Default);
        }
    }

    #[test]
    fn metadata_lists_follow_object_meta() {
        let schema = MergeSchema::builtin("", "ConfigMap").unwrap();
        assert_eq!(schema.node(at(&schema, "metadata.finalizers")).list, ListType::Set);
        let owners = schema.node(at(&schema, "metadata.ownerReferences"));
        assert_eq!(owners.smp.merge_key.as_deref(), Some("uid"));
        let cron = MergeSchema::builtin("batch", "CronJob").unwrap();
        assert_eq!(cron.node(at(&cron, "spec.jobTemplate.spec.template.metadata.finalizers")).list, ListType::Set);
    }

    #[test]
    fn service_ports_merge_by_port_and_selectors_are_atomic() {
        let schema = MergeSchema::builtin("", "Service").unwrap();
        assert_eq!(schema.node(at(&schema, "spec.ports")).smp.merge_key.as_deref(), Some("port"));
        assert!(schema.node(at(&schema, "spec.selector")).atomic);
        let deploy = MergeSchema::builtin("apps", "Deployment").unwrap();
        assert!(deploy.node(at(&deploy, "spec.selector")).atomic);
        assert_eq!(deploy.node(at(&deploy, "status.conditions")).smp.merge_key.as_deref(), Some("type"));
        assert!(deploy.node(at(&deploy, "spec.strategy")).smp.retain_keys);
    }

    #[test]
    fn skeletons_hold_the_structs_an_empty_typed_object_has() {
        let deploy = MergeSchema::builtin("apps", "Deployment").unwrap();
        assert_eq!(
            deploy.skeleton,
            json!({"metadata": {}, "spec": {"template": {"metadata": {}, "spec": {"containers": null}},
                    "strategy": {}}, "status": {}})
        );
        assert_eq!(deploy.status_resets, vec![vec!["spec".to_string()], vec!["metadata".into(), "labels".into()]]);
    }
}
