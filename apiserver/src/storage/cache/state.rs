//! The cache's in-memory state: current objects, a ring of recent events, and the revision both are complete up to.

use std::{
    collections::{BTreeMap, VecDeque},
    ops::Bound,
    sync::Arc,
};

use crate::storage::{Event, EventKind, KeyValue, Revision};

/// The objects of one resource prefix as of `revision`, plus recent history.
#[derive(Debug)]
pub(super) struct State {
    /// Current objects by key.
    objects: BTreeMap<String, Arc<KeyValue>>,
    /// Recent events, oldest first.
    pub(super) history: History,
    /// Every change up to this revision has been applied.
    pub(super) revision: Revision,
    /// The revision of the list the objects were loaded from; the upstream watch starts after it.
    listed_at: Revision,
    /// Whether a list has been loaded and the upstream watch has not broken since.
    pub(super) ready: bool,
}

impl State {
    /// An empty, not yet ready state keeping at most `history_capacity` events.
    pub(super) fn new(history_capacity: usize) -> Self {
        Self {
            objects: BTreeMap::new(),
            history: History::new(history_capacity),
            revision: 0,
            listed_at: 0,
            ready: false,
        }
    }

    /// Replaces everything with `objects`, a complete list at `revision`, and becomes ready.
    pub(super) fn load(&mut self, objects: BTreeMap<String, Arc<KeyValue>>, revision: Revision) {
        self.objects = objects;
        self.history.clear(revision);
        self.revision = revision;
        self.listed_at = revision;
        self.ready = true;
    }

    /// Applies upstream events in order and returns the ones applied, each with the cache's previous version.
    ///
    /// Events the cache already has (at or before the list revision, or older than its revision) are dropped.
    pub(super) fn apply(&mut self, mut events: Vec<Event>) -> Vec<Event> {
        events.retain_mut(|event| {
            let revision = event.revision();
            if revision <= self.listed_at || revision < self.revision {
                tracing::warn!(revision, cache_revision = self.revision, key = %event.kv.key, "dropping a stale event");
                return false;
            }
            match event.kind {
                EventKind::Deleted => event.prev = self.objects.remove(&event.kv.key),
                EventKind::Created | EventKind::Updated => {
                    let prev = match self.objects.get_mut(&event.kv.key) {
                        Some(slot) => Some(std::mem::replace(slot, Arc::clone(&event.kv))),
                        None => {
                            self.objects.insert(event.kv.key.clone(), Arc::clone(&event.kv));
                            None
                        }
                    };
                    event.kind = if prev.is_some() { EventKind::Updated } else { EventKind::Created };
                    event.prev = prev;
                }
            }
            self.revision = revision;
            self.history.push(event.clone());
            true
        });
        events
    }

    /// Moves the revision forward to `revision` (upstream progress); whether it moved.
    pub(super) fn advance(&mut self, revision: Revision) -> bool {
        if revision > self.revision {
            self.revision = revision;
            true
        } else {
            false
        }
    }

    /// Objects whose key starts with `prefix`, in key order.
    pub(super) fn list(&self, prefix: &str) -> Vec<Arc<KeyValue>> {
        self.range(prefix).map(Arc::clone).collect()
    }

    /// Objects whose key starts with `prefix`, in key order.
    pub(super) fn range<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Arc<KeyValue>> + 'a {
        self.objects
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(key, _)| key.starts_with(prefix))
            .map(|(_, kv)| kv)
    }

    /// The current version of `key`.
    pub(super) fn get(&self, key: &str) -> Option<Arc<KeyValue>> {
        self.objects.get(key).cloned()
    }
}

/// A bounded ring of recent events and the revision after which it holds every event.
#[derive(Debug)]
pub(super) struct History {
    events: VecDeque<Event>,
    capacity: usize,
    complete_after: Revision,
}

impl History {
    /// An empty ring keeping at most `capacity` events.
    pub(super) fn new(capacity: usize) -> Self {
        Self { events: VecDeque::with_capacity(capacity.min(4096)), capacity, complete_after: 0 }
    }

    /// Forgets every event; the ring is complete after `revision` (nothing has happened since).
    pub(super) fn clear(&mut self, revision: Revision) {
        self.events.clear();
        self.complete_after = revision;
    }

    /// Appends an event, evicting the oldest one when full.
    pub(super) fn push(&mut self, event: Event) {
        if self.capacity == 0 {
            self.complete_after = event.revision();
            return;
        }
        if self.events.len() >= self.capacity
            && let Some(evicted) = self.events.pop_front()
        {
            self.complete_after = evicted.revision();
        }
        self.events.push_back(event);
    }

    /// The ring holds every event with a revision greater than this one.
    #[cfg(test)]
    pub(super) fn complete_after(&self) -> Revision {
        self.complete_after
    }

    /// Events with a revision greater than `after` whose key starts with `prefix`, or `None` when the ring no longer
    /// holds all of them.
    pub(super) fn replay<'a>(&'a self, after: Revision, prefix: &'a str) -> Option<impl Iterator<Item = &'a Event>> {
        if after < self.complete_after {
            return None;
        }
        let start = self.events.partition_point(|event| event.revision() <= after);
        Some(self.events.range(start..).filter(move |event| event.kv.key.starts_with(prefix)))
    }

    /// How many events the ring holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use bytes::Bytes;

    use super::*;

    fn kv(key: &str, value: &str, create: Revision, revision: Revision) -> Arc<KeyValue> {
        Arc::new(KeyValue {
            key: key.to_string(),
            value: Bytes::from(value.to_string()),
            create_revision: create,
            mod_revision: revision,
        })
    }

