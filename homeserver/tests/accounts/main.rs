//! Accounts over real HTTP on both backends: access-token authentication, registration, login, devices,
//! profile, shared-secret registration, and the admin CLI.

mod cli;
mod common;
mod deactivate;
mod devices;
mod guests;
mod login;
mod profile;
mod rate_limits;
mod register;
mod shared_secret;
mod tokens;
