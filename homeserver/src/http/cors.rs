//! CORS for the client API: browsers run Matrix clients from any origin, so every client endpoint allows any
//! origin and the headers clients send (spec, "Web Browser Clients").

use axum::http::{HeaderName, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The CORS layer of the client listener: `Access-Control-Allow-Origin: *`, the methods the client API uses and
/// the headers clients send, `Authorization` included.
pub fn client_cors_layer() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            HeaderName::from_static("x-requested-with"),
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
        ])
}