    fn put(key: &str, create: Revision, revision: Revision) -> Event {
        Event { kind: EventKind::Updated, kv: kv(key, &format!("v{revision}"), create, revision), prev: None }
    }

    fn delete(key: &str, revision: Revision) -> Event {
        Event { kind: EventKind::Deleted, kv: kv(key, "", 0, revision), prev: None }
    }

    fn loaded(capacity: usize, revision: Revision, keys: &[&str]) -> State {
        let mut state = State::new(capacity);
        let objects = keys.iter().map(|key| (key.to_string(), kv(key, "v", 1, 1))).collect();
        state.load(objects, revision);
        state
    }

    fn revisions<'a>(events: impl Iterator<Item = &'a Event>) -> Vec<Revision> {
        events.map(Event::revision).collect()
    }

    #[test]
    fn previous_versions_and_kinds_come_from_the_cache_not_the_backend() {
        let mut state = loaded(10, 5, &["/r/a"]);
        let applied = state.apply(vec![put("/r/a", 1, 6), put("/r/b", 7, 7), delete("/r/a", 8)]);
        assert_eq!(applied[0].kind, EventKind::Updated);
        assert_eq!(applied[0].prev.as_ref().map(|kv| kv.mod_revision), Some(1));
        assert_eq!(applied[1].kind, EventKind::Created);
        assert_eq!(applied[1].prev, None);
        assert_eq!(applied[2].kind, EventKind::Deleted);
        assert_eq!(applied[2].prev.as_ref().map(|kv| kv.mod_revision), Some(6));
        assert_eq!(state.revision, 8);
        assert_eq!(state.list("/r/").iter().map(|kv| kv.key.as_str()).collect::<Vec<_>>(), ["/r/b"]);
    }

    #[test]
    fn events_already_in_the_list_are_dropped() {
        let mut state = loaded(10, 5, &["/r/a"]);
        let applied = state.apply(vec![put("/r/a", 1, 4), put("/r/a", 1, 5), put("/r/a", 1, 6)]);
        assert_eq!(revisions(applied.iter()), [6]);
        assert_eq!(state.get("/r/a").map(|kv| kv.mod_revision), Some(6));
    }

    #[test]
    fn the_ring_keeps_the_newest_events_and_knows_where_it_is_complete() {
        let mut state = loaded(3, 10, &[]);
        state.apply((11..=15).map(|revision| put("/r/a", 11, revision)).collect());
        assert_eq!(state.history.len(), 3);
        assert_eq!(state.history.complete_after(), 12);
        assert!(state.history.replay(11, "/r/").is_none());
        assert_eq!(revisions(state.history.replay(12, "/r/").into_iter().flatten()), [13, 14, 15]);
        assert_eq!(revisions(state.history.replay(14, "/r/").into_iter().flatten()), [15]);
        assert_eq!(revisions(state.history.replay(99, "/r/").into_iter().flatten()), Vec::<Revision>::new());
    }

    #[test]
    fn a_fresh_ring_is_complete_after_the_list_revision() {
        let mut state = loaded(3, 10, &[]);
        assert!(state.history.replay(9, "/r/").is_none());
        assert_eq!(state.history.replay(10, "/r/").map(Iterator::count), Some(0));
        state.apply(vec![put("/r/a", 11, 11)]);
        state.load(BTreeMap::new(), 20);
        assert!(state.history.replay(11, "/r/").is_none());
    }

    #[test]
    fn a_ring_without_capacity_is_complete_only_after_the_last_event() {
        let mut state = loaded(0, 10, &[]);
        state.apply(vec![put("/r/a", 11, 11), put("/r/a", 11, 12)]);
        assert!(state.history.replay(11, "/r/").is_none());
        assert_eq!(state.history.replay(12, "/r/").map(Iterator::count), Some(0));
    }

    #[test]
    fn replay_keeps_only_keys_under_the_prefix() {
        let mut state = loaded(10, 10, &[]);
        state.apply(vec![put("/r/ns1/a", 11, 11), put("/r/ns2/a", 12, 12), put("/r/ns1/b", 13, 13)]);
        assert_eq!(revisions(state.history.replay(10, "/r/ns1/").into_iter().flatten()), [11, 13]);
    }

    #[test]
    fn lists_stay_inside_their_prefix() {
        let state = loaded(10, 10, &["/r/ns1/a", "/r/ns1/b", "/r/ns10/a", "/r/ns2/a"]);
        let keys: Vec<_> = state.list("/r/ns1/").iter().map(|kv| kv.key.clone()).collect();
        assert_eq!(keys, ["/r/ns1/a", "/r/ns1/b"]);
        assert_eq!(state.list("/r/").len(), 4);
        assert!(state.list("/r/ns3/").is_empty());
    }

    #[test]
    fn progress_only_moves_the_revision_forward() {
        let mut state = loaded(10, 10, &[]);
        assert!(state.advance(12));
        assert!(!state.advance(11));
        assert_eq!(state.revision, 12);
    }

    #[test]
    fn listing_ten_thousand_objects_takes_well_under_thirty_milliseconds() {
        let keys: Vec<String> = (0..10_000).map(|i| format!("/r/ns/{i:05}")).collect();
        let mut state = State::new(10);
        state.load(keys.iter().map(|key| (key.clone(), kv(key, "{}", 1, 1))).collect(), 1);
        let started = Instant::now();
        let items = state.list("/r/");
        let took = started.elapsed();
        assert_eq!(items.len(), 10_000);
        assert!(took.as_millis() < 30, "listing 10,000 objects took {took:?}");
    }
}
