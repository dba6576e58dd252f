//! The garbage collector's dependency graph: objects by uid, owner → dependents, and the work each change causes.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;

use crate::{
    machinery::Object,
    registry::{ResourceKey, store::meta},
};

/// One `metadata.ownerReferences` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct OwnerRef {
    pub(super) api_version: String,
    pub(super) kind: String,
    pub(super) name: String,
    pub(super) uid: String,
    /// `blockOwnerDeletion`: a foreground deletion of the owner waits for this dependent.
    pub(super) block: bool,
}

/// What the collector remembers of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Node {
    pub(super) uid: String,
    /// The served resource the object was seen through.
    pub(super) resource: ResourceKey,
    pub(super) namespace: Option<String>,
    pub(super) name: String,
    pub(super) owners: Vec<OwnerRef>,
    pub(super) finalizers: Vec<String>,
    pub(super) deleting: bool,
}

impl Node {
    /// The node of `object` seen through `resource`; `None` without a uid.
    pub(super) fn from_object(resource: &ResourceKey, object: &Object) -> Option<Self> {
        let uid = meta::uid(object);
        if uid.is_empty() {
            return None;
        }
        let owners = meta::metadata(object)
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array)
            .map(|refs| refs.iter().filter_map(owner_ref).collect())
            .unwrap_or_default();
        let namespace = meta::namespace(object);
        Some(Self {
            uid: uid.to_string(),
            resource: resource.clone(),
            namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
            name: meta::name(object).to_string(),
            owners,
            finalizers: meta::finalizers(object),
            deleting: meta::is_deleting(object),
        })
    }

    fn has_finalizer(&self, name: &str) -> bool {
        self.finalizers.iter().any(|f| f == name)
    }

    /// Being deleted in the foreground: dependents go first.
    pub(super) fn deleting_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(meta::FINALIZER_FOREGROUND)
    }

    /// Being deleted with its dependents orphaned.
    pub(super) fn orphaning(&self) -> bool {
        self.deleting && self.has_finalizer(meta::FINALIZER_ORPHAN)
    }
}

