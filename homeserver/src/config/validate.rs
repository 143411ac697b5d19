//! Checks a parsed [`Config`] for values its TOML type cannot express: grammar of names and URLs, readable
//! files, known room versions, consistent combinations. Every problem is collected so one run shows them all.

use std::path::Path;
use std::time::Duration;

use hearth_types::{RoomVersionRules, ServerName};

use super::{Config, ConfigError};

/// The smallest body limit accepted: one maximum-size PDU (65 536 bytes) must always fit.
const MIN_REQUEST_BODY_BYTES: u64 = 64 * 1024;

/// Other servers use at most 7 days of a key's `valid_until_ts` (spec, "Retrieving server keys"), so a longer
/// validity promises nothing.
const MAX_KEY_VALIDITY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

const SERVER_NAME_GRAMMAR: &str = "expected a hostname, an IPv4 address or a bracketed IPv6 address, \
                                   optionally followed by :port, at most 255 characters (e.g. \"example.org\", \
                                   \"127.0.0.1:8448\", \"[::1]:8448\")";

impl Config {
    /// Checks every value; the error lists each problem prefixed with its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        self.check_server_name(&mut problems);
        self.check_paths(&mut problems);
        self.check_database_url(&mut problems);
        self.check_listen(&mut problems);
        self.check_federation(&mut problems);
        self.check_rooms(&mut problems);
        self.check_well_known(&mut problems);
        self.check_logging(&mut problems);
        self.check_keys(&mut problems);
        self.check_login(&mut problems);
        problems.extend(self.rate_limits.problem());
        self.check_media(&mut problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { problems })
        }
    }

    fn check_server_name(&self, problems: &mut Vec<String>) {
        if let Err(error) = ServerName::parse(&self.server_name) {
            problems.push(format!(
                "server_name `{}` is not a valid server name ({error}); {SERVER_NAME_GRAMMAR}",
                self.server_name
            ));
        }
    }

    fn check_paths(&self, problems: &mut Vec<String>) {
        if self.data_dir.as_os_str().is_empty() {
            problems.push(
                "data_dir must not be empty (use \".\" for the working directory)".to_owned(),
            );
        }
    }

    fn check_database_url(&self, problems: &mut Vec<String>) {
        let url = self.database_url();
        let shown = self.redacted().database.url;
        let shown = if shown.is_empty() { url.clone() } else { shown };
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                problems.push(format!(
                    "database.url `{shown}` names no SQLite file (e.g. sqlite://data/hearth.db)"
                ));
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            if url::Url::parse(&url).is_err() {
                problems.push(format!(
                    "database.url `{shown}` is not a valid PostgreSQL URL"
                ));
            }
        } else {
            problems.push(format!(
                "database.url `{shown}` must start with sqlite:// or postgres:// (or postgresql://)"
            ));
        }
    }

    fn check_listen(&self, problems: &mut Vec<String>) {
        let listen = &self.listen;
        if self.federation.enabled
            && listen.client == listen.federation
            && listen.client.port() != 0
        {
            problems.push(format!(
                "listen.client and listen.federation are both {}; the client API (plain HTTP) and federation \
                 (HTTPS) need different sockets",
                listen.client
            ));
        }
        if listen.max_request_body_bytes < MIN_REQUEST_BODY_BYTES {
            problems.push(format!(
                "listen.max_request_body_bytes = {} is below {MIN_REQUEST_BODY_BYTES}, the size of one maximal event",
                listen.max_request_body_bytes
            ));
        }
    }

    fn check_federation(&self, problems: &mut Vec<String>) {
        let federation = &self.federation;
        if federation.enabled {
            let certificate = &federation.tls_certificate;
            let key = &federation.tls_private_key;
            match (certificate.as_os_str().is_empty(), key.as_os_str().is_empty()) {
                (true, true) => {}
                (false, false) => {
                    check_readable_file("federation.tls_certificate", certificate, problems);
                    check_readable_file("federation.tls_private_key", key, problems);
                }
                _ => problems.push(
                    "federation.tls_certificate and federation.tls_private_key must be set together \
                     (or both left empty to use a generated self-signed certificate)"
                        .to_owned(),
                ),
            }
            if !federation.extra_ca_file.as_os_str().is_empty() {
                check_readable_file(
                    "federation.extra_ca_file",
                    &federation.extra_ca_file,
                    problems,
                );
            }
        }
        for server in &federation.trusted_key_servers {
            if ServerName::parse(server).is_err() {
                problems.push(format!(
                    "federation.trusted_key_servers: `{server}` is not a valid server name; {SERVER_NAME_GRAMMAR}"
                ));
            }
        }
    }

    fn check_rooms(&self, problems: &mut Vec<String>) {
        let version = &self.rooms.default_version;
        if RoomVersionRules::get(version).is_none() {
            let known: Vec<&str> = RoomVersionRules::ALL.iter().map(|rules| rules.id).collect();
            problems.push(format!(
                "rooms.default_version `{version}` is not a room version Hearth implements (known: {})",
                known.join(", ")
            ));
        }
    }

    fn check_well_known(&self, problems: &mut Vec<String>) {
        let client = &self.well_known.client;
        if !client.is_empty() {
            let is_http_url = url::Url::parse(client)
                .map(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
                .unwrap_or(false);
            if !is_http_url {
                problems.push(format!(
                    "well_known.client `{client}` must be an http(s) URL such as https://matrix.example.org"
                ));
            }
        }
        let server = &self.well_known.server;
        if !server.is_empty() && ServerName::parse(server).is_err() {
            problems.push(format!(
                "well_known.server `{server}` must be host[:port] such as matrix.example.org:443"
            ));
        }
    }

    fn check_logging(&self, problems: &mut Vec<String>) {
        if let Err(error) = tracing_subscriber::EnvFilter::builder().parse(&self.logging.level) {
            problems.push(format!(
                "logging.level `{}` is not a log filter ({error}); use a level such as \"info\" or directives such \
                 as \"info,hearth=debug\"",
                self.logging.level
            ));
        }
    }

    fn check_login(&self, problems: &mut Vec<String>) {
        let jwt = &self.login.jwt;
        if !matches!(jwt.algorithm.as_str(), "HS256" | "HS384" | "HS512") {
            problems.push(format!(
                "login.jwt.algorithm `{}`: expected HS256, HS384 or HS512",
                jwt.algorithm
            ));
        }
        if jwt.enabled && jwt.secret.is_empty() {
            problems.push("login.jwt.secret must be set when login.jwt.enabled is true".to_owned());
        }
    }

    fn check_keys(&self, problems: &mut Vec<String>) {
        let valid_for = self.keys.valid_for.as_duration();
        if valid_for.is_zero() {
            problems.push("keys.valid_for must be longer than zero".to_owned());
        } else if valid_for > MAX_KEY_VALIDITY {
            problems.push(format!(
                "keys.valid_for = {} exceeds 7d; other servers never honour more than 7 days",
                self.keys.valid_for
            ));
        }
    }
}

