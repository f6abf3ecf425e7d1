//! Child process for the crash test: appends to a sled log under strict durability from
//! several tasks and prints one `ACK` line per acknowledged batch, until it is killed.
//!
//! Usage: `crash_writer DATA_DIR RUN_ID`. Output lines:
//! `READY` once the hub exists, then `ACK partition base last run task seq records`.

use std::io::Write;

use bytes::Bytes;
use hubgate_storage::{
    Compression, EncodeOptions, Error, Header, HubConfig, HubName, PartitionId, Record,
    RecordBatch, StorageConfig, StorageUrl,
};

/// Partitions of the crash hub.
const PARTITIONS: u32 = 2;
/// Concurrent appenders.
const TASKS: u32 = 4;

fn batch(run: u64, task: u32, seq: u64) -> anyhow::Result<RecordBatch> {
    let n = 1 + (seq % 7) as i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let records: Vec<Record> = (0..n)
        .map(|j| Record {
            offset: j,
            timestamp: now,
            key: (j > 0).then(|| Bytes::from(format!("k{j}"))),
            value: Some(Bytes::from(hubgate_tests::crash_value(run, task, seq, j))),
            headers: vec![Header::new("run", Some(Bytes::from(run.to_string())))],
        })
        .collect();
    let compression = match seq % 3 {
        0 => Compression::None,
        1 => Compression::Zstd,
        _ => Compression::Lz4,
    };
    Ok(RecordBatch::encode(
        &records,
        &EncodeOptions {
            compression,
            ..EncodeOptions::default()
        },
    )?)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: crash_writer DIR RUN"))?;
    let run: u64 = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("missing RUN"))?
        .parse()?;
    let log = hubgate_storage::open(&StorageConfig::new(StorageUrl::Sled(dir.into())))?;
    let hub = HubName::new("crash")?;
    let config = HubConfig {
        partitions: PARTITIONS,
        ..HubConfig::default()
    };
    match log.create_hub(&hub, config).await {
        Ok(_) | Err(Error::HubExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    println!("READY");
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let log = log.clone();
        let partition = PartitionId::new(hub.clone(), task % PARTITIONS);
        tasks.push(tokio::spawn(async move {
            for seq in 0.. {
                let b = batch(run, task, seq)?;
                let n = b.header().record_count;
                let appended = log.append(&partition, b).await?;
                // One write per line, so a kill never leaves a line that parses wrongly.
                let line = format!(
                    "ACK {} {} {} {run} {task} {seq} {n}\n",
                    partition.index, appended.base_offset, appended.last_offset
                );
                std::io::stdout().lock().write_all(line.as_bytes())?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}
