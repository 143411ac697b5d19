//! `hearth admin …` run as the real binary against the database of a running server, on both backends.

use std::path::Path;
use std::process::Command;

use hearth::storage::Backend;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{TestServer, start};

/// Runs `hearth --config <file> admin <args>` and returns (success, stdout, stderr).
fn admin(config: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hearth"));
    for (name, _) in std::env::vars() {
        if name.starts_with("HEARTH_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    let output = command
        .arg("--config")
        .arg(config)
        .arg("admin")
        .args(args)
        .output()
        .expect("hearth runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A config file naming the server's database.
fn config_file(server: &TestServer, dir: &Path) -> std::path::PathBuf {
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

async fn login(server: &TestServer, user: &str, password: &str) -> u16 {
    server
        .call(
            Method::POST,
            "/_matrix/client/v3/login",
            None,
            Some(&json!({"type": "m.login.password", "user": user, "password": password})),
        )
        .await
        .0
}

async fn admin_manages_users_while_the_server_runs(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&server, dir.path());

    let (ok, stdout, stderr) = admin(&config, &["user", "create", "alice", "--password", "pw1"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("@alice:hearth.test"), "{stdout}");
    assert_eq!(login(&server, "alice", "pw1").await, 200);

    let (ok, stdout, stderr) = admin(&config, &["--json", "user", "create", "@bob:hearth.test"]);
    assert!(ok, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).unwrap();
    let generated = created["password"].as_str().unwrap().to_owned();
    assert_eq!(login(&server, "bob", &generated).await, 200);

    let (ok, _, stderr) = admin(&config, &["user", "create", "alice", "--password", "x"]);
    assert!(!ok);
    assert!(stderr.contains("M_USER_IN_USE"), "{stderr}");
    let (ok, _, stderr) = admin(&config, &["user", "create", "Bad Name!"]);
    assert!(!ok);
    assert!(stderr.contains("M_INVALID_USERNAME"), "{stderr}");
    let (ok, _, stderr) = admin(&config, &["user", "create", "@x:elsewhere.test"]);
    assert!(!ok);
    assert!(stderr.contains("not a user of this server"), "{stderr}");

    let (ok, _, stderr) = admin(&config, &["user", "promote", "alice"]);
    assert!(ok, "{stderr}");
    let (ok, stdout, _) = admin(&config, &["user", "list", "--json"]);
    assert!(ok);
    let users: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert_eq!(users[0]["user_id"], "@alice:hearth.test");
    assert_eq!(users[0]["admin"], true);
    let (ok, table, _) = admin(&config, &["user", "list"]);
    assert!(ok);
    assert!(table.starts_with("USER"), "{table}");
    let (ok, _, _) = admin(&config, &["user", "demote", "alice"]);
    assert!(ok);
    assert!(
        !server
            .storage
            .get_user("@alice:hearth.test")
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );

    let (ok, _, stderr) = admin(
        &config,
        &["user", "reset-password", "alice", "--password", "pw2"],
    );
    assert!(ok, "{stderr}");
    assert_eq!(login(&server, "alice", "pw1").await, 403);
    assert_eq!(login(&server, "alice", "pw2").await, 200);

    let (ok, _, stderr) = admin(&config, &["user", "deactivate", "alice"]);
    assert!(ok, "{stderr}");
    assert_eq!(login(&server, "alice", "pw2").await, 403);
    let (ok, _, stderr) = admin(&config, &["user", "deactivate", "nobody"]);
    assert!(!ok);
    assert!(stderr.contains("no user @nobody:hearth.test"), "{stderr}");
    server.stop().await;
}
both_backends!(admin_manages_users_while_the_server_runs);

async fn admin_invites_are_registration_tokens(backend: Backend) {
    let server = start(backend, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&server, dir.path());

    let (ok, stdout, stderr) = admin(
        &config,
        &[
            "invite",
            "create",
            "--uses",
            "1",
            "--expires",
            "1d",
            "--json",
        ],
    );
    assert!(ok, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(created["uses_allowed"], 1);
    assert!(created["expiry_ts"].as_i64().is_some());

    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/register",
            None,
            Some(&json!({"username": "carol", "password": "pw",
                "auth": {"type": "m.login.registration_token", "token": token}})),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            "/_matrix/client/v3/register",
            None,
            Some(&json!({"username": "carol", "password": "pw",
                "auth": {"type": "m.login.dummy", "session": body["session"]}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (ok, _, stderr) = admin(&config, &["invite", "create", "--token", "team-2026"]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = admin(&config, &["invite", "create", "--token", "team-2026"]);
    assert!(!ok);
    assert!(stderr.contains("already exists"), "{stderr}");
    let (ok, _, stderr) = admin(&config, &["invite", "create", "--token", "bad token"]);
    assert!(!ok);
    assert!(
        stderr.contains("not a valid registration token"),
        "{stderr}"
    );
    let (ok, _, stderr) = admin(&config, &["invite", "create", "--expires", "soon"]);
    assert!(!ok);
    assert!(stderr.contains("not a duration"), "{stderr}");

    let (ok, stdout, _) = admin(&config, &["--json", "invite", "list"]);
    assert!(ok);
    let tokens: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(tokens.as_array().unwrap().len(), 2);
    let used = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token"] == token.as_str())
        .unwrap();
    assert_eq!(
        (used["completed"].as_i64(), used["valid"].as_bool()),
        (Some(1), Some(false))
    );

    let (ok, _, stderr) = admin(&config, &["invite", "revoke", "team-2026"]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = admin(&config, &["invite", "revoke", "team-2026"]);
    assert!(!ok);
    assert!(stderr.contains("no registration token"), "{stderr}");
    server.stop().await;
}
both_backends!(admin_invites_are_registration_tokens);
