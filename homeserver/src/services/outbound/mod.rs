//! The federation sender: everything this server sends to other servers on its own initiative, through one
//! persisted queue per destination.
//!
//! - **PDUs** follow the event stream. The rooms service signals after every commit; the fan-out task reads
//!   the local events after its persisted position, queues each for every other server with a joined member
//!   in its room (plus the target's server of a membership event: invitee, kicked or banned user) and moves
//!   the position — in one transaction, so a crash between a commit and the fan-out loses nothing.
//! - **EDUs** (typing, receipts, presence here; to-device and device lists through [`FederationSender::send_edu`])
//!   are queued directly, with an optional expiry for the ones that go stale.
//! - One task per destination sends its queue as transactions (≤ 50 PDUs, ≤ 100 EDUs, one in flight), deletes
//!   what was answered, and backs off exponentially (capped) after failures, with the retry state stored so a
//!   restart resumes it. Destinations are independent tasks with bounded request times, so a dead server never
//!   delays a live one. A request signed by a server we are backing off from proves it is back: its backoff
//!   is cleared and its queue sent at once ([`FederationSender::peer_is_up`], as Synapse does).
//!
//! Dependencies: storage and a [`TransactionTransport`] (the federation client); no other service. The rooms
//! service only holds the fan-out signal ([`FederationSender::events_persisted_signal`]).

mod destination;
mod edus;
mod fanout;
pub mod transport;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hearth_federation::outbound::Backoff;
use hearth_types::{ServerName, UserId};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::storage::{Storage, StorageError};

pub use transport::{BoxFuture, TransactionTransport, encode_path_segment};

/// Why an EDU could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The queue could not be written.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The EDU does not serialise to JSON.
    #[error("EDU does not serialise: {0}")]
    Edu(#[from] serde_json::Error),
}

/// Timing of the sender.
#[derive(Clone, Copy, Debug)]
pub struct SenderSettings {
    /// The wait after consecutive failures of a destination.
    pub backoff: Backoff,
    /// Longest time one transaction may take, answer included; a slower peer counts as failed.
    pub request_timeout: Duration,
}

