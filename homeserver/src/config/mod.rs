//! Configuration: the `config.toml` schema, its built-in defaults, loading (file + `HEARTH_*` environment
//! overrides) and validation.
//!
//! The structs here are the schema users see; every field has a default so an absent file, section or key
//! falls back to a working local setup (DESIGN §5). Unknown keys are errors that name the key. Values that need
//! more than their TOML type to be right (server name grammar, database URL scheme, readable TLS files, …) are
//! checked by [`Config::validate`], which reports every problem at once. `docs/configuration.md` documents each
//! option and must change together with this module.

mod duration;
mod load;
mod media;
mod rate_limits;
mod validate;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use duration::ConfigDuration;
pub use load::{ConfigSource, DEFAULT_CONFIG_PATH, ENV_PREFIX};
pub use media::{MediaConfig, UrlPreviewConfig};
pub use rate_limits::{RateLimit, RateLimitsConfig};

/// Why a configuration could not be loaded; each message names the offending key, file or variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists (or was named explicitly) but could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema (unknown key, wrong type); the message carries the
    /// line and column.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file being parsed.
        path: PathBuf,
        /// toml's message, with position.
        message: String,
    },
    /// A `HEARTH_*` environment variable names an unknown key or holds a value of the wrong type.
    #[error("environment variable {variable}: {message}")]
    Environment {
        /// The variable's name.
        variable: String,
        /// What is wrong with it.
        message: String,
    },
    /// The values parse but do not make a usable configuration; one line per problem.
    #[error("invalid configuration:\n{}", problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// Each problem, prefixed with the key it concerns.
        problems: Vec<String>,
    },
}

/// The whole configuration. Field names are the TOML keys; see `docs/configuration.md`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The name the server is known by in user and room IDs: `hostname[:port]`. Cannot change once users exist.
    pub server_name: String,
    /// Where the signing key, TLS certificate, media and (by default) the SQLite database live.
    pub data_dir: PathBuf,
    /// Listening sockets.
    pub listen: ListenConfig,
    /// Database connection.
    pub database: DatabaseConfig,
    /// Who may create accounts.
    pub registration: RegistrationConfig,
    /// Extra ways to log in.
    pub login: LoginConfig,
    /// Server-server API.
    pub federation: FederationConfig,
    /// Room defaults.
    pub rooms: RoomsConfig,
    /// What the `/.well-known/matrix/*` documents say.
    pub well_known: WellKnownConfig,
    /// Log output.
    pub logging: LoggingConfig,
    /// The server's signing key.
    pub keys: KeysConfig,
    /// Request rate limits (429 `M_LIMIT_EXCEEDED`).
    pub rate_limits: RateLimitsConfig,
    /// The media repository.
    pub media: MediaConfig,
}

/// `[listen]`: addresses, the request body limit and the shutdown grace period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListenConfig {
    /// Plain-HTTP listener for the client-server API (put a TLS proxy in front of it in production).
    pub client: SocketAddr,
    /// HTTPS listener for the server-server API.
    pub federation: SocketAddr,
    /// Largest request body accepted, in bytes; larger requests get 413 `M_TOO_LARGE`.
    pub max_request_body_bytes: u64,
    /// How long shutdown waits for in-flight requests before closing their connections.
    pub shutdown_grace_period: ConfigDuration,
}

/// `[database]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://…`; empty means SQLite at `<data_dir>/hearth.db`.
    pub url: String,
}

/// `[registration]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationConfig {
    /// Anyone may register (`m.login.dummy`).
    pub open: bool,
    /// Registration needs a token (`m.login.registration_token`) created with `hearth admin invite create`.
    pub token_required: bool,
    /// Enables `/_synapse/admin/v1/register` with this HMAC secret when non-empty.
    pub shared_secret: String,
    /// Anyone may create a guest account (`kind=guest`), independently of `open` and `token_required`.
    pub guests: bool,
}

/// `[login]`: login types beyond `m.login.password`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// `org.matrix.login.jwt`.
    pub jwt: JwtLoginConfig,
}

/// `[login.jwt]`: log in (and, on first login, create the account) with a JSON Web Token signed by a trusted
/// issuer; off by default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtLoginConfig {
    /// Whether `org.matrix.login.jwt` is offered and accepted.
    pub enabled: bool,
    /// The HMAC secret the tokens are signed with (required when enabled).
    pub secret: String,
    /// `HS256`, `HS384` or `HS512`.
    pub algorithm: String,
    /// When non-empty, the `iss` claim must equal it.
    pub issuer: String,
}