fn owner_ref(value: &Value) -> Option<OwnerRef> {
    let text = |field: &str| value.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
    let uid = text("uid");
    if uid.is_empty() {
        return None;
    }
    Some(OwnerRef {
        api_version: text("apiVersion"),
        kind: text("kind"),
        name: text("name"),
        uid,
        block: value.get("blockOwnerDeletion").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// A unit of work for the collector's worker.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Work {
    /// Check the object's owners (delete it when all are gone) or, for an owner deleted in the foreground, its
    /// dependents.
    AttemptToDelete(String),
    /// Remove the object's uid from its dependents' ownerReferences, then its `orphan` finalizer.
    Orphan(String),
}

/// Objects by uid and the reverse owner index, plus the queue of work their changes caused.
#[derive(Debug, Default)]
pub(super) struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
    queue: VecDeque<Work>,
    queued: HashSet<Work>,
}

impl Graph {
    /// The node with `uid`.
    pub(super) fn node(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    /// The nodes whose ownerReferences name `uid`.
    pub(super) fn dependents_of(&self, uid: &str) -> Vec<&Node> {
        self.dependents.get(uid).into_iter().flatten().filter_map(|d| self.nodes.get(d)).collect()
    }

    /// Uids of the nodes seen through `resource`.
    pub(super) fn uids_of(&self, resource: &ResourceKey) -> Vec<String> {
        self.nodes.values().filter(|n| &n.resource == resource).map(|n| n.uid.clone()).collect()
    }

    /// Uids of every node with owners.
    pub(super) fn owned(&self) -> Vec<String> {
        self.nodes.values().filter(|n| !n.owners.is_empty()).map(|n| n.uid.clone()).collect()
    }

    /// Queues work unless it is queued already.
    pub(super) fn enqueue(&mut self, work: Work) {
        if self.queued.insert(work.clone()) {
            self.queue.push_back(work);
        }
    }

    /// The next queued work.
    pub(super) fn next_work(&mut self) -> Option<Work> {
        let work = self.queue.pop_front()?;
        self.queued.remove(&work);
        Some(work)
    }

    /// Whether work is queued.
    pub(super) fn has_work(&self) -> bool {
        !self.queue.is_empty()
    }

    /// An object was added or changed.
    pub(super) fn upsert(&mut self, node: Node) {
        let uid = node.uid.clone();
        let old = self.nodes.insert(uid.clone(), node.clone());
        let old_owners: Vec<OwnerRef> = old.as_ref().map(|o| o.owners.clone()).unwrap_or_default();
        for owner in &old_owners {
            if !node.owners.iter().any(|o| o.uid == owner.uid) {
                self.unlink(&owner.uid, &uid);
                // An owner deleted in the foreground may have been waiting for this dependent.
                if self.nodes.get(&owner.uid).is_some_and(Node::deleting_dependents) {
                    self.enqueue(Work::AttemptToDelete(owner.uid.clone()));
                }
            }
        }
        for owner in &node.owners {
            self.dependents.entry(owner.uid.clone()).or_default().insert(uid.clone());
        }
        if node.orphaning() {
            self.enqueue(Work::Orphan(uid.clone()));
        }
        if node.deleting_dependents() {
            let started = !old.as_ref().is_some_and(Node::deleting_dependents);
            self.enqueue(Work::AttemptToDelete(uid.clone()));
            if started {
                for dependent in self.dependents.get(&uid).cloned().unwrap_or_default() {
                    self.enqueue(Work::AttemptToDelete(dependent));
                }
            }
        }
        let owner_missing_or_waiting =
            node.owners.iter().any(|o| self.nodes.get(&o.uid).is_none_or(|owner| owner.deleting_dependents()));
        if owner_missing_or_waiting {
            self.enqueue(Work::AttemptToDelete(uid));
        }
    }

    /// An object is gone.
    pub(super) fn remove(&mut self, uid: &str) {
        let Some(node) = self.nodes.remove(uid) else { return };
        for owner in &node.owners {
            self.unlink(&owner.uid, uid);
            if self.nodes.get(&owner.uid).is_some_and(Node::deleting_dependents) {
                self.enqueue(Work::AttemptToDelete(owner.uid.clone()));
            }
        }
        for dependent in self.dependents.get(uid).cloned().unwrap_or_default() {
            self.enqueue(Work::AttemptToDelete(dependent));
        }
    }

    fn unlink(&mut self, owner: &str, dependent: &str) {
        if let Some(set) = self.dependents.get_mut(owner) {
            set.remove(dependent);
            if set.is_empty() {
                self.dependents.remove(owner);
            }
        }
    }
}

/// What the collector knows about one owner of a dependent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OwnerState {
    /// The owner exists and is not deleting its dependents.
    Solid,
    /// The owner is gone (or another object of that name exists).
    Dangling,
    /// The owner is being deleted in the foreground and waits for its dependents.
    Waiting,
    /// The owner's kind is not served: nothing can be decided.
    Unknown,
}

/// What to do with a dependent given its owners' states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// Nothing.
    Keep,
    /// Remove the ownerReferences with these uids (some owners remain).
    RemoveOwners(Vec<String>),
    /// Delete the dependent, in the foreground when it has dependents of its own and an owner waits for it.
    Delete { foreground: bool },
}