impl Default for SenderSettings {
    /// The crate's default backoff (5 s doubling to 1 h) and 60 s per transaction.
    fn default() -> Self {
        Self {
            backoff: Backoff::default(),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// The federation sender. Cheap to clone.
#[derive(Clone)]
pub struct FederationSender {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FederationSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationSender")
            .field("server_name", &self.inner.server_name)
            .finish_non_exhaustive()
    }
}

struct Inner {
    storage: Storage,
    server_name: ServerName,
    transport: Arc<dyn TransactionTransport>,
    settings: SenderSettings,
    /// The wake-up of each destination's task; a destination has a task once it has an entry.
    queues: Mutex<HashMap<ServerName, Arc<Notify>>>,
    /// Destinations whose task is waiting out a backoff (kept by the tasks themselves).
    backing_off: Mutex<HashSet<ServerName>>,
    /// Signalled after local events were persisted.
    fanout_wake: Arc<Notify>,
    /// Every spawned task, aborted by [`FederationSender::shutdown`].
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl FederationSender {
    /// A sender for `server_name` over `storage`, delivering through `transport`. Nothing runs until
    /// [`start`](Self::start).
    pub fn new(
        storage: Storage,
        server_name: ServerName,
        transport: Arc<dyn TransactionTransport>,
        settings: SenderSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                storage,
                server_name,
                transport,
                settings,
                queues: Mutex::new(HashMap::new()),
                backing_off: Mutex::new(HashSet::new()),
                fanout_wake: Arc::new(Notify::new()),
                tasks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Starts the fan-out task and resumes every destination with a non-empty queue (after a restart).
    pub async fn start(&self) -> Result<(), StorageError> {
        let inner = self.inner.clone();
        self.inner.track(tokio::spawn(fanout::run(inner)));
        self.inner.fanout_wake.notify_one();
        for destination in self.inner.storage.destinations_with_queue().await? {
            match ServerName::parse(&destination) {
                Ok(destination) => self.inner.wake_destination(&destination),
                Err(error) => {
                    tracing::warn!(%destination, %error, "queued destination is not a server name")
                }
            }
        }
        Ok(())
    }

    /// Stops every task. Unsent items stay queued; a transaction cut off mid-flight is sent again (with the
    /// same transaction ID) after the next start.
    pub fn shutdown(&self) {
        let tasks = std::mem::take(
            &mut *self
                .inner
                .tasks
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for task in tasks {
            task.abort();
        }
    }

    /// The signal the rooms service raises after persisting a local event.
    pub fn events_persisted_signal(&self) -> Arc<Notify> {
        self.inner.fanout_wake.clone()
    }

    /// Runs the fan-out soon (for writers outside the rooms service, e.g. a join imported from another server).
    pub fn wake_fanout(&self) {
        self.inner.fanout_wake.notify_one();
    }

    /// `origin` just made a request to us that its signature proves (any federation endpoint): it is up.
    /// If its queue is waiting out a backoff, the backoff is cleared and the queue sent now, so a server that
    /// comes back after an outage gets what it missed within moments of talking to us again, not after a
    /// backoff of up to an hour. Costs nothing for a destination that is not backing off (no storage access
    /// on the request path).
    pub fn peer_is_up(&self, origin: &ServerName) {
        let was_backing_off = self
            .inner
            .backing_off
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(origin);
        if !was_backing_off {
            return;
        }
        let inner = self.inner.clone();
        let origin = origin.clone();
        self.inner.track(tokio::spawn(async move {
            match inner.storage.reset_destination_backoff(origin.as_str()).await {
                Ok(()) => {
                    tracing::info!(destination = %origin, "peer reached us; retrying its queue now");
                    inner.wake_destination(&origin);
                }
                Err(error) => {
                    tracing::warn!(destination = %origin, %error, "cannot clear a destination's backoff")
                }
            }
        }));
    }

    /// The other servers with a user joined to `room_id`.
    pub async fn servers_in_room(
        &self,
        room_id: &str,
    ) -> Result<BTreeSet<ServerName>, StorageError> {
        self.inner.servers_in_room(room_id).await
    }

    /// The server name this sender signs as.
    pub fn server_name(&self) -> &ServerName {
        &self.inner.server_name
    }

    /// Retry state and queue length of a destination (admin, tests).
    pub async fn destination_status(
        &self,
        destination: &ServerName,
    ) -> Result<(crate::storage::DestinationRetry, i64), StorageError> {
        let storage = &self.inner.storage;
        Ok((
            storage.destination_retry(destination.as_str()).await?,
            storage.outbound_queue_len(destination.as_str()).await?,
        ))
    }
}

impl Inner {
    fn track(&self, task: JoinHandle<()>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.retain(|task| !task.is_finished());
        tasks.push(task);
    }

    /// Records whether `destination`'s task is waiting out a backoff.
    fn set_backing_off(&self, destination: &ServerName, backing_off: bool) {
        let mut set = self
            .backing_off
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if backing_off {
            set.insert(destination.clone());
        } else {
            set.remove(destination);
        }
    }

    /// Wakes `destination`'s task, starting it on first use. Tasks live as long as the sender (an idle one
    /// costs a parked future).
    fn wake_destination(self: &Arc<Self>, destination: &ServerName) {
        if *destination == self.server_name {
            return;
        }
        let (wake, new) = {
            let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
            match queues.get(destination) {
                Some(wake) => (wake.clone(), false),
                None => {
                    let wake = Arc::new(Notify::new());
                    queues.insert(destination.clone(), wake.clone());
                    (wake, true)
                }
            }
        };
        if new {
            let task = destination::run(self.clone(), destination.clone(), wake.clone());
            self.track(tokio::spawn(task));
        }
        wake.notify_one();
    }

    /// The other servers with a user joined to `room_id`.
    async fn servers_in_room(&self, room_id: &str) -> Result<BTreeSet<ServerName>, StorageError> {
        let mut servers = BTreeSet::new();
        for user in self.storage.joined_user_ids(room_id).await? {
            if let Ok(user) = UserId::parse(&user) {
                servers.insert(user.server_name().clone());
            }
        }
        servers.remove(&self.server_name);
        Ok(servers)
    }
}

/// Wall-clock milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    i64::try_from(crate::signing_key::now_millis()).unwrap_or(i64::MAX)
}
