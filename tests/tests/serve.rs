//! `hubgate serve` as a process: start-up, declared hubs, signals, locking, bad config.

use std::process::Command;
use std::time::{Duration, Instant};

use hubgate_storage::{HubName, StorageConfig, StorageUrl, open};
use hubgate_tests::{Gateway, hubgate_bin};
use nix::sys::signal::Signal;

const READY: Duration = Duration::from_secs(30);

fn serve_args(data_dir: &str) -> Vec<String> {
    [
        "serve",
        "--data-dir",
        data_dir,
        "--kafka-listen",
        "off",
        "--amqp-listen",
        "off",
        "--http-listen",
        "off",
        "--blob-listen",
        "off",
    ]
    .map(String::from)
    .to_vec()
}

fn start(args: &[String]) -> Gateway {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Gateway::start(&args).unwrap()
}

#[test]
fn serve_creates_configured_hubs_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("hubgate.toml");
    std::fs::write(
        &config,
        "[hubs.orders]\npartitions = 3\nretention_ms = 3600000\n\n[hubs.audit]\ncleanup_policy = \"compact\"\n",
    )
    .unwrap();
    let mut args = serve_args(data.to_str().unwrap());
    args.extend(["--config".into(), config.to_str().unwrap().into()]);
    let mut gw = start(&args);
    gw.wait_ready(READY).unwrap();

    let sent = Instant::now();
    gw.signal(Signal::SIGTERM).unwrap();
    let status = gw.wait_exit(Duration::from_secs(2)).unwrap();
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        gw.log().join("\n")
    );
    assert!(sent.elapsed() < Duration::from_secs(2));
    assert!(gw.log().iter().any(|l| l.contains("storage flushed")));

    // The hubs are in the data directory, as declared.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = open(&StorageConfig::new(StorageUrl::Sled(data.clone()))).unwrap();
        let orders = log.hub(&HubName::new("orders").unwrap()).await.unwrap();
        assert_eq!(orders.config.partitions, 3);
        assert_eq!(orders.config.retention, Some(Duration::from_secs(3600)));
        let audit = log.hub(&HubName::new("audit").unwrap()).await.unwrap();
        assert_eq!(audit.config.partitions, 4);
        assert_eq!(
            audit.config.cleanup_policy,
            hubgate_storage::CleanupPolicy::Compact
        );
    });
}

#[test]
fn sigint_also_stops_the_gateway_with_status_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = start(&serve_args(dir.path().to_str().unwrap()));
    gw.wait_ready(READY).unwrap();
    gw.signal(Signal::SIGINT).unwrap();
    let status = gw.wait_exit(Duration::from_secs(2)).unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_second_gateway_on_the_same_data_dir_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let args = serve_args(dir.path().to_str().unwrap());
    let mut first = start(&args);
    first.wait_ready(READY).unwrap();

    let mut second = start(&args);
    let status = second.wait_exit(Duration::from_secs(20)).unwrap();
    assert!(!status.success());
    let log = second.log().join("\n");
    assert!(log.contains("locked by another process"), "{log}");
    assert!(!log.contains("panicked"), "{log}");

    // The first one is unaffected.
    assert!(first.terminate().unwrap().success());
}

#[test]
fn an_invalid_config_prints_one_line_and_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[hubs.orders]\npartitions = 0\n").unwrap();
    let output = Command::new(hubgate_bin().unwrap())
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("hub `orders`") && stderr.contains("partitions"),
        "{stderr}"
    );
}

#[test]
fn environment_variables_configure_serve() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-env");
    let mut gw = Gateway::start_with_env(
        &["serve"],
        &[
            ("HUBGATE_DATA_DIR", data.to_str().unwrap()),
            ("HUBGATE_KAFKA_LISTEN", "off"),
            ("HUBGATE_AMQP_LISTEN", "off"),
            ("HUBGATE_HTTP_LISTEN", "off"),
            ("HUBGATE_BLOB_LISTEN", "off"),
            ("HUBGATE_LOG_FORMAT", "json"),
        ],
    )
    .unwrap();
    let ready = gw.wait_for_line("hubgate ready", READY).unwrap();
    assert!(
        ready.trim_start().starts_with('{'),
        "json log line: {ready}"
    );
    assert!(data.join("hubgate.lock").exists());
    assert!(gw.terminate().unwrap().success());
}

#[test]
fn version_and_help() {
    let output = Command::new(hubgate_bin().unwrap())
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        format!("hubgate {}", env!("CARGO_PKG_VERSION"))
    );
    let output = Command::new(hubgate_bin().unwrap())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--data-dir",
        "--kafka-listen",
        "--amqp-listen",
        "--http-listen",
        "--blob-listen",
        "--durability",
        "HUBGATE_DATA_DIR",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