impl Default for JwtLoginConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            secret: String::new(),
            algorithm: "HS256".to_owned(),
            issuer: String::new(),
        }
    }
}

/// `[federation]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// Whether the federation listener runs and other servers are talked to.
    pub enabled: bool,
    /// PEM certificate chain for the federation listener; empty means a self-signed one under `data_dir/tls/`.
    pub tls_certificate: PathBuf,
    /// PEM private key matching `tls_certificate`; set both or neither.
    pub tls_private_key: PathBuf,
    /// Verify other servers' TLS certificates; `false` only for tests and private federations.
    pub verify_peer_certificates: bool,
    /// Ranges outbound federation may reach even if `denied_ip_ranges` lists them.
    pub allowed_ip_ranges: Vec<IpNet>,
    /// Ranges outbound federation never connects to.
    pub denied_ip_ranges: Vec<IpNet>,
    /// Notary servers asked for other servers' keys; empty means ask each server directly.
    pub trusted_key_servers: Vec<String>,
    /// A PEM file of extra CA certificates trusted for outbound federation besides the built-in roots; empty
    /// means none.
    pub extra_ca_file: PathBuf,
}

/// `[rooms]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomsConfig {
    /// Room version for new rooms when the client does not ask for one.
    pub default_version: String,
}

/// `[well_known]`: the discovery documents served at `/.well-known/matrix/{client,server}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WellKnownConfig {
    /// `m.homeserver.base_url` of the client document; empty means the client document is not served (404).
    pub client: String,
    /// `m.server` of the server document (`host[:port]`); empty means the server name's host with the
    /// federation listener's port.
    pub server: String,
}

/// `[logging]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// A tracing filter: a level (`info`) or directives (`info,hearth=debug`). `RUST_LOG`, when set, wins.
    pub level: String,
    /// Line format.
    pub format: LogFormat,
}

/// How log lines look.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `[keys]`: the federation signing key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Signing key file in Synapse's format; empty means `<data_dir>/signing.key`, generated on first start.
    pub signing_key_path: PathBuf,
    /// How long other servers may cache our key (`valid_until_ts` = now + this).
    pub valid_for: ConfigDuration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server_name: "localhost".to_owned(),
            data_dir: PathBuf::from("./data"),
            listen: ListenConfig::default(),
            database: DatabaseConfig::default(),
            registration: RegistrationConfig::default(),
            login: LoginConfig::default(),
            federation: FederationConfig::default(),
            rooms: RoomsConfig::default(),
            well_known: WellKnownConfig::default(),
            logging: LoggingConfig::default(),
            keys: KeysConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            media: MediaConfig::default(),
        }
    }
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            client: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8008)),
            federation: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8448)),
            max_request_body_bytes: 10 * 1024 * 1024,
            shutdown_grace_period: ConfigDuration::from_secs(10),
        }
    }
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            open: false,
            token_required: true,
            shared_secret: String::new(),
            guests: false,
        }
    }
}

/// Private and special-purpose ranges outbound federation must not reach by default (SSRF protection).
const DEFAULT_DENIED_IP_RANGES: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "0.0.0.0/8",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
];

impl Default for FederationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            tls_certificate: PathBuf::new(),
            tls_private_key: PathBuf::new(),
            verify_peer_certificates: true,
            allowed_ip_ranges: Vec::new(),
            denied_ip_ranges: DEFAULT_DENIED_IP_RANGES
                .iter()
                .filter_map(|range| range.parse().ok())
                .collect(),
            trusted_key_servers: Vec::new(),
            extra_ca_file: PathBuf::new(),
        }
    }
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self {
            default_version: hearth_types::RoomVersionRules::DEFAULT.id.to_owned(),
        }
    }
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            signing_key_path: PathBuf::new(),
            valid_for: ConfigDuration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

