//! What guest accounts (`kind=guest` registration) may call: the spec's list ("Guest Access", client
//! behaviour) — reading rooms, `/sync`, joining, leaving, sending, their display name, devices, whoami, E2EE
//! keys, media downloads — plus logout and filters (clients need a filter to sync). Everything else answers 403
//! `M_GUEST_ACCESS_FORBIDDEN`; the access-token extractor asks [`guest_may_call`].

use axum::http::Method;

/// `(method, path after the version prefix)` with every path parameter written `{}`.
const GUEST_ENDPOINTS: &[(&str, &str)] = &[
    ("GET", "/rooms/{}/state"),
    ("GET", "/rooms/{}/context/{}"),
    ("GET", "/rooms/{}/event/{}"),
    ("GET", "/rooms/{}/state/{}/{}"),
    ("GET", "/rooms/{}/state/{}/"),
    ("GET", "/rooms/{}/messages"),
    ("GET", "/rooms/{}/members"),
    ("GET", "/rooms/{}/initialSync"),
    ("GET", "/sync"),
    ("GET", "/events"),
    ("GET", "/media/download/{}/{}"),
    ("GET", "/media/download/{}/{}/{}"),
    ("GET", "/media/thumbnail/{}/{}"),
    ("POST", "/rooms/{}/join"),
    ("POST", "/join/{}"),
    ("POST", "/rooms/{}/leave"),
    ("PUT", "/rooms/{}/send/{}/{}"),
    ("PUT", "/rooms/{}/state/{}/{}"),
    ("PUT", "/rooms/{}/state/{}/"),
    ("PUT", "/sendToDevice/{}/{}"),
    ("PUT", "/profile/{}/displayname"),
    ("DELETE", "/profile/{}/displayname"),
    ("GET", "/devices"),
    ("GET", "/devices/{}"),
    ("PUT", "/devices/{}"),
    ("GET", "/account/whoami"),
    ("POST", "/keys/upload"),
    ("POST", "/keys/query"),
    ("POST", "/keys/claim"),
    ("POST", "/logout"),
    ("POST", "/logout/all"),
    ("POST", "/user/{}/filter"),
    ("GET", "/user/{}/filter/{}"),
];

/// The version prefixes routes are registered under.
const PREFIXES: &[&str] = &[
    "/_matrix/client/v3",
    "/_matrix/client/r0",
    "/_matrix/client/v1",
];

/// Whether a guest may call the route registered as `route` (axum's matched path, e.g.
/// `/_matrix/client/v3/rooms/{room}/send/{event_type}/{txn}`) with `method`.
pub fn guest_may_call(method: &Method, route: &str) -> bool {
    let Some(path) = PREFIXES
        .iter()
        .find_map(|prefix| route.strip_prefix(prefix))
    else {
        return false;
    };
    let path = without_parameter_names(path);
    GUEST_ENDPOINTS
        .iter()
        .any(|(allowed_method, allowed_path)| {
            method.as_str() == *allowed_method && *allowed_path == path
        })
}

fn without_parameter_names(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_parameter = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_parameter = true;
                out.push_str("{}");
            }
            '}' => in_parameter = false,
            _ if in_parameter => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specs_guest_endpoints_are_allowed_and_others_are_not() {
        assert!(guest_may_call(
            &Method::PUT,
            "/_matrix/client/v3/rooms/{room}/send/{event_type}/{txn}"
        ));
        assert!(guest_may_call(&Method::GET, "/_matrix/client/r0/sync"));
        assert!(guest_may_call(
            &Method::GET,
            "/_matrix/client/v1/media/download/{server}/{media}"
        ));
        assert!(!guest_may_call(
            &Method::POST,
            "/_matrix/client/v3/createRoom"
        ));
        assert!(!guest_may_call(
            &Method::PUT,
            "/_matrix/client/v3/profile/{user_id}/avatar_url"
        ));
        assert!(!guest_may_call(
            &Method::GET,
            "/_matrix/client/v3/rooms/{room}/send/{event_type}/{txn}"
        ));
        assert!(!guest_may_call(&Method::GET, "/elsewhere/sync"));
    }
}
