//! Loading a [`Config`]: the file (or built-in defaults), then `HEARTH_*` environment overrides, then validation.
//!
//! Environment variables are typed by the default configuration: `HEARTH_DATABASE__URL` sets `database.url`, a
//! string, verbatim; `HEARTH_FEDERATION__ENABLED` must be `true`/`false`; list values are either a TOML array
//! (`["127.0.0.0/8"]`) or comma-separated. A variable whose first segment is not a top-level key and that has no
//! `__` (such as `HEARTH_TEST_PYTHON`) belongs to something else and is ignored; `HEARTH_<SECTION>__<KEY>` with
//! an unknown section or key is an error, so typos do not pass silently.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Table, Value};

use super::{Config, ConfigError};

/// The file read when `--config` is not given; if it does not exist, built-in defaults apply.
pub const DEFAULT_CONFIG_PATH: &str = "config.toml";

/// Prefix of environment variables that override config keys.
pub const ENV_PREFIX: &str = "HEARTH_";

/// Separator between section and key in an override variable (`HEARTH_DATABASE__URL`).
const ENV_SECTION_SEPARATOR: &str = "__";

/// Where the loaded configuration came from, for the start-up log and `hearth config check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// Read from this file.
    File(PathBuf),
    /// No file: `config.toml` did not exist in the working directory.
    BuiltInDefaults,
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::File(path) => write!(f, "config file {}", path.display()),
            ConfigSource::BuiltInDefaults => {
                write!(f, "built-in defaults ({DEFAULT_CONFIG_PATH} not found)")
            }
        }
    }
}

impl Config {
    /// Loads the configuration the way `hearth` does at start-up, with the process environment.
    ///
    /// `explicit_path` (from `--config`) must exist; without it `./config.toml` is used if present, else the
    /// built-in defaults. The result is validated.
    pub fn load(explicit_path: Option<&Path>) -> Result<(Config, ConfigSource), ConfigError> {
        Self::load_with_env(explicit_path, std::env::vars())
    }

