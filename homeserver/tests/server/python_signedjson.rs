//! Cross-implementation check: Synapse's `signedjson` (Python) verifies the key document Hearth serves on both
//! listeners. Needs `HEARTH_TEST_PYTHON` pointing at a Python with `signedjson` installed; without it the test
//! fails under CI (`CI` or `HEARTH_REQUIRE_PEERS` set) and is skipped loudly elsewhere.

use std::path::Path;
use std::process::Command;

use crate::common::{client_url, federation_url, start_in};

/// The Python interpreter to use, or `None` when the test should be skipped.
pub(crate) fn python_or_skip() -> Option<String> {
    match std::env::var("HEARTH_TEST_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ => {
            let required = std::env::var_os("CI").is_some()
                || std::env::var_os("HEARTH_REQUIRE_PEERS").is_some();
            assert!(
                !required,
                "HEARTH_TEST_PYTHON is not set, but CI/HEARTH_REQUIRE_PEERS requires the signedjson check"
            );
            eprintln!(
                "\n!!! SKIPPED key_document_verifies_with_python_signedjson: set HEARTH_TEST_PYTHON to a Python with \
                 canonicaljson==2.0.0 and signedjson==1.1.4 installed !!!\n"
            );
            None
        }
    }
}

#[tokio::test]
async fn key_document_verifies_with_python_signedjson() {
    let Some(python) = python_or_skip() else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/key_signedjson.py");
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path()).await;
    let mut command = Command::new(&python);
    command
        .arg(&script)
        .arg(client_url(&server, ""))
        .arg(federation_url(&server, ""));
    // The script talks to the server running on this test's runtime, so it must not block that runtime.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("cannot run {python}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "signedjson check failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.trim_end().ends_with("OK"), "{stdout}");
    server.shutdown().await;
}
