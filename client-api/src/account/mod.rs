//! Account management: identity of the caller, registration, login, passwords, devices, profiles.

pub mod devices;
pub mod login;
pub mod password;
pub mod profile;
pub mod register;
pub mod uia;
pub mod whoami;