    /// [`Config::load`] with the environment given explicitly (tests must not depend on the process environment).
    pub fn load_with_env(
        explicit_path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, ConfigSource), ConfigError> {
        let path = explicit_path.unwrap_or(Path::new(DEFAULT_CONFIG_PATH));
        let (table, source) = match std::fs::read_to_string(path) {
            Ok(text) => (
                parse_file(&text, path)?,
                ConfigSource::File(path.to_owned()),
            ),
            Err(error)
                if explicit_path.is_none() && error.kind() == std::io::ErrorKind::NotFound =>
            {
                (Table::new(), ConfigSource::BuiltInDefaults)
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let config = apply_env_overrides(table, env, path)?;
        config.validate()?;
        Ok((config, source))
    }

    /// Parses and validates config file text; `path` only labels error messages. No environment overrides.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config = apply_env_overrides(parse_file(text, path)?, std::iter::empty(), path)?;
        config.validate()?;
        Ok(config)
    }
}

/// Parses file text into a table, reporting syntax errors and schema mismatches (unknown keys, wrong types)
/// with their line and column.
fn parse_file(text: &str, path: &Path) -> Result<Table, ConfigError> {
    let parse_error = |error: toml::de::Error| ConfigError::Parse {
        path: path.to_owned(),
        message: error.to_string().trim_end().to_owned(),
    };
    toml::from_str::<Config>(text).map_err(parse_error)?;
    text.parse::<Table>().map_err(parse_error)
}

/// Applies every `HEARTH_*` override to `table` (parsed from `path`) and deserialises the result. Each variable
/// is checked as it is applied, so an error names the variable that caused it.
fn apply_env_overrides(
    mut table: Table,
    env: impl IntoIterator<Item = (String, String)>,
    path: &Path,
) -> Result<Config, ConfigError> {
    let defaults = default_shape();
    let mut overrides: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    overrides.sort();
    for (variable, raw) in overrides {
        let env_error = |message: String| ConfigError::Environment {
            variable: variable.clone(),
            message,
        };
        let Some(path) = override_path(&variable, &defaults).map_err(env_error)? else {
            continue;
        };
        insert_override(&mut table, &defaults, &path, &raw).map_err(env_error)?;
        Config::deserialize(Value::Table(table.clone()))
            .map_err(|error| env_error(error.to_string().trim_end().replace('\n', " ")))?;
    }
    Config::deserialize(Value::Table(table)).map_err(|error| ConfigError::Parse {
        path: path.to_owned(),
        message: error.to_string().trim_end().to_owned(),
    })
}

/// The default configuration as a TOML table: the set of valid keys and the type each one has.
fn default_shape() -> Table {
    match Value::try_from(Config::default()) {
        Ok(Value::Table(table)) => table,
        _ => Table::new(),
    }
}

/// The config key a variable names (`["database", "url"]`), `None` if the variable is not a config override,
/// or an error if it looks like one but names no key.
fn override_path(variable: &str, defaults: &Table) -> Result<Option<Vec<String>>, String> {
    let Some(rest) = variable.strip_prefix(ENV_PREFIX) else {
        return Ok(None);
    };
    let path: Vec<String> = rest
        .split(ENV_SECTION_SEPARATOR)
        .map(str::to_ascii_lowercase)
        .collect();
    let is_sectioned = path.len() > 1;
    let Some(top) = defaults.get(&path[0]) else {
        if is_sectioned {
            return Err(format!(
                "unknown config section `{}` (known: {})",
                path[0],
                section_names(defaults).join(", ")
            ));
        }
        return Ok(None);
    };
    match (top, path.len()) {
        (Value::Table(_), 1) => Err(format!(
            "`{}` is a section; set one key with {ENV_PREFIX}{}{ENV_SECTION_SEPARATOR}<KEY>",
            path[0],
            path[0].to_ascii_uppercase()
        )),
        (Value::Table(section), 2) if section.contains_key(&path[1]) => Ok(Some(path)),
        (Value::Table(section), 2) => Err(format!(
            "unknown config key `{}.{}` (known keys in [{}]: {})",
            path[0],
            path[1],
            path[0],
            section.keys().cloned().collect::<Vec<_>>().join(", ")
        )),
        (_, 1) => Ok(Some(path)),
        _ => Err(format!(
            "unknown config key `{}`: `{}` is not a section",
            path.join("."),
            path[0]
        )),
    }
}

fn section_names(defaults: &Table) -> Vec<String> {
    defaults
        .iter()
        .filter(|(_, value)| value.is_table())
        .map(|(name, _)| name.clone())
        .collect()
}

/// Converts `raw` to the type the default has at `path` and stores it in `table`.
fn insert_override(
    table: &mut Table,
    defaults: &Table,
    path: &[String],
    raw: &str,
) -> Result<(), String> {
    let default =
        lookup(defaults, path).ok_or_else(|| format!("unknown config key `{}`", path.join(".")))?;
    let value = typed_value(default, raw)?;
    let mut target = table;
    for section in &path[..path.len() - 1] {
        let entry = target
            .entry(section.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        target = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{section}` in the config file is not a section"))?;
    }
    target.insert(path[path.len() - 1].clone(), value);
    Ok(())
}

fn lookup<'a>(table: &'a Table, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = table.get(first)?;
    if rest.is_empty() {
        Some(value)
    } else {
        lookup(value.as_table()?, rest)
    }
}

/// Interprets an environment string as a value of the same TOML type as `default`.
fn typed_value(default: &Value, raw: &str) -> Result<Value, String> {
    let trimmed = raw.trim();
    match default {
        Value::String(_) => Ok(Value::String(raw.to_owned())),
        Value::Boolean(_) => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Value::Boolean(true)),
            "false" | "0" => Ok(Value::Boolean(false)),
            _ => Err(format!("expected true or false, found `{raw}`")),
        },
        Value::Integer(_) => trimmed
            .parse()
            .map(Value::Integer)
            .map_err(|_| format!("expected a whole number, found `{raw}`")),
        Value::Float(_) => trimmed
            .parse()
            .map(Value::Float)
            .map_err(|_| format!("expected a number, found `{raw}`")),
        Value::Array(_) if trimmed.starts_with('[') => {
            let mut parsed: Table = format!("value = {trimmed}")
                .parse()
                .map_err(|_| format!("`{raw}` is not a TOML array"))?;
            parsed
                .remove("value")
                .ok_or_else(|| format!("`{raw}` is not a TOML array"))
        }
        Value::Array(_) => Ok(Value::Array(
            trimmed
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        )),
        Value::Table(_) | Value::Datetime(_) => {
            Err("this key cannot be set from the environment".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn load_text(text: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let path = Path::new("test.toml");
        let config = apply_env_overrides(parse_file(text, path)?, env(pairs), path)?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn empty_file_gives_the_defaults() {
        assert_eq!(load_text("", &[]).unwrap(), Config::default());
    }

    #[test]
    fn file_values_override_defaults_and_missing_keys_keep_theirs() {
        let config = load_text(
            "server_name = \"example.org\"\n[listen]\nclient = \"0.0.0.0:9008\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(config.server_name, "example.org");
        assert_eq!(config.listen.client.to_string(), "0.0.0.0:9008");
        assert_eq!(config.listen.federation.to_string(), "127.0.0.1:8448");
    }

    #[test]
    fn unknown_key_in_file_is_named_with_its_position() {
        let error = load_text("[listen]\nclinet = \"127.0.0.1:1\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("test.toml"), "{error}");
        assert!(error.contains("unknown field `clinet`"), "{error}");
        assert!(error.contains("line 2"), "{error}");
    }

    #[test]
    fn unknown_top_level_key_in_file_is_an_error() {
        let error = load_text("servr_name = \"x\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `servr_name`"), "{error}");
    }

    #[test]
    fn wrong_type_in_file_is_an_error_with_position() {
        let error = load_text("[federation]\nenabled = \"yes\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("line 2") && error.contains("expected a boolean"),
            "{error}"
        );
    }

    #[test]
    fn bad_listen_address_is_named() {
        let error = load_text("[listen]\nclient = \"localhost\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("client = \"localhost\"") && error.contains("socket address"),
            "{error}"
        );
    }

    #[test]
    fn syntax_error_is_reported_with_its_line() {
        let error = load_text("server_name = \n", &[]).unwrap_err().to_string();
        assert!(error.contains("line 1"), "{error}");
    }

    #[test]
    fn env_overrides_strings_booleans_integers_and_durations() {
        let config = load_text(
            "[database]\nurl = \"sqlite://a.db\"\n",
            &[
                ("HEARTH_SERVER_NAME", "example.org:8448"),
                ("HEARTH_DATABASE__URL", "postgres://hearth@localhost/hearth"),
                ("HEARTH_FEDERATION__ENABLED", "false"),
                ("HEARTH_LISTEN__MAX_REQUEST_BODY_BYTES", "1048576"),
                ("HEARTH_KEYS__VALID_FOR", "1d"),
                ("HEARTH_ROOMS__DEFAULT_VERSION", "11"),
            ],
        )
        .unwrap();
        assert_eq!(config.server_name, "example.org:8448");
        assert_eq!(config.database.url, "postgres://hearth@localhost/hearth");
        assert!(!config.federation.enabled);
        assert_eq!(config.listen.max_request_body_bytes, 1_048_576);
        assert_eq!(config.keys.valid_for.as_duration().as_secs(), 86400);
        assert_eq!(config.rooms.default_version, "11");
    }

    #[test]
    fn env_list_accepts_toml_array_or_comma_separated() {
        let config = load_text(
            "",
            &[
                (
                    "HEARTH_FEDERATION__ALLOWED_IP_RANGES",
                    "[\"127.0.0.0/8\", \"::1/128\"]",
                ),
                (
                    "HEARTH_FEDERATION__DENIED_IP_RANGES",
                    "10.0.0.0/8, 192.168.0.0/16",
                ),
                ("HEARTH_FEDERATION__TRUSTED_KEY_SERVERS", ""),
            ],
        )
        .unwrap();
        assert_eq!(config.federation.allowed_ip_ranges.len(), 2);
        assert_eq!(config.federation.denied_ip_ranges.len(), 2);
        assert!(config.federation.trusted_key_servers.is_empty());
    }

    #[test]
    fn env_unknown_key_in_known_section_is_an_error_naming_the_variable() {
        let error = load_text("", &[("HEARTH_DATABASE__URLL", "x")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("HEARTH_DATABASE__URLL"), "{error}");
        assert!(
            error.contains("unknown config key `database.urll`"),
            "{error}"
        );
    }

    #[test]
    fn env_unknown_section_is_an_error() {
        let error = load_text("", &[("HEARTH_DATABSE__URL", "x")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("unknown config section `databse`"),
            "{error}"
        );
    }

    #[test]
    fn env_variables_that_are_not_config_keys_are_ignored() {
        let config = load_text(
            "",
            &[
                ("HEARTH_TEST_PYTHON", "/usr/bin/python3"),
                ("HEARTH_REQUIRE_PEERS", "1"),
                ("OTHER_SERVER_NAME", "x"),
            ],
        )
        .unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn env_bad_boolean_and_bad_value_name_the_variable() {
        let error = load_text("", &[("HEARTH_FEDERATION__ENABLED", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("HEARTH_FEDERATION__ENABLED") && error.contains("true or false"),
            "{error}"
        );
        let error = load_text("", &[("HEARTH_LISTEN__CLIENT", "nowhere")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("HEARTH_LISTEN__CLIENT") && error.contains("socket address"),
            "{error}"
        );
    }

    #[test]
    fn env_naming_a_whole_section_is_an_error() {
        let error = load_text("", &[("HEARTH_DATABASE", "x")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("is a section"), "{error}");
    }

    #[test]
    fn env_overrides_win_over_the_file() {
        let config = load_text(
            "server_name = \"file.example\"\n",
            &[("HEARTH_SERVER_NAME", "env.example")],
        )
        .unwrap();
        assert_eq!(config.server_name, "env.example");
    }

    #[test]
    fn missing_default_file_means_built_in_defaults_but_missing_explicit_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let error = Config::load_with_env(Some(&missing), Vec::new()).unwrap_err();
        assert!(matches!(error, ConfigError::Read { .. }), "{error}");
        assert!(error.to_string().contains("nope.toml"));
    }

    #[test]
    fn loads_an_explicit_file_and_reports_it_as_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.toml");
        std::fs::write(&path, "server_name = \"example.org\"\n").unwrap();
        let (config, source) = Config::load_with_env(Some(&path), Vec::new()).unwrap();
        assert_eq!(config.server_name, "example.org");
        assert_eq!(source, ConfigSource::File(path));
    }

    #[test]
    fn the_repository_config_toml_is_valid_and_equals_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let config = Config::from_toml_str(&text, &path).unwrap();
        assert_eq!(config, Config::default());
    }
}
