//! `hearth admin media …` run as the real binary against a running server's database and media store.

use std::path::{Path, PathBuf};
use std::process::Command;

use hearth::storage::Backend;
use serde_json::Value;

use crate::common::{TestServer, start};
use crate::{assert_error, both_backends, download, seed_users, stored_blob_count, upload};

/// Runs `hearth --config <file> admin --json media <args>`; returns (success, stdout, stderr).
pub fn admin(config: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hearth"));
    for (name, _) in std::env::vars() {
        if name.starts_with("HEARTH_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    let output = command
        .arg("--config")
        .arg(config)
        .args(["admin", "--json", "media"])
        .args(args)
        .output()
        .expect("hearth runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A config file naming the server's database and data directory.
pub fn config_file(server: &TestServer) -> PathBuf {
    let dir = server._data_dir.path();
    let path = dir.join("admin.toml");
    std::fs::write(
        &path,
        format!(
            "server_name = \"hearth.test\"\ndata_dir = {:?}\n[database]\nurl = {:?}\n",
            dir.display().to_string(),
            server.database_url()
        ),
    )
    .unwrap();
    path
}

async fn admin_cli_lists_quarantines_deletes_and_purges_media(backend: Backend) {
    let server = start(backend, |_| {}).await;
    seed_users(&server).await;
    let config = config_file(&server);
    let alice = upload(&server, "alice-token", "text/plain", b"alice's".to_vec()).await;
    let bob = upload(&server, "bob-token", "text/plain", b"bob's".to_vec()).await;

    let (ok, out, err) = admin(&config, &["list", "--user", "alice"]);
    assert!(ok, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["mxc"], alice.as_str());
    assert_eq!(listed[0]["size"], 7);
    let (_, out, _) = admin(&config, &["list"]);
    assert_eq!(
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let (ok, _, err) = admin(&config, &["quarantine", &alice]);
    assert!(ok, "{err}");
    assert_error(
        &download(&server, Some("bob-token"), &alice).await,
        404,
        "M_NOT_FOUND",
    );
    let (ok, _, err) = admin(&config, &["unquarantine", &alice]);
    assert!(ok, "{err}");
    assert_eq!(
        download(&server, Some("bob-token"), &alice).await.status,
        200
    );

    assert_eq!(stored_blob_count(server._data_dir.path()), 2);
    let (ok, _, err) = admin(&config, &["delete", &bob]);
    assert!(ok, "{err}");
    assert_error(
        &download(&server, Some("alice-token"), &bob).await,
        404,
        "M_NOT_FOUND",
    );
    assert_eq!(stored_blob_count(server._data_dir.path()), 1);

    let (ok, _, err) = admin(&config, &["delete", &bob]);
    assert!(!ok);
    assert!(err.contains("no such media"), "{err}");
    let (ok, _, err) = admin(&config, &["delete", "https://example.org/x"]);
    assert!(!ok);
    assert!(err.contains("not an mxc"), "{err}");

    let (ok, out, err) = admin(&config, &["purge-remote", "--older-than", "1d"]);
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["purged_remote"],
        0
    );
    server.stop().await;
}
both_backends!(admin_cli_lists_quarantines_deletes_and_purges_media);
