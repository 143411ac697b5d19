//! Log output: a `tracing` subscriber whose filter comes from `RUST_LOG` when set, else from `[logging] level`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingConfig};

/// Installs the global subscriber for the process. Called once by the binary before anything logs.
///
/// `RUST_LOG` wins over the config so an operator can raise verbosity for one run without editing files; if it
/// does not parse, the config level is used and a warning says so. Returns quietly if a subscriber is already
/// installed (tests that start several servers in one process).
pub fn init_logging(config: &LoggingConfig) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| !value.trim().is_empty());
    let (filter, rejected_env) = match from_env
        .as_deref()
        .map(|value| EnvFilter::builder().parse(value))
    {
        Some(Ok(filter)) => (filter, None),
        Some(Err(error)) => (config_filter(config), Some(error)),
        None => (config_filter(config), None),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if installed.is_ok()
        && let Some(error) = rejected_env
    {
        tracing::warn!(%error, "RUST_LOG is not a valid filter; using logging.level from the config");
    }
}

/// The filter from `[logging] level`; validation has already checked it parses, `info` is the fallback.
fn config_filter(config: &LoggingConfig) -> EnvFilter {
    EnvFilter::builder()
        .parse(&config.level)
        .unwrap_or_else(|_| EnvFilter::new("info"))
}
