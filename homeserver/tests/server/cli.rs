//! The `hearth` binary: `--version`, `config check` (success and clear failures) and `serve` stopping cleanly
//! on SIGTERM.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn hearth() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hearth"));
    for (name, _) in std::env::vars() {
        if name.starts_with("HEARTH_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command
}

fn repository_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.toml")
}

fn run(command: &mut Command) -> (Output, String, String) {
    let output = command.output().expect("hearth runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

fn check_config_text(text: &str) -> (Output, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hearth.toml");
    std::fs::write(&path, text).unwrap();
    run(hearth().args(["config", "check", "--config"]).arg(&path))
}

#[test]
fn version_flag_prints_the_crate_version() {
    let (output, stdout, _) = run(hearth().arg("--version"));
    assert!(output.status.success());
    assert_eq!(
        stdout.trim(),
        format!("hearth {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn config_check_accepts_the_repository_config_and_prints_the_effective_values() {
    let (output, stdout, stderr) = run(hearth()
        .args(["config", "check", "--config"])
        .arg(repository_config()));
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.starts_with("Configuration OK (config file"),
        "{stdout}"
    );
    assert!(stdout.contains("server_name = \"localhost\""), "{stdout}");
    assert!(
        stdout.contains("# database:                   sqlite://./data/hearth.db"),
        "{stdout}"
    );
    assert!(
        stdout.contains("# /.well-known/matrix/server: localhost:8448"),
        "{stdout}"
    );
}

#[test]
fn config_check_without_a_file_uses_built_in_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let (output, stdout, stderr) = run(hearth().args(["config", "check"]).current_dir(dir.path()));
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("built-in defaults"), "{stdout}");
}

#[test]
fn config_check_names_an_unknown_key_and_fails() {
    let (output, _, stderr) = check_config_text("[listen]\nclinet = \"127.0.0.1:8008\"\n");
    assert!(!output.status.success());
    assert!(stderr.contains("hearth.toml"), "{stderr}");
    assert!(stderr.contains("unknown field `clinet`"), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}

#[test]
fn config_check_explains_a_bad_server_name_and_fails() {
    let (output, _, stderr) = check_config_text("server_name = \"bad name!\"\n");
    assert!(!output.status.success());
    assert!(
        stderr.contains("server_name `bad name!` is not a valid server name"),
        "{stderr}"
    );
    assert!(stderr.contains("optionally followed by :port"), "{stderr}");
}

#[test]
fn config_check_reports_a_bad_database_url_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _, stderr) = run(hearth()
        .args(["config", "check"])
        .current_dir(dir.path())
        .env("HEARTH_DATABASE__URL", "mysql://localhost/hearth"));
    assert!(!output.status.success());
    assert!(
        stderr.contains("database.url `mysql://localhost/hearth` must start with sqlite://"),
        "{stderr}"
    );
}

#[test]
fn config_check_reports_an_unknown_environment_key() {
    let dir = tempfile::tempdir().unwrap();
    let (output, _, stderr) = run(hearth()
        .args(["config", "check"])
        .current_dir(dir.path())
        .env("HEARTH_LISTEN__CLINET", "127.0.0.1:1"));
    assert!(!output.status.success());
    assert!(
        stderr.contains("HEARTH_LISTEN__CLINET") && stderr.contains("listen.clinet"),
        "{stderr}"
    );
}

#[test]
fn config_check_reports_an_unreadable_tls_certificate() {
    let (output, _, stderr) = check_config_text(
        "[federation]\ntls_certificate = \"/nonexistent/cert.pem\"\ntls_private_key = \"/nonexistent/key.pem\"\n",
    );
    assert!(!output.status.success());
    assert!(
        stderr.contains("federation.tls_certificate: cannot read /nonexistent/cert.pem"),
        "{stderr}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_starts_from_a_config_file_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (client_port, federation_port) = (free_port(), free_port());
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "server_name = \"hearth.test\"\ndata_dir = \"{}\"\n[listen]\nclient = \"127.0.0.1:{client_port}\"\n\
             federation = \"127.0.0.1:{federation_port}\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = spawn_until_healthy(hearth().arg("--config").arg(&config), client_port);
    assert!(dir.path().join("data/signing.key").is_file());
    assert!(dir.path().join("data/hearth.db").is_file());

    let output = stop_with_sigterm(child);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("database closed") && stdout.contains("shutdown complete"),
        "{stdout}"
    );
}

/// The foundation issue's promise: the repository's own `config.toml`, unchanged but for the listen ports (so the
/// test cannot collide with a server already on 8008/8448), starts a server whose `/versions` answers and whose
/// key document Synapse's Python `signedjson` verifies on both listeners.
#[test]
fn repository_config_serves_versions_and_a_key_that_python_signedjson_verifies() {
    let Some(python) = crate::python_signedjson::python_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (client_port, federation_port) = (free_port(), free_port());
    let child = spawn_until_healthy(
        hearth()
            .arg("--config")
            .arg(repository_config())
            .current_dir(dir.path())
            .env("HEARTH_LISTEN__CLIENT", format!("127.0.0.1:{client_port}"))
            .env(
                "HEARTH_LISTEN__FEDERATION",
                format!("127.0.0.1:{federation_port}"),
            ),
        client_port,
    );
    assert!(http_get_ok(&format!(
        "http://127.0.0.1:{client_port}/_matrix/client/versions"
    )));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/key_signedjson.py");
    let (checked, stdout, stderr) = run(Command::new(&python)
        .arg(&script)
        .arg(format!("http://127.0.0.1:{client_port}"))
        .arg(format!("https://127.0.0.1:{federation_port}")));
    let output = stop_with_sigterm(child);
    assert!(
        checked.status.success() && stdout.trim_end().ends_with("OK"),
        "signedjson check failed:\n{stdout}\n{stderr}\nserver:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        dir.path().join("data/signing.key").is_file(),
        "data/ is made in the working directory"
    );
}

/// Starts `command` (a `hearth serve`) and waits, bounded, until its `/health` answers.
fn spawn_until_healthy(command: &mut Command, client_port: u16) -> std::process::Child {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let health = format!("http://127.0.0.1:{client_port}/health");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut healthy = false;
    while Instant::now() < deadline && !healthy {
        if let Ok(Some(status)) = child.try_wait() {
            let output = child.wait_with_output().unwrap();
            panic!(
                "hearth exited early with {status}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        healthy = http_get_ok(&health);
        if !healthy {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert!(healthy, "hearth did not become healthy");
    child
}

/// Sends SIGTERM and waits, bounded, for a clean exit; returns the process output.
fn stop_with_sigterm(mut child: std::process::Child) -> Output {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "hearth did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A minimal blocking HTTP GET (the test must not depend on an async runtime): true on a 200 answer.
fn http_get_ok(url: &str) -> bool {
    use std::io::{Read as _, Write as _};
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}
