//! The `hearth` command line: `serve` (the default), `config check` and `admin …`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigSource};

/// Hearth, a Matrix homeserver.
#[derive(Debug, Parser)]
#[command(name = "hearth", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file [default: ./config.toml, or built-in defaults if it does not exist].
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "HEARTH_CONFIG",
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,

    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the homeserver until SIGTERM or Ctrl-C (the default).
    Serve,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Administer users, registration tokens and media in the configured database (works while the server runs).
    Admin(crate::admin::AdminArgs),
}

/// `hearth config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the configuration, print the effective values, exit non-zero on any problem.
    Check,
}

/// Runs the parsed command line; the process exit code is the result.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config),
        Command::Config(ConfigCommand::Check) => check_config(cli.config),
        Command::Admin(args) => match load_config(cli.config.as_ref()) {
            Some((config, _)) => crate::admin::run(&config, args),
            None => ExitCode::FAILURE,
        },
    }
}

fn load_config(path: Option<&PathBuf>) -> Option<(Config, ConfigSource)> {
    match Config::load(path.map(PathBuf::as_path)) {
        Ok(loaded) => Some(loaded),
        Err(error) => {
            eprintln!("hearth: {error}");
            None
        }
    }
}

fn serve(path: Option<PathBuf>) -> ExitCode {
    let Some((config, source)) = load_config(path.as_ref()) else {
        return ExitCode::FAILURE;
    };
    crate::logging::init_logging(&config.logging);
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "starting Hearth with {source}"
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hearth: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(crate::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "Hearth failed");
            eprintln!("hearth: {error}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(path: Option<PathBuf>) -> ExitCode {
    let Some((config, source)) = load_config(path.as_ref()) else {
        return ExitCode::FAILURE;
    };
    if let Err(error) = crate::tls::check_configured_certificate(&config) {
        eprintln!("hearth: {error}");
        return ExitCode::FAILURE;
    }
    println!("Configuration OK ({source})\n");
    print!("{}", config.to_redacted_toml());
    println!("\n# Derived values");
    let redacted = config.redacted();
    let database = if redacted.database.url.is_empty() {
        config.database_url()
    } else {
        redacted.database.url
    };
    println!("# database:                   {database}");
    println!(
        "# signing key file:           {}",
        config.signing_key_path().display()
    );
    if config.federation.enabled {
        let paths = crate::tls::certificate_paths(&config);
        let origin = if config.has_configured_tls_certificate() {
            "configured"
        } else {
            "self-signed, generated on first start"
        };
        println!(
            "# federation certificate:     {} ({origin})",
            paths.certificate.display()
        );
        println!(
            "# /.well-known/matrix/server: {}",
            config.well_known_server(config.listen.federation.port())
        );
    } else {
        println!("# federation:                 disabled");
    }
    if config.well_known.client.is_empty() {
        println!("# /.well-known/matrix/client: not served (well_known.client is empty)");
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve() {
        let cli = Cli::try_parse_from(["hearth"]).unwrap();
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from(["hearth", "--config", "x.toml"]).unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
    }

    #[test]
    fn parses_config_check_with_config_after_the_subcommand() {
        let cli = Cli::try_parse_from(["hearth", "config", "check", "--config", "x.toml"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Config(ConfigCommand::Check))
        ));
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
    }
}