impl Config {
    /// The database URL to open: the configured one, or SQLite at `<data_dir>/hearth.db`.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("hearth.db").display())
        } else {
            self.database.url.clone()
        }
    }

    /// The signing key file: the configured path, or `<data_dir>/signing.key`.
    pub fn signing_key_path(&self) -> PathBuf {
        if self.keys.signing_key_path.as_os_str().is_empty() {
            self.data_dir.join("signing.key")
        } else {
            self.keys.signing_key_path.clone()
        }
    }

    /// Directory for the generated self-signed federation certificate.
    pub fn generated_tls_dir(&self) -> PathBuf {
        self.data_dir.join("tls")
    }

    /// Whether the operator supplied a certificate (otherwise one is generated).
    pub fn has_configured_tls_certificate(&self) -> bool {
        !self.federation.tls_certificate.as_os_str().is_empty()
    }

    /// The `m.server` value of `/.well-known/matrix/server`: configured, or the server name's host with
    /// `federation_port` (the bound port of the federation listener, which differs from the configured one when
    /// that is 0).
    pub fn well_known_server(&self, federation_port: u16) -> String {
        if !self.well_known.server.is_empty() {
            return self.well_known.server.clone();
        }
        let host = match hearth_types::ServerName::parse(&self.server_name) {
            Ok(name) => name.host().to_owned(),
            Err(_) => self.server_name.clone(),
        };
        format!("{host}:{federation_port}")
    }

    /// A copy safe to print: secrets replaced by a marker.
    pub fn redacted(&self) -> Config {
        let mut copy = self.clone();
        if !copy.registration.shared_secret.is_empty() {
            copy.registration.shared_secret = "<redacted>".to_owned();
        }
        if !copy.login.jwt.secret.is_empty() {
            copy.login.jwt.secret = "<redacted>".to_owned();
        }
        if let Some(redacted) = redact_url_password(&copy.database.url) {
            copy.database.url = redacted;
        }
        copy
    }

    /// The effective configuration as TOML (secrets redacted), for `hearth config check`.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(&self.redacted())
            .unwrap_or_else(|error| format!("# cannot render the configuration: {error}\n"))
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:<redacted>@host/db`; `None` when there is no password.
fn redact_url_password(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, tail) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    let (userinfo, host) = authority.rsplit_once('@')?;
    let (user, _password) = userinfo.split_once(':')?;
    Some(format!("{scheme}://{user}:<redacted>@{host}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_local_setup_of_the_design() {
        let config = Config::default();
        assert_eq!(config.server_name, "localhost");
        assert_eq!(config.listen.client.to_string(), "127.0.0.1:8008");
        assert_eq!(config.listen.federation.to_string(), "127.0.0.1:8448");
        assert_eq!(config.database_url(), "sqlite://./data/hearth.db");
        assert_eq!(
            config.signing_key_path(),
            PathBuf::from("./data/signing.key")
        );
        assert!(config.federation.enabled);
        assert!(config.registration.token_required);
        assert_eq!(config.rooms.default_version, "12");
        assert_eq!(config.keys.valid_for.as_duration().as_secs(), 7 * 24 * 3600);
        assert_eq!(
            config.federation.denied_ip_ranges.len(),
            DEFAULT_DENIED_IP_RANGES.len()
        );
    }

    #[test]
    fn defaults_pass_validation() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn well_known_server_defaults_to_host_and_federation_port() {
        let mut config = Config {
            server_name: "example.org".into(),
            ..Config::default()
        };
        assert_eq!(config.well_known_server(8448), "example.org:8448");
        config.server_name = "[::1]:9000".into();
        assert_eq!(config.well_known_server(8449), "[::1]:8449");
        config.well_known.server = "fed.example.org:443".into();
        assert_eq!(config.well_known_server(8449), "fed.example.org:443");
    }

    #[test]
    fn database_url_follows_data_dir_when_unset() {
        let mut config = Config {
            data_dir: PathBuf::from("/var/lib/hearth"),
            ..Config::default()
        };
        assert_eq!(config.database_url(), "sqlite:///var/lib/hearth/hearth.db");
        config.database.url = "postgres://hearth@db/hearth".into();
        assert_eq!(config.database_url(), "postgres://hearth@db/hearth");
    }

    #[test]
    fn redacted_copy_hides_shared_secret_and_database_password() {
        let mut config = Config::default();
        config.registration.shared_secret = "s3cret".into();
        config.login.jwt.secret = "jwt-s3cret".into();
        config.database.url = "postgres://hearth:pw@db:5432/hearth".into();
        let printed = config.to_redacted_toml();
        assert!(!printed.contains("s3cret"));
        assert!(!printed.contains("jwt-s3cret"));
        assert!(!printed.contains(":pw@"));
        assert!(printed.contains("postgres://hearth:<redacted>@db:5432/hearth"));
    }

    #[test]
    fn redacted_toml_parses_back_into_the_schema() {
        let printed = Config::default().to_redacted_toml();
        let parsed: Config = toml::from_str(&printed).unwrap();
        assert_eq!(parsed, Config::default());
    }
}
