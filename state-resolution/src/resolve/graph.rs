//! The part of the auth DAG a resolution touches, loaded lazily through the [`EventSource`].
//!
//! Events are interned as dense `u32` node numbers on first sight; each is fetched at most once. All
//! walks are iterative, and the number of nodes is capped by [`MAX_EVENTS_VISITED`].

use std::borrow::Borrow;
use std::collections::{BinaryHeap, HashMap};

use super::{EventSource, MAX_EVENTS_VISITED};
use crate::error::Error;
use crate::event::Event;

/// A node number: an index into [`Graph`]'s tables.
pub(super) type Node = u32;

type IdOf<S> = <<S as EventSource>::Event as Event>::Id;

/// Interned events and their auth edges.
pub(super) struct Graph<'s, S: EventSource> {
    source: &'s S,
    index: HashMap<IdOf<S>, Node>,
    ids: Vec<IdOf<S>>,
    events: Vec<Option<S::Event>>,
    loaded: Vec<bool>,
    auth: Vec<Vec<Node>>,
}

impl<'s, S: EventSource> Graph<'s, S> {
    pub(super) fn new(source: &'s S) -> Self {
        Self {
            source,
            index: HashMap::new(),
            ids: Vec::new(),
            events: Vec::new(),
            loaded: Vec::new(),
            auth: Vec::new(),
        }
    }

    /// The node for an event ID, creating it (unloaded) on first sight.
    pub(super) fn intern(&mut self, id: &IdOf<S>) -> Result<Node, Error> {
        if let Some(node) = self.index.get(id.borrow()) {
            return Ok(*node);
        }
        if self.ids.len() >= MAX_EVENTS_VISITED {
            return Err(Error::TooLarge("more events than MAX_EVENTS_VISITED"));
        }
        let node = self.ids.len() as Node;
        self.index.insert(id.clone(), node);
        self.ids.push(id.clone());
        self.events.push(None);
        self.loaded.push(false);
        self.auth.push(Vec::new());
        Ok(node)
    }

    /// The node of an already interned ID.
    pub(super) fn lookup(&self, id: &str) -> Option<Node> {
        self.index.get(id).copied()
    }

    /// Fetches the event by a string ID (e.g. a v12 create event named by the room ID) and interns it.
    pub(super) fn fetch_by_str(&mut self, id: &str) -> Result<Option<Node>, Error> {
        if let Some(node) = self.lookup(id) {
            self.load(node)?;
            return Ok(self.events[node as usize].is_some().then_some(node));
        }
        let Some(event) = self.source.fetch_event(id) else {
            return Ok(None);
        };
        if event.event_id().borrow() != id {
            return Ok(None);
        }
        let node = self.intern(&event.event_id().clone())?;
        self.store(node, event)?;
        Ok(Some(node))
    }

    /// Makes sure the node's event has been fetched (it may turn out to be missing).
    pub(super) fn load(&mut self, node: Node) -> Result<(), Error> {
        let n = node as usize;
        if self.loaded[n] {
            return Ok(());
        }
        self.loaded[n] = true;
        let fetched = self.source.fetch_event(self.ids[n].borrow());
        match fetched {
            // An event store that answers with another event is treated as not having it.
            Some(event) if event.event_id() == &self.ids[n] => self.store(node, event),
            _ => Ok(()),
        }
    }

    fn store(&mut self, node: Node, event: S::Event) -> Result<(), Error> {
        let auth_ids: Vec<IdOf<S>> = event.auth_events().cloned().collect();
        let mut edges = Vec::with_capacity(auth_ids.len());
        for id in &auth_ids {
            let target = self.intern(id)?;
            if !edges.contains(&target) {
                edges.push(target);
            }
        }
        let n = node as usize;
        self.loaded[n] = true;
        self.auth[n] = edges;
        self.events[n] = Some(event);
        Ok(())
    }

    /// The node's event, if loaded and present.
    pub(super) fn event(&self, node: Node) -> Option<&S::Event> {
        self.events[node as usize].as_ref()
    }

    /// The node's event ID.
    pub(super) fn id(&self, node: Node) -> &IdOf<S> {
        &self.ids[node as usize]
    }

    /// The node's event ID as a string.
    pub(super) fn id_str(&self, node: Node) -> &str {
        self.ids[node as usize].borrow()
    }

    /// The distinct auth events of a loaded node.
    pub(super) fn auth_edges(&self, node: Node) -> &[Node] {
        &self.auth[node as usize]
    }

