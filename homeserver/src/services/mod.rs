//! Services: the server's logic between the HTTP handlers and storage, one module per concern. Each service takes
//! what it needs as struct fields (storage, notifier, keys, other services) — no global locator — and the
//! dependencies between services form a DAG (see each module's comment).

pub mod account_data;
pub mod accounts;
pub mod e2ee;
pub mod federation;
pub mod keys;
pub mod media;
pub mod outbound;
pub mod remote;
pub mod rooms;
pub mod sync;
