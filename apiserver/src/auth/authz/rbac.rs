//! The RBAC authorizer: an in-memory copy of Roles, ClusterRoles and their bindings, followed from the registry.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures::StreamExt;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch;

use super::rules::{rule_allows, subject_applies};
use crate::{
    auth::{Attributes, Decision, UserInfo},
    machinery::options::{ListOptions, ResourceVersionMatch},
    registry::{ControllerTask, Registry, WatchEventType},
};

/// The RBAC API group.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// How long a follower waits before watching again after a failure (or while the kind is not served).
const REWATCH_DELAY: Duration = Duration::from_millis(500);

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
type Key = (String, String);

/// Every RBAC object, parsed.
#[derive(Clone, Default)]
pub struct Policy {
    /// ClusterRoles by `("", name)`.
    pub cluster_roles: BTreeMap<Key, Arc<ClusterRole>>,
    /// Roles by `(namespace, name)`.
    pub roles: BTreeMap<Key, Arc<Role>>,
    /// ClusterRoleBindings by `("", name)`.
    pub cluster_role_bindings: BTreeMap<Key, Arc<ClusterRoleBinding>>,
    /// RoleBindings by `(namespace, name)`.
    pub role_bindings: BTreeMap<Key, Arc<RoleBinding>>,
}

/// One RBAC kind the index keeps.
trait Kept: DeserializeOwned + Send + Sync + 'static {
    const PLURAL: &'static str;
    fn slot(policy: &mut Policy) -> &mut BTreeMap<Key, Arc<Self>>;
}

impl Kept for ClusterRole {
    const PLURAL: &'static str = "clusterroles";
    fn slot(policy: &mut Policy) -> &mut BTreeMap<Key, Arc<Self>> {
        &mut policy.cluster_roles
    }
}

impl Kept for Role {
    const PLURAL: &'static str = "roles";
    fn slot(policy: &mut Policy) -> &mut BTreeMap<Key, Arc<Self>> {
        &mut policy.roles
    }
}

impl Kept for ClusterRoleBinding {
    const PLURAL: &'static str = "clusterrolebindings";
    fn slot(policy: &mut Policy) -> &mut BTreeMap<Key, Arc<Self>> {
        &mut policy.cluster_role_bindings
    }
}

impl Kept for RoleBinding {
    const PLURAL: &'static str = "rolebindings";
    fn slot(policy: &mut Policy) -> &mut BTreeMap<Key, Arc<Self>> {
        &mut policy.role_bindings
    }
}

fn key_of(object: &Value) -> Key {
    let field = |name: &str| object.pointer(name).and_then(Value::as_str).unwrap_or_default().to_string();
    (field("/metadata/namespace"), field("/metadata/name"))
}

/// Where a granting rule came from, for the "allowed by" reason.
struct Source<'a> {
    binding_kind: &'static str,
    binding_name: String,
    binding_namespace: &'a str,
    role_ref: &'a RoleRef,
    subject: &'a Subject,
}

impl Source<'_> {
    /// As kube's RBAC describes it: `ClusterRoleBinding "x" of ClusterRole "y" to User "z"`.
    fn describe(&self) -> String {
        let subject = match self.subject.namespace.as_deref() {
            Some(ns) if !ns.is_empty() && ns != self.binding_namespace => {
                format!("{} \"{}/{}\"", self.subject.kind, ns, self.subject.name)
            }
            _ => format!("{} {:?}", self.subject.kind, self.subject.name),
        };
        format!(
            "{} {:?} of {} {:?} to {subject}",
            self.binding_kind, self.binding_name, self.role_ref.kind, self.role_ref.name
        )
    }
}

impl Policy {
    /// Builds a policy from objects of the four kinds (for tests and the access-review functions).
    pub fn from_objects(objects: &[Value]) -> Self {
        let mut policy = Self::default();
        for object in objects {
            let key = key_of(object);
            let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
            let parsed = match kind {
                "ClusterRole" => insert::<ClusterRole>(&mut policy, key, object),
                "Role" => insert::<Role>(&mut policy, key, object),
                "ClusterRoleBinding" => insert::<ClusterRoleBinding>(&mut policy, key, object),
                "RoleBinding" => insert::<RoleBinding>(&mut policy, key, object),
                _ => Ok(()),
            };
            if let Err(error) = parsed {
                tracing::warn!(%kind, %error, "ignoring an unreadable RBAC object");
            }
        }
        policy
    }

