//! Crash safety: a child appends under strict durability and reports every acknowledged
//! batch; it is killed with SIGKILL at a random moment; the reopened log must hold every
//! acknowledged batch intact and serve no partial batch. Repeated many times on one data dir.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::time::Duration;

use hubgate_storage::{HubName, Limits, PartitionId, StorageConfig, StorageUrl, open};
use hubgate_tests::crash_value;
use rand::Rng;

const ROUNDS: u64 = 20;

#[derive(Debug, Clone, Copy)]
struct Ack {
    partition: u32,
    base: i64,
    last: i64,
    run: u64,
    task: u32,
    seq: u64,
    records: i64,
}

fn parse(line: &str) -> Option<Ack> {
    let mut f = line.strip_prefix("ACK ")?.split(' ');
    let mut next = || f.next();
    Some(Ack {
        partition: next()?.parse().ok()?,
        base: next()?.parse().ok()?,
        last: next()?.parse().ok()?,
        run: next()?.parse().ok()?,
        task: next()?.parse().ok()?,
        seq: next()?.parse().ok()?,
        records: next()?.parse().ok()?,
    })
}

/// Runs one writer, kills it after a random delay, and returns what it acknowledged.
fn run_and_kill(dir: &str, run: u64) -> Vec<Ack> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .args([dir, &run.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("writer did not start");
    assert_eq!(first, "READY");
    let delay = rand::thread_rng().gen_range(5..200);
    std::thread::sleep(Duration::from_millis(delay));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    // Only complete lines parse; a line cut by the kill is ignored (its ack is not claimed).
    rx.try_iter().filter_map(|l| parse(&l)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_batches_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_str = data.to_str().unwrap().to_owned();
    let hub = HubName::new("crash").unwrap();
    let mut acked: Vec<Ack> = Vec::new();
    let mut rounds_with_acks = 0;
    for run in 0..ROUNDS {
        let dir = data_str.clone();
        let new = tokio::task::spawn_blocking(move || run_and_kill(&dir, run))
            .await
            .unwrap();
        if !new.is_empty() {
            rounds_with_acks += 1;
        }
        acked.extend(new);

        let log = open(&StorageConfig::new(StorageUrl::Sled(data.clone()))).unwrap();
        // Every acknowledged batch is there, whole, with its records.
        for ack in &acked {
            let p = PartitionId::new(hub.clone(), ack.partition);
            let read = log
                .read(&p, ack.base, 1)
                .await
                .unwrap_or_else(|e| panic!("round {run}: acknowledged batch {ack:?} is gone: {e}"));
            let batch = read
                .batches
                .first()
                .unwrap_or_else(|| panic!("round {run}: acknowledged batch {ack:?} is gone"));
            assert_eq!(
                (batch.base_offset(), batch.last_offset()),
                (ack.base, ack.last)
            );
            batch.verify_crc().unwrap();
            let records = batch.records(&Limits::default()).unwrap();
            assert_eq!(records.len() as i64, ack.records);
            for (j, record) in records.iter().enumerate() {
                let expected = crash_value(ack.run, ack.task, ack.seq, j as i64);
                assert_eq!(
                    record.value.as_deref(),
                    Some(expected.as_bytes()),
                    "{ack:?}"
                );
                assert_eq!(record.offset, ack.base + j as i64);
            }
        }
        // Nothing partial is served: the partition is a dense run of intact batches.
        for index in 0..2 {
            let p = PartitionId::new(hub.clone(), index);
            let state = log.partition(&p).await.unwrap();
            let mut next = state.log_start;
            while next < state.high_watermark {
                let read = log.read(&p, next, 1 << 20).await.unwrap();
                assert!(!read.batches.is_empty());
                for batch in &read.batches {
                    assert_eq!(batch.base_offset(), next, "gap or overlap in {p}");
                    batch.verify_crc().unwrap();
                    let records = batch.records(&Limits::default()).unwrap();
                    assert_eq!(
                        records.len() as i64,
                        batch.last_offset() - batch.base_offset() + 1
                    );
                    next = batch.last_offset() + 1;
                }
            }
            assert_eq!(next, state.high_watermark);
        }
        drop(log);
    }
    assert!(
        rounds_with_acks >= ROUNDS / 2,
        "only {rounds_with_acks} of {ROUNDS} rounds acknowledged anything"
    );
    assert!(acked.len() > 100, "only {} acks in total", acked.len());
}
