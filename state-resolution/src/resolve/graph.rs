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
    fetched: Vec<bool>,
    edges_done: Vec<bool>,
    auth: Vec<Vec<Node>>,
}

impl<'s, S: EventSource> Graph<'s, S> {
    pub(super) fn new(source: &'s S) -> Self {
        Self {
            source,
            index: HashMap::new(),
            ids: Vec::new(),
            events: Vec::new(),
            fetched: Vec::new(),
            edges_done: Vec::new(),
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
        self.fetched.push(false);
        self.edges_done.push(false);
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
        let n = node as usize;
        self.fetched[n] = true;
        self.events[n] = Some(event);
        self.load(node)?;
        Ok(Some(node))
    }

    /// Makes sure the node's event has been fetched (it may turn out to be missing), without
    /// interning its auth events yet.
    pub(super) fn fetch(&mut self, node: Node) {
        let n = node as usize;
        if self.fetched[n] {
            return;
        }
        self.fetched[n] = true;
        // An event store that answers with another event is treated as not having it.
        self.events[n] = self
            .source
            .fetch_event(self.ids[n].borrow())
            .filter(|event| event.event_id() == &self.ids[n]);
    }

    /// Makes sure the node's event has been fetched and its auth events interned.
    pub(super) fn load(&mut self, node: Node) -> Result<(), Error> {
        let n = node as usize;
        if self.edges_done[n] {
            return Ok(());
        }
        self.fetch(node);
        self.edges_done[n] = true;
        let auth_ids: Vec<IdOf<S>> = match &self.events[n] {
            Some(event) => event.auth_events().cloned().collect(),
            None => return Ok(()),
        };
        let mut edges = Vec::with_capacity(auth_ids.len());
        for id in &auth_ids {
            let target = self.intern(id)?;
            if !edges.contains(&target) {
                edges.push(target);
            }
        }
        self.auth[n] = edges;
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

    /// The auth difference: the events in the full auth chain of some state set but not of every
    /// set. Set `i` is `unconflicted ∪ conflicted[i]`; its full auth chain is everything its events'
    /// `auth_events` reach — not the state events themselves, unless another event reaches them.
    ///
    /// Walks all sets at once, newest (highest `depth`) first, recording for each event which sets
    /// reach it. The unconflicted events reach on behalf of every set, so their own auth events are
    /// only looked at when the walk gets down to their depth. Once every event still queued would
    /// pass on every set, nothing older can be in the difference and the walk stops: resolving two
    /// recent forks of a huge room only touches the recent part of its auth DAG. The early stop relies
    /// on auth events being older (lower depth) than the events citing them, which holds for every
    /// correctly built event; the walk checks it on every edge it follows and, if a hostile event
    /// breaks it, walks to the end instead, which is exact in any order because reachability is
    /// re-propagated whenever it grows.
    pub(super) fn auth_difference(
        &mut self,
        unconflicted: &[Node],
        conflicted: &[Vec<Node>],
    ) -> Result<Vec<Node>, Error> {
        let sets = conflicted.len();
        let words = sets.div_ceil(64);
        let mut full = vec![0u64; words];
        for i in 0..sets {
            full[i / 64] |= 1 << (i % 64);
        }
        // `chain`: the sets whose full auth chain holds the node. `source`: the sets whose state
        // holds it. A node passes on `chain | source` to its auth events.
        let mut chain: Vec<u64> = Vec::new();
        let mut source: Vec<u64> = Vec::new();
        let mut queued: Vec<bool> = Vec::new();
        let mut queue: BinaryHeap<(i64, Node)> = BinaryHeap::new();
        let grow =
            |len: usize, chain: &mut Vec<u64>, source: &mut Vec<u64>, queued: &mut Vec<bool>| {
                if queued.len() < len {
                    chain.resize(len * words, 0);
                    source.resize(len * words, 0);
                    queued.resize(len, false);
                }
            };
        let passes = |chain: &[u64], source: &[u64], node: Node, w: usize| -> u64 {
            chain[node as usize * words + w] | source[node as usize * words + w]
        };

        grow(self.len(), &mut chain, &mut source, &mut queued);
        for &node in unconflicted {
            source[node as usize * words..][..words].copy_from_slice(&full);
        }
        for (i, nodes) in conflicted.iter().enumerate() {
            for &node in nodes {
                source[node as usize * words + i / 64] |= 1 << (i % 64);
            }
        }
        for &node in unconflicted.iter().chain(conflicted.iter().flatten()) {
            self.fetch(node);
            if let Some(depth) = self.event(node).map(Event::depth)
                && !queued[node as usize]
            {
                queued[node as usize] = true;
                queue.push((depth, node));
            }
        }
        // A queued node is pending while it would pass on a partial mask, or while its own chain mask
        // is partial (it may still grow from older-queued events, and decides membership).
        let is_partial = |chain: &[u64], source: &[u64], node: Node| {
            let own = &chain[node as usize * words..][..words];
            let own_partial = own.iter().any(|w| *w != 0) && own != &full[..];
            own_partial || (0..words).any(|w| passes(chain, source, node, w) != full[w])
        };
        let mut partial_queued = queue
            .iter()
            .filter(|(_, node)| is_partial(&chain, &source, *node))
            .count();
        let mut ordered = true;

        while let Some((depth, node)) = queue.pop() {
            queued[node as usize] = false;
            if is_partial(&chain, &source, node) {
                partial_queued -= 1;
            } else if ordered && partial_queued == 0 {
                break;
            }
            self.load(node)?;
            grow(self.len(), &mut chain, &mut source, &mut queued);
            for e in 0..self.auth[node as usize].len() {
                let target = self.auth[node as usize][e];
                self.fetch(target);
                let Some(target_depth) = self.event(target).map(Event::depth) else {
                    continue;
                };
                if target_depth >= depth {
                    ordered = false;
                }
                let was_partial = is_partial(&chain, &source, target);
                let mut changed = false;
                for w in 0..words {
                    let merged =
                        chain[target as usize * words + w] | passes(&chain, &source, node, w);
                    if merged != chain[target as usize * words + w] {
                        chain[target as usize * words + w] = merged;
                        changed = true;
                    }
                }
                if !changed {
                    continue;
                }
                let now_partial = is_partial(&chain, &source, target);
                if queued[target as usize] {
                    match (was_partial, now_partial) {
                        (true, false) => partial_queued -= 1,
                        (false, true) => partial_queued += 1,
                        _ => {}
                    }
                } else {
                    queued[target as usize] = true;
                    if now_partial {
                        partial_queued += 1;
                    }
                    queue.push((target_depth, target));
                }
            }
        }

        Ok((0..self.len())
            .filter(|&n| {
                chain
                    .get(n * words..(n + 1) * words)
                    .is_some_and(|mask| mask.iter().any(|w| *w != 0) && mask != &full[..])
            })
            .map(|n| n as Node)
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
}