fn check_readable_file(key: &str, path: &Path, problems: &mut Vec<String>) {
    if let Err(error) = std::fs::File::open(path) {
        problems.push(format!("{key}: cannot read {}: {error}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(config: &Config) -> Vec<String> {
        match config.validate() {
            Ok(()) => Vec::new(),
            Err(ConfigError::Invalid { problems }) => problems,
            Err(other) => panic!("unexpected error kind: {other}"),
        }
    }

    fn with(change: impl FnOnce(&mut Config)) -> Vec<String> {
        let mut config = Config::default();
        change(&mut config);
        problems_of(&config)
    }

    #[test]
    fn accepts_hostnames_ip_literals_and_ports_as_server_name() {
        for name in [
            "localhost",
            "example.org",
            "example.org:8448",
            "127.0.0.1:8448",
            "[::1]",
            "[::1]:8448",
        ] {
            assert!(with(|c| c.server_name = name.into()).is_empty(), "{name}");
        }
    }

    #[test]
    fn rejects_bad_server_names_with_the_grammar_in_the_message() {
        for name in [
            "",
            "exa mple.org",
            "example.org:",
            "example.org:99999",
            "::1",
            "user@example.org",
        ] {
            let problems = with(|c| c.server_name = name.into());
            assert_eq!(problems.len(), 1, "{name}: {problems:?}");
            assert!(problems[0].starts_with("server_name"), "{}", problems[0]);
            assert!(
                problems[0].contains("optionally followed by :port"),
                "{}",
                problems[0]
            );
        }
        assert_eq!(with(|c| c.server_name = "a".repeat(256)).len(), 1);
    }

    #[test]
    fn accepts_sqlite_and_postgres_urls() {
        for url in [
            "sqlite://data/hearth.db",
            "sqlite:///var/lib/hearth/hearth.db",
            "sqlite::memory:",
            "postgres://hearth@localhost/hearth",
            "postgresql://hearth:pw@db:5432/hearth",
        ] {
            assert!(with(|c| c.database.url = url.into()).is_empty(), "{url}");
        }
    }

    #[test]
    fn rejects_other_database_schemes_without_leaking_the_password() {
        let problems = with(|c| c.database.url = "mysql://root:hunter2@db/hearth".into());
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].contains("must start with sqlite:// or postgres://"),
            "{}",
            problems[0]
        );
        assert!(!problems[0].contains("hunter2"));
        assert_eq!(with(|c| c.database.url = "sqlite://".into()).len(), 1);
    }

    #[test]
    fn rejects_same_socket_for_client_and_federation() {
        let problems = with(|c| c.listen.federation = c.listen.client);
        assert!(
            problems[0].contains("listen.client and listen.federation"),
            "{problems:?}"
        );
        let mut config = Config::default();
        config.listen.client = "127.0.0.1:0".parse().unwrap();
        config.listen.federation = "127.0.0.1:0".parse().unwrap();
        assert!(
            problems_of(&config).is_empty(),
            "port 0 means two distinct random ports"
        );
    }

    #[test]
    fn rejects_tiny_body_limit() {
        assert_eq!(with(|c| c.listen.max_request_body_bytes = 1000).len(), 1);
    }

    #[test]
    fn tls_files_must_come_in_pairs_and_be_readable() {
        let problems = with(|c| c.federation.tls_certificate = "cert.pem".into());
        assert!(problems[0].contains("must be set together"), "{problems:?}");

        let problems = with(|c| {
            c.federation.tls_certificate = "/nonexistent/cert.pem".into();
            c.federation.tls_private_key = "/nonexistent/key.pem".into();
        });
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0]
                .starts_with("federation.tls_certificate: cannot read /nonexistent/cert.pem")
        );
        assert!(
            problems[1].starts_with("federation.tls_private_key: cannot read /nonexistent/key.pem")
        );

        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert, "x").unwrap();
        std::fs::write(&key, "x").unwrap();
        assert!(
            with(|c| {
                c.federation.tls_certificate = cert;
                c.federation.tls_private_key = key;
            })
            .is_empty()
        );
    }

    #[test]
    fn tls_files_are_not_checked_when_federation_is_disabled() {
        assert!(
            with(|c| {
                c.federation.enabled = false;
                c.federation.tls_certificate = "/nonexistent/cert.pem".into();
            })
            .is_empty()
        );
    }

    #[test]
    fn rejects_unknown_room_version_listing_the_known_ones() {
        let problems = with(|c| c.rooms.default_version = "99".into());
        assert!(
            problems[0].contains("`99`") && problems[0].contains("12"),
            "{problems:?}"
        );
    }

    #[test]
    fn well_known_values_must_be_a_url_and_a_server_name() {
        assert!(with(|c| c.well_known.client = "https://matrix.example.org".into()).is_empty());
        assert_eq!(
            with(|c| c.well_known.client = "matrix.example.org".into()).len(),
            1
        );
        assert_eq!(
            with(|c| c.well_known.client = "ftp://matrix.example.org".into()).len(),
            1
        );
        assert!(with(|c| c.well_known.server = "matrix.example.org:443".into()).is_empty());
        assert_eq!(
            with(|c| c.well_known.server = "https://matrix.example.org".into()).len(),
            1
        );
    }

    #[test]
    fn rejects_bad_log_filter() {
        assert!(with(|c| c.logging.level = "info,hearth=debug".into()).is_empty());
        assert_eq!(with(|c| c.logging.level = "loud=[".into()).len(), 1);
    }

    #[test]
    fn key_validity_must_be_positive_and_at_most_seven_days() {
        assert_eq!(with(|c| c.keys.valid_for = "0s".parse().unwrap()).len(), 1);
        assert_eq!(with(|c| c.keys.valid_for = "8d".parse().unwrap()).len(), 1);
        assert!(with(|c| c.keys.valid_for = "1d".parse().unwrap()).is_empty());
    }

    #[test]
    fn rejects_bad_trusted_key_server() {
        assert_eq!(
            with(
                |c| c.federation.trusted_key_servers = vec!["matrix.org".into(), "bad name".into()]
            )
            .len(),
            1
        );
    }

    #[test]
    fn reports_every_problem_at_once() {
        let error = {
            let mut config = Config {
                server_name: "bad name".into(),
                ..Config::default()
            };
            config.database.url = "mysql://x".into();
            config.validate().unwrap_err().to_string()
        };
        assert!(error.starts_with("invalid configuration:"), "{error}");
        assert!(
            error.contains("  - server_name") && error.contains("  - database.url"),
            "{error}"
        );
    }
}
