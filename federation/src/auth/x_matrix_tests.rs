use super::*;
use serde_json::json;

fn name(s: &str) -> ServerName {
    match ServerName::parse(s) {
        Ok(n) => n,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn key(version: &str, seed: u8) -> SigningKey {
    match SigningKey::from_seed(version, &[seed; 32]) {
        Ok(k) => k,
        Err(e) => panic!("{e}"),
    }
}

fn parsed(header: &str) -> XMatrix {
    match XMatrix::parse(header) {
        Ok(h) => h,
        Err(e) => panic!("{header}: {e}"),
    }
}

/// Runs a future that never waits (the key lookups in these tests answer at once).
fn block_on<F: Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread().build();
    match runtime {
        Ok(rt) => rt.block_on(future),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn parses_the_spec_example_header() {
    let h = parsed(
        r#"X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF...""#,
    );
    assert_eq!(h.origin, "origin.hs.example.com");
    assert_eq!(
        h.destination.as_ref().map(ServerName::as_str),
        Some("destination.hs.example.com")
    );
    assert_eq!(h.key.as_str(), "ed25519:key1");
    assert_eq!(h.sig, "ABCDEF...");
}

#[test]
fn scheme_and_parameter_names_are_case_insensitive_and_order_free() {
    let h =
        parsed(r#"x-matrix SIG="abc",Key="ed25519:1",DeStInAtIoN="b.example",ORIGIN="a.example""#);
    assert_eq!(h.origin, "a.example");
    assert_eq!(h.key.as_str(), "ed25519:1");
    assert_eq!(h.sig, "abc");
    assert_eq!(
        h.destination.map(|d| d.to_string()).as_deref(),
        Some("b.example")
    );
}

#[test]
fn accepts_unquoted_values_including_colons_and_slashes() {
    let h = parsed("X-Matrix origin=a.example:8448,key=ed25519:a_b,sig=ab+c/d");
    assert_eq!(h.origin, "a.example:8448");
    assert_eq!(h.key.as_str(), "ed25519:a_b");
    assert_eq!(h.sig, "ab+c/d");
    assert_eq!(h.destination, None);
}

#[test]
fn unescapes_quoted_values() {
    let h = parsed(r#"X-Matrix origin="a.ex\ample",key="ed25519:1",sig="x\"y\\z""#);
    assert_eq!(h.origin, "a.example");
    assert_eq!(h.sig, r#"x"y\z"#);
}

#[test]
fn allows_spaces_tabs_and_empty_elements_around_commas() {
    let h = parsed("X-Matrix   origin=\"a.example\" ,\t key = \"ed25519:1\" ,, sig=\"s\" , ");
    assert_eq!((h.origin.as_str(), h.sig.as_str()), ("a.example", "s"));
}

#[test]
fn ignores_unknown_parameters() {
    let h = parsed(r#"X-Matrix origin="a.example",future="x y",key="ed25519:1",sig="s""#);
    assert_eq!(h.sig, "s");
}

#[test]
fn rejects_duplicate_parameters_even_in_different_case() {
    for header in [
        r#"X-Matrix origin="a.example",Origin="b.example",key="ed25519:1",sig="s""#,
        r#"X-Matrix origin="a.example",key="ed25519:1",sig="s",sig="t""#,
        r#"X-Matrix origin="a.example",destination="b",destination="b",key="ed25519:1",sig="s""#,
    ] {
        assert!(
            matches!(
                XMatrix::parse(header),
                Err(Error::DuplicateAuthorizationParameter(_))
            ),
            "{header}"
        );
    }
}

#[test]
fn rejects_missing_required_parameters() {
    for (header, missing) in [
        (r#"X-Matrix key="ed25519:1",sig="s""#, "origin"),
        (r#"X-Matrix origin="a.example",sig="s""#, "key"),
        (r#"X-Matrix origin="a.example",key="ed25519:1""#, "sig"),
    ] {
        assert!(
            matches!(XMatrix::parse(header), Err(Error::MissingAuthorizationParameter(m)) if m == missing),
            "{header}"
        );
    }
}

#[test]
fn rejects_other_schemes_and_malformed_headers() {
    assert!(matches!(
        XMatrix::parse("Bearer abc"),
        Err(Error::MissingAuthorization)
    ));
    assert!(matches!(
        XMatrix::parse(""),
        Err(Error::MissingAuthorization)
    ));
    for header in [
        "X-Matrix",
        "X-Matrix\torigin=a,key=ed25519:1,sig=s",
        r#"X-Matrix origin="a.example,key="ed25519:1",sig="s""#,
        r#"X-Matrix origin="a.example" key="ed25519:1",sig="s""#,
        r#"X-Matrix origin=,key="ed25519:1",sig="s""#,
        r#"X-Matrix =x,origin="a",key="ed25519:1",sig="s""#,
        r#"X-Matrix origin="bad name!",key="ed25519:1",sig="s""#,
        r#"X-Matrix origin="a",key="nocolon",sig="s""#,
        "X-Matrix origin=\"a\u{1}\",key=\"ed25519:1\",sig=\"s\"",
    ] {
        assert!(
            matches!(
                XMatrix::parse(header),
                Err(Error::MalformedAuthorization(_))
            ),
            "{header}"
        );
    }
}

#[test]
fn formats_in_the_compatible_form_and_round_trips() {
    let h =
        parsed(r#"x-matrix ORIGIN=a.example,destination=b.example:8448,key=ed25519:k,sig=c2ln"#);
    let value = h.to_header_value();
    assert_eq!(
        value,
        r#"X-Matrix origin="a.example",destination="b.example:8448",key="ed25519:k",sig="c2ln""#
    );
    assert_eq!(parsed(&value), h);
}

#[test]
fn request_object_has_the_spec_fields_and_content_only_when_given() {
    let (a, b) = (name("a.example"), name("b.example"));
    assert_eq!(
        request_object("GET", "/_matrix/x?y=1", &a, &b, None),
        json!({"method": "GET", "uri": "/_matrix/x?y=1", "origin": "a.example", "destination": "b.example"})
    );
    let body = json!({"k": [1]});
    assert_eq!(
        request_object("PUT", "/p", &a, &b, Some(&body))["content"],
        body
    );
}

struct Fixture {
    origin: ServerName,
    ours: ServerName,
    key: SigningKey,
}

impl Fixture {
    fn new() -> Self {
        Self {
            origin: name("origin.example"),
            ours: name("dest.example:8448"),
            key: key("k1", 9),
        }
    }

    fn header(&self, method: &str, uri: &str, content: Option<&Value>) -> String {
        match sign_request(&self.key, &self.origin, &self.ours, method, uri, content) {
            Ok(h) => h.to_header_value(),
            Err(e) => panic!("{e}"),
        }
    }

    /// Authenticates with a lookup that knows only `origin.example`'s `ed25519:k1`.
    fn authenticate(
        &self,
        method: &str,
        uri: &str,
        content: Option<&Value>,
        header: &str,
    ) -> Result<ServerName, Error> {
        let known = self.key.verify_key();
        let origin = self.origin.clone();
        block_on(authenticate_request(
            method,
            uri,
            content,
            header,
            &self.ours,
            |server, key_id| async move {
                (server == origin && key_id.as_str() == "ed25519:k1").then_some(known)
            },
        ))
    }
}

#[test]
fn a_signed_request_authenticates_as_its_origin() {
    let f = Fixture::new();
    let body = json!({"pdus": [], "edus": []});
    let uri = "/_matrix/federation/v1/send/1?x=%20y";
    let header = f.header("PUT", uri, Some(&body));
    assert_eq!(
        f.authenticate("PUT", uri, Some(&body), &header).ok(),
        Some(f.origin.clone())
    );
    let get = f.header("GET", "/_matrix/federation/v1/version", None);
    assert!(
        f.authenticate("GET", "/_matrix/federation/v1/version", None, &get)
            .is_ok()
    );
}

#[test]
fn tampered_method_uri_query_or_body_fails_with_bad_signature() {
    let f = Fixture::new();
    let body = json!({"a": 1});
    let uri = "/_matrix/federation/v1/query/profile?user_id=%40a%3Ab&field=displayname";
    let header = f.header("POST", uri, Some(&body));
    let cases: [(&str, &str, Option<Value>); 5] = [
        ("PUT", uri, Some(body.clone())),
        (
            "POST",
            "/_matrix/federation/v1/query/profile?user_id=%40a%3Ab",
            Some(body.clone()),
        ),
        (
            "POST",
            "/_matrix/federation/v1/query/profile",
            Some(body.clone()),
        ),
        ("POST", uri, Some(json!({"a": 2}))),
        ("POST", uri, None),
    ];
    for (method, uri, content) in cases {
        assert!(
            matches!(
                f.authenticate(method, uri, content.as_ref(), &header),
                Err(Error::BadSignature { .. })
            ),
            "{method} {uri} {content:?}"
        );
    }
}

#[test]
fn a_header_claiming_another_origin_fails_verification() {
    let f = Fixture::new();
    // An attacker signs with its own key but claims to be origin.example (whose real key is known).
    let attacker = key("k1", 66);
    let forged = match sign_request(&attacker, &f.origin, &f.ours, "GET", "/_matrix/x", None) {
        Ok(h) => h.to_header_value(),
        Err(e) => panic!("{e}"),
    };
    assert!(matches!(
        f.authenticate("GET", "/_matrix/x", None, &forged),
        Err(Error::BadSignature { .. })
    ));
    // A genuine header with its origin rewritten to another server finds no key for that server.
    let genuine = f.header("GET", "/_matrix/x", None);
    let renamed = genuine.replace("origin.example", "victim.example");
    assert!(matches!(
        f.authenticate("GET", "/_matrix/x", None, &renamed),
        Err(Error::UnknownKey { .. })
    ));
}

#[test]
fn rejects_requests_for_another_destination() {
    let f = Fixture::new();
    let other = name("other.example");
    let signed = sign_request(&f.key, &f.origin, &other, "GET", "/_matrix/x", None);
    let Ok(header) = signed else {
        panic!("signing failed")
    };
    assert!(matches!(
        f.authenticate("GET", "/_matrix/x", None, &header.to_header_value()),
        Err(Error::DestinationMismatch)
    ));
    // Without the destination parameter (old senders) the signature still covers the destination.
    let stripped = XMatrix {
        destination: None,
        ..header
    };
    assert!(matches!(
        f.authenticate("GET", "/_matrix/x", None, &stripped.to_header_value()),
        Err(Error::BadSignature { .. })
    ));
}

#[test]
fn accepts_headers_without_destination_from_older_senders() {
    let f = Fixture::new();
    let Ok(header) = sign_request(&f.key, &f.origin, &f.ours, "GET", "/_matrix/x", None) else {
        panic!("signing failed")
    };
    let old_style = XMatrix {
        destination: None,
        ..header
    };
    assert!(
        f.authenticate("GET", "/_matrix/x", None, &old_style.to_header_value())
            .is_ok()
    );
}

#[test]
fn unknown_key_ids_and_garbage_signatures_are_unauthorized() {
    let f = Fixture::new();
    let header = f
        .header("GET", "/_matrix/x", None)
        .replace("ed25519:k1", "ed25519:k2");
    let err = f.authenticate("GET", "/_matrix/x", None, &header);
    assert!(matches!(err, Err(Error::UnknownKey { .. })));
    let garbage = r#"X-Matrix origin="origin.example",key="ed25519:k1",sig="!!!""#;
    let err = f.authenticate("GET", "/_matrix/x", None, garbage);
    assert!(matches!(&err, Err(Error::BadSignature { .. })));
    assert_eq!(
        err.err().map(|e| (e.status(), e.errcode())),
        Some((401, "M_UNAUTHORIZED"))
    );
}

proptest::proptest! {
    #[test]
    fn parsing_arbitrary_headers_never_panics(header in "\\PC{0,200}") {
        let _ = XMatrix::parse(&header);
        let _ = XMatrix::parse(&format!("X-Matrix {header}"));
    }

    #[test]
    fn formatted_headers_parse_back(sig in "[A-Za-z0-9+/]{1,90}", version in "[A-Za-z0-9_]{1,10}") {
        let header = XMatrix {
            origin: name("a.example:8448"),
            destination: Some(name("[::1]:1")),
            key: match KeyId::parse(&format!("ed25519:{version}")) { Ok(k) => k, Err(e) => panic!("{e}") },
            sig,
        };
        proptest::prop_assert_eq!(XMatrix::parse(&header.to_header_value()).ok(), Some(header));
    }
}
