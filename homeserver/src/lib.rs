//! Hearth homeserver library: storage, services and HTTP handlers behind the `hearth` binary.

pub mod storage;