    /// The number of interned nodes.
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    /// The auth difference of the given state sets (each a list of nodes): the events in the full
    /// auth chain of some set but not of every set. The full auth chain of a set is everything its
    /// events' `auth_events` reach — not the state events themselves, unless another event reaches
    /// them.
    ///
    /// Walks all sets at once, newest (highest `depth`) first, recording for each event which sets
    /// reach it. Once every event still queued is reached by every set, nothing older can be in the
    /// difference and the walk stops, so resolving two recent forks of a huge room only touches the
    /// recent part of its auth DAG. The early stop relies on auth events being older (lower depth)
    /// than the events citing them, which holds for every correctly built event; the walk checks it
    /// on every edge it follows and, if a hostile event breaks it, walks to the end instead, which is
    /// exact in any order because reachability is re-propagated whenever it grows.
    pub(super) fn auth_difference(&mut self, sets: &[Vec<Node>]) -> Result<Vec<Node>, Error> {
        let words = sets.len().div_ceil(64);
        let full: Vec<u64> = (0..sets.len()).fold(vec![0u64; words], |mut mask, i| {
            mask[i / 64] |= 1 << (i % 64);
            mask
        });
        let mut masks: Vec<u64> = Vec::new();
        let grow = |masks: &mut Vec<u64>, len: usize| {
            if masks.len() < len * words {
                masks.resize(len * words, 0);
            }
        };
        let is_full =
            |masks: &[u64], node: Node| masks[node as usize * words..][..words] == full[..];

        let mut queue: BinaryHeap<(i64, Node)> = BinaryHeap::new();
        let mut queued: Vec<bool> = Vec::new();
        let mut ordered = true;

        // Seed the walk with the auth events of every state event: a state set's auth chain holds
        // what its events cite, not the events themselves (the spec's definition; see the docs).
        for (i, set) in sets.iter().enumerate() {
            for &node in set {
                self.load(node)?;
                let Some(depth) = self.event(node).map(Event::depth) else {
                    continue;
                };
                for target in self.auth[node as usize].clone() {
                    self.load(target)?;
                    if self.event(target).is_none() {
                        continue;
                    }
                    if self.depth(target) >= depth {
                        ordered = false;
                    }
                    grow(&mut masks, self.len());
                    masks[target as usize * words + i / 64] |= 1 << (i % 64);
                    if queued.len() < self.len() {
                        queued.resize(self.len(), false);
                    }
                    if !queued[target as usize] {
                        queued[target as usize] = true;
                        queue.push((self.depth(target), target));
                    }
                }
            }
        }
        let mut partial_queued = queue
            .iter()
            .filter(|(_, node)| !is_full(&masks, *node))
            .count();

        while let Some((depth, node)) = queue.pop() {
            queued[node as usize] = false;
            let node_full = is_full(&masks, node);
            if !node_full {
                partial_queued -= 1;
            }
            if ordered && node_full && partial_queued == 0 {
                break;
            }
            let edges = self.auth[node as usize].clone();
            for target in edges {
                self.load(target)?;
                if self.event(target).is_none() {
                    continue;
                }
                grow(&mut masks, self.len());
                if queued.len() < self.len() {
                    queued.resize(self.len(), false);
                }
                if self.depth(target) >= depth {
                    ordered = false;
                }
                let was_full = is_full(&masks, target);
                let mut changed = false;
                for w in 0..words {
                    let merged =
                        masks[target as usize * words + w] | masks[node as usize * words + w];
                    if merged != masks[target as usize * words + w] {
                        masks[target as usize * words + w] = merged;
                        changed = true;
                    }
                }
                if !changed {
                    continue;
                }
                let now_full = is_full(&masks, target);
                if queued[target as usize] {
                    if !was_full && now_full {
                        partial_queued -= 1;
                    }
                } else {
                    queued[target as usize] = true;
                    if !now_full {
                        partial_queued += 1;
                    }
                    queue.push((self.depth(target), target));
                }
            }
        }

        Ok((0..self.len() as Node)
            .filter(|&node| {
                let mask = masks.get(node as usize * words..(node as usize + 1) * words);
                mask.is_some_and(|m| m.iter().any(|w| *w != 0) && m != &full[..])
            })
            .collect())
    }

    /// The conflicted state subgraph (state resolution v2.1): every event on an `auth_events` path
    /// from one conflicted event to another, endpoints included.
    ///
    /// An event is on such a path exactly when a conflicted event reaches it and it reaches a
    /// conflicted event; computed with one iterative depth-first walk from the conflicted events,
    /// deciding "reaches a conflicted event" in post-order. Cycles (possible only with forged v1/v2
    /// event IDs) are cut where the walk meets a node it is still inside.
    pub(super) fn conflicted_subgraph(&mut self, conflicted: &[Node]) -> Result<Vec<Node>, Error> {
        #[derive(Clone, Copy, PartialEq)]
        enum Visit {
            New,
            Open,
            Done,
        }
        let mut is_conflicted = vec![false; self.len()];
        for &node in conflicted {
            is_conflicted[node as usize] = true;
        }
        let mut visit: Vec<Visit> = vec![Visit::New; self.len()];
        let mut reaches: Vec<bool> = vec![false; self.len()];
        let mut stack: Vec<(Node, usize)> = Vec::new();

        for &root in conflicted {
            if visit[root as usize] != Visit::New {
                continue;
            }
            stack.push((root, 0));
            visit[root as usize] = Visit::Open;
            while let Some((node, next_edge)) = stack.last().copied() {
                self.load(node)?;
                let edges = &self.auth[node as usize];
                if next_edge < edges.len() {
                    let target = edges[next_edge];
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    let len = self.len();
                    if visit.len() < len {
                        visit.resize(len, Visit::New);
                        reaches.resize(len, false);
                        is_conflicted.resize(len, false);
                    }
                    match visit[target as usize] {
                        Visit::New => {
                            visit[target as usize] = Visit::Open;
                            stack.push((target, 0));
                        }
                        Visit::Done
                            if reaches[target as usize] || is_conflicted[target as usize] =>
                        {
                            reaches[node as usize] = true;
                        }
                        _ => {}
                    }
                } else {
                    visit[node as usize] = Visit::Done;
                    stack.pop();
                    let counts = reaches[node as usize] || is_conflicted[node as usize];
                    if counts && let Some(&(parent, _)) = stack.last() {
                        reaches[parent as usize] = true;
                    }
                }
            }
        }
        Ok((0..self.len() as Node)
            .filter(|&node| {
                let n = node as usize;
                visit.get(n) == Some(&Visit::Done) && (reaches[n] || is_conflicted[n])
            })
            .collect())
    }

    /// The `depth` of a loaded event (0 if missing).
    fn depth(&self, node: Node) -> i64 {
        self.event(node).map_or(0, Event::depth)
    }
}