    /// The rules of the role a binding in `binding_namespace` refers to.
    pub fn role_rules(&self, role_ref: &RoleRef, binding_namespace: &str) -> Result<&[PolicyRule], String> {
        match role_ref.kind.as_str() {
            "ClusterRole" => self
                .cluster_roles
                .get(&(String::new(), role_ref.name.clone()))
                .map(|role| role.rules.as_deref().unwrap_or_default())
                .ok_or_else(|| format!("clusterrole.{RBAC_GROUP} {:?} not found", role_ref.name)),
            "Role" if !binding_namespace.is_empty() => self
                .roles
                .get(&(binding_namespace.to_string(), role_ref.name.clone()))
                .map(|role| role.rules.as_deref().unwrap_or_default())
                .ok_or_else(|| format!("role.{RBAC_GROUP} {:?} not found", role_ref.name)),
            kind => Err(format!("unsupported role reference kind: {kind:?}")),
        }
    }

    /// Visits every rule granted to `user` in `namespace` ("" for cluster-wide only): ClusterRoleBindings first,
    /// then the namespace's RoleBindings. The visitor returns `false` to stop. Returns the errors met (bindings to
    /// missing roles).
    fn visit(
        &self,
        user: &UserInfo,
        namespace: &str,
        mut visitor: impl FnMut(&Source<'_>, &PolicyRule) -> bool,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        for ((_, name), binding) in &self.cluster_role_bindings {
            let Some(subject) = binding.subjects.iter().flatten().find(|s| subject_applies(user, s, "")) else {
                continue;
            };
            match self.role_rules(&binding.role_ref, "") {
                Ok(rules) => {
                    let source = Source {
                        binding_kind: "ClusterRoleBinding",
                        binding_name: name.clone(),
                        binding_namespace: "",
                        role_ref: &binding.role_ref,
                        subject,
                    };
                    for rule in rules {
                        if !visitor(&source, rule) {
                            return errors;
                        }
                    }
                }
                Err(error) => errors.push(error),
            }
        }
        if namespace.is_empty() {
            return errors;
        }
        let start = (namespace.to_string(), String::new());
        for ((ns, name), binding) in self.role_bindings.range(start..).take_while(|((ns, _), _)| ns == namespace) {
            let Some(subject) = binding.subjects.iter().flatten().find(|s| subject_applies(user, s, ns)) else {
                continue;
            };
            match self.role_rules(&binding.role_ref, ns) {
                Ok(rules) => {
                    let source = Source {
                        binding_kind: "RoleBinding",
                        binding_name: format!("{name}/{ns}"),
                        binding_namespace: ns,
                        role_ref: &binding.role_ref,
                        subject,
                    };
                    for rule in rules {
                        if !visitor(&source, rule) {
                            return errors;
                        }
                    }
                }
                Err(error) => errors.push(error),
            }
        }
        errors
    }

    /// RBAC's decision: allowed by the first matching rule, else no opinion (with the errors met as the reason).
    pub fn authorize(&self, attributes: &Attributes) -> Decision {
        let mut allowed = None;
        let errors = self.visit(&attributes.user, &attributes.namespace, |source, rule| {
            if rule_allows(attributes, rule) {
                allowed = Some(source.describe());
                return false;
            }
            true
        });
        if let Some(source) = allowed {
            return Decision::Allow(format!("RBAC: allowed by {source}"));
        }
        Decision::NoOpinion(match errors.as_slice() {
            [] => String::new(),
            [one] => format!("RBAC: {one}"),
            many => format!("RBAC: [{}]", many.join(", ")),
        })
    }

    /// Every rule granted to `user` in `namespace`, and the errors met while collecting them.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        let mut rules = Vec::new();
        let errors = self.visit(user, namespace, |_, rule| {
            rules.push(rule.clone());
            true
        });
        (rules, errors)
    }
}

fn insert<T: Kept>(policy: &mut Policy, key: Key, object: &Value) -> Result<(), serde_json::Error> {
    let parsed: T = serde_json::from_value(object.clone())?;
    T::slot(policy).insert(key, Arc::new(parsed));
    Ok(())
}

/// The RBAC objects of a registry, kept current by four in-process watches.
#[derive(Debug)]
pub struct RbacIndex {
    policy: RwLock<Arc<Policy>>,
    /// How many kinds have delivered their first complete state.
    synced: watch::Sender<usize>,
    /// Bumped on every ClusterRole change (the aggregation controller follows it).
    cluster_roles_changed: watch::Sender<u64>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("cluster_roles", &self.cluster_roles.len())
            .field("roles", &self.roles.len())
            .field("cluster_role_bindings", &self.cluster_role_bindings.len())
            .field("role_bindings", &self.role_bindings.len())
            .finish()
    }
}

/// How many kinds the index follows.
const KINDS: usize = 4;

