//! The mock answers an independent client: `tests/independent/client.py` (Python `cryptography`,
//! no Rust code) registers, signs, routes, picks up, verifies and acks, and checks refusals.

use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_cryptography_client_talks_to_the_mock() {
    let has_crypto = Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_crypto {
        // CI installs it (.ci/run); a developer machine without it cannot run this check.
        eprintln!("skipping: python3 with the `cryptography` package is not available");
        return;
    }
    let mock = amp_mock::spawn(amp_mock::MockConfig::default())
        .await
        .expect("mock starts");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/client.py");
    let base = mock.base_url();
    let out =
        tokio::task::spawn_blocking(move || Command::new("python3").arg(script).arg(base).output())
            .await
            .unwrap()
            .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    mock.shutdown().await;
    assert!(
        out.status.success(),
        "independent client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("12 passed, 0 failed"), "{stdout}");
}
