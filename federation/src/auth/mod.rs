//! Request authentication between servers (spec: "Request Authentication"): the `X-Matrix`
//! `Authorization` header, the signed request object it covers, and verification of inbound requests.

pub mod x_matrix;

pub use x_matrix::{XMatrix, authenticate_request, request_object, sign_request};
