//! Account management: identity of the caller, registration, login, passwords, devices, profiles.

pub mod whoami;