impl RbacIndex {
    /// An index over `policy` that is not followed (for tests and fixed policies).
    pub fn fixed(policy: Policy) -> Arc<Self> {
        let index = Self::empty();
        *index.policy.write() = Arc::new(policy);
        index.synced.send_replace(KINDS);
        Arc::new(index)
    }

    fn empty() -> Self {
        Self {
            policy: RwLock::new(Arc::new(Policy::default())),
            synced: watch::channel(0).0,
            cluster_roles_changed: watch::channel(0).0,
        }
    }

    /// An index of `registry`'s RBAC objects and the four tasks that keep it current (it lives as long as they run).
    pub fn follow(registry: &Registry) -> (Arc<Self>, Vec<ControllerTask>) {
        let index = Arc::new(Self::empty());
        let tasks = vec![
            ControllerTask::spawn(follow::<ClusterRole>(registry.clone(), index.clone())),
            ControllerTask::spawn(follow::<Role>(registry.clone(), index.clone())),
            ControllerTask::spawn(follow::<ClusterRoleBinding>(registry.clone(), index.clone())),
            ControllerTask::spawn(follow::<RoleBinding>(registry.clone(), index.clone())),
        ];
        (index, tasks)
    }

    /// Waits until every kind has been loaded once, at most `limit`; whether it has.
    pub async fn wait_synced(&self, limit: Duration) -> bool {
        let mut synced = self.synced.subscribe();
        tokio::time::timeout(limit, synced.wait_for(|n| *n >= KINDS)).await.is_ok_and(|r| r.is_ok())
    }

    /// The current policy (a snapshot).
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.read().clone()
    }

    /// A receiver that changes whenever a ClusterRole is added, changed or removed.
    pub fn cluster_role_changes(&self) -> watch::Receiver<u64> {
        self.cluster_roles_changed.subscribe()
    }

    fn change<T: Kept>(&self, edit: impl FnOnce(&mut BTreeMap<Key, Arc<T>>)) {
        {
            let mut policy = self.policy.write();
            edit(T::slot(Arc::make_mut(&mut policy)));
        }
        if T::PLURAL == ClusterRole::PLURAL {
            self.cluster_roles_changed.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

fn parse<T: Kept>(object: &Value) -> Option<Arc<T>> {
    match serde_json::from_value(object.clone()) {
        Ok(parsed) => Some(Arc::new(parsed)),
        Err(error) => {
            tracing::warn!(resource = T::PLURAL, %error, "ignoring an unreadable RBAC object");
            None
        }
    }
}

/// Follows one RBAC kind: its complete state on every (re)start of the watch, then each change.
async fn follow<T: Kept>(registry: Registry, index: Arc<RbacIndex>) {
    let options = ListOptions {
        send_initial_events: Some(true),
        resource_version_match: Some(ResourceVersionMatch::NotOlderThan),
        allow_watch_bookmarks: true,
        timeout_seconds: Some(3600),
        ..ListOptions::default()
    };
    let mut counted = false;
    loop {
        let watch = match registry.lookup(RBAC_GROUP, "v1", T::PLURAL) {
            Some(store) => store.watch(None, &options).await.ok(),
            None => None,
        };
        let Some(mut watch) = watch else {
            tokio::time::sleep(REWATCH_DELAY).await;
            continue;
        };
        let mut initial: Option<BTreeMap<Key, Arc<T>>> = Some(BTreeMap::new());
        while let Some(event) = watch.next().await {
            let key = key_of(&event.object);
            match event.type_ {
                WatchEventType::Bookmark => {
                    let end = event.object.pointer("/metadata/annotations/k8s.io~1initial-events-end");
                    if end.and_then(Value::as_str) == Some("true")
                        && let Some(state) = initial.take()
                    {
                        index.change::<T>(|slot| *slot = state);
                        if !counted {
                            counted = true;
                            index.synced.send_modify(|n| *n += 1);
                        }
                    }
                }
                WatchEventType::Added | WatchEventType::Modified => {
                    let Some(parsed) = parse::<T>(&event.object) else { continue };
                    match initial.as_mut() {
                        Some(state) => {
                            state.insert(key, parsed);
                        }
                        None => index.change::<T>(|slot| {
                            slot.insert(key, parsed);
                        }),
                    }
                }
                WatchEventType::Deleted => match initial.as_mut() {
                    Some(state) => {
                        state.remove(&key);
                    }
                    None => index.change::<T>(|slot| {
                        slot.remove(&key);
                    }),
                },
                WatchEventType::Error => break,
            }
        }
        tokio::time::sleep(REWATCH_DELAY).await;
    }
}