/// kube's `attemptToDeleteItem` classification: delete a dependent when no owner is solid.
pub(super) fn decide(owners: &[(OwnerRef, OwnerState)], has_dependents: bool) -> Decision {
    if owners.is_empty() || owners.iter().any(|(_, state)| *state == OwnerState::Unknown) {
        return Decision::Keep;
    }
    let solid = owners.iter().any(|(_, state)| *state == OwnerState::Solid);
    let waiting = owners.iter().any(|(_, state)| *state == OwnerState::Waiting);
    if solid {
        let stale: Vec<String> = owners
            .iter()
            .filter(|(_, state)| matches!(state, OwnerState::Dangling | OwnerState::Waiting))
            .map(|(owner, _)| owner.uid.clone())
            .collect();
        return if stale.is_empty() { Decision::Keep } else { Decision::RemoveOwners(stale) };
    }
    Decision::Delete { foreground: waiting && has_dependents }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key() -> ResourceKey {
        ("apps".into(), "v1".into(), "replicasets".into())
    }

    fn node(uid: &str, owners: &[(&str, bool)], finalizers: &[&str], deleting: bool) -> Node {
        let refs: Vec<Value> = owners
            .iter()
            .map(|(owner, block)| {
                let reference = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": owner, "uid": owner});
                let mut reference = reference;
                reference["blockOwnerDeletion"] = json!(block);
                reference
            })
            .collect();
        let mut object = json!({"metadata": {
            "uid": uid, "name": uid, "namespace": "ns", "ownerReferences": refs, "finalizers": finalizers,
        }});
        if deleting {
            object["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        }
        Node::from_object(&key(), &object).unwrap()
    }

    fn drain(graph: &mut Graph) -> Vec<Work> {
        std::iter::from_fn(|| graph.next_work()).collect()
    }

    #[test]
    fn a_dependent_whose_owner_is_unseen_is_checked() {
        let mut graph = Graph::default();
        graph.upsert(node("rs", &[("deploy", true)], &[], false));
        assert_eq!(drain(&mut graph), vec![Work::AttemptToDelete("rs".into())]);
        graph.upsert(node("deploy", &[], &[], false));
        graph.upsert(node("rs", &[("deploy", true)], &[], false));
        assert_eq!(drain(&mut graph), Vec::new());
    }

    #[test]
    fn an_owner_going_away_queues_its_dependents() {
        let mut graph = Graph::default();
        graph.upsert(node("deploy", &[], &[], false));
        graph.upsert(node("rs", &[("deploy", true)], &[], false));
        drain(&mut graph);
        graph.remove("deploy");
        assert_eq!(drain(&mut graph), vec![Work::AttemptToDelete("rs".into())]);
        assert_eq!(graph.dependents_of("deploy").len(), 1);
    }

    #[test]
    fn foreground_and_orphan_deletions_queue_the_right_work() {
        let mut graph = Graph::default();
        graph.upsert(node("deploy", &[], &[], false));
        graph.upsert(node("rs", &[("deploy", true)], &[], false));
        drain(&mut graph);
        graph.upsert(node("deploy", &[], &["foregroundDeletion"], true));
        assert_eq!(drain(&mut graph), vec![Work::AttemptToDelete("deploy".into()), Work::AttemptToDelete("rs".into())]);
        graph.remove("rs");
        assert_eq!(drain(&mut graph), vec![Work::AttemptToDelete("deploy".into())]);
        graph.upsert(node("other", &[], &["orphan"], true));
        assert_eq!(drain(&mut graph), vec![Work::Orphan("other".into())]);
    }

    #[test]
    fn dependents_are_deleted_only_without_a_solid_owner() {
        let owner = |uid: &str| OwnerRef {
            api_version: "v1".into(),
            kind: "X".into(),
            name: uid.into(),
            uid: uid.into(),
            block: false,
        };
        assert_eq!(decide(&[(owner("a"), OwnerState::Solid)], false), Decision::Keep);
        assert_eq!(decide(&[(owner("a"), OwnerState::Dangling)], false), Decision::Delete { foreground: false });
        assert_eq!(decide(&[(owner("a"), OwnerState::Waiting)], true), Decision::Delete { foreground: true });
        assert_eq!(
            decide(&[(owner("a"), OwnerState::Solid), (owner("b"), OwnerState::Dangling)], false),
            Decision::RemoveOwners(vec!["b".into()])
        );
        assert_eq!(decide(&[(owner("a"), OwnerState::Unknown)], false), Decision::Keep);
    }
}
