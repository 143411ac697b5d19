//! The sync section of the client-server API: filters (`/user/{userId}/filter`) and the `/sync` response.

pub mod filter;
