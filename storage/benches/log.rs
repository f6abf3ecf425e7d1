//! Storage benchmark: appends 1 KiB records in batches to a sled log, then reads them back.
//!
//! `cargo bench -p hubgate-storage --bench log [-- --mib 256 --inflight 4 --cache-mb 128
//! --durability strict|relaxed]`
//!
//! For each combination of durability (strict, relaxed), partitions (1, 8) and batch size
//! (100, 1000 records) it writes `--mib` MiB with `--inflight` concurrent appenders per
//! partition, reporting MB/s, records/s and append latency percentiles, then reads everything
//! back in 1 MiB steps, copying the stored batches out as a fetch response would (no
//! re-encoding).
//!
//! `-- --recovery-mib N` instead measures restart after a crash: a child process (this binary
//! again) appends N MiB in 1,000-record batches to 8 partitions under strict durability and is
//! killed with SIGKILL; the bench then times reopening the data directory and the first read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hubgate_storage::{
    Durability, EncodeOptions, HubConfig, HubName, PartitionId, Record, RecordBatch, StorageConfig,
    StorageUrl, open,
};

const RECORD_BYTES: usize = 1024;

struct Options {
    mib: usize,
    inflight: usize,
    recovery_mib: Option<usize>,
    cache_mb: u64,
    durability: Option<Durability>,
}

fn options() -> Options {
    let mut options = Options {
        mib: 256,
        inflight: 4,
        recovery_mib: None,
        cache_mb: 128,
        durability: None,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse().ok());
        match (args[i].as_str(), value) {
            ("--mib", Some(v)) => options.mib = v,
            ("--inflight", Some(v)) => options.inflight = v,
            ("--recovery-mib", Some(v)) => options.recovery_mib = Some(v),
            ("--cache-mb", Some(v)) => options.cache_mb = v as u64,
            ("--durability", _) => {
                options.durability = match args.get(i + 1).map(String::as_str) {
                    Some("strict") => Some(Durability::Strict),
                    Some("relaxed") => Some(Durability::Relaxed),
                    _ => None,
                }
            }
            _ => {} // cargo bench passes `--bench`
        }
        i += 1;
    }
    options
}

fn make_batch(records: usize) -> RecordBatch {
    let value = Bytes::from(vec![b'x'; RECORD_BYTES]);
    let records: Vec<Record> = (0..records as i64)
        .map(|i| Record {
            offset: i,
            timestamp: 1_700_000_000_000 + i,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(value.clone()),
            headers: Vec::new(),
        })
        .collect();
    RecordBatch::encode(&records, &EncodeOptions::default()).expect("encode")
}

/// Resets the kernel's peak-RSS mark for this process (Linux `clear_refs` 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size of process `pid` ("self" for this one) since the last reset, in MB,
/// from `/proc/PID/status` (Linux).
fn peak_rss_mb(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn run(durability: Durability, partitions: u32, batch_records: usize, o: &Options) {
    reset_peak_rss();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = StorageConfig::new(StorageUrl::Sled(dir.path().join("data")));
    config.durability = durability;
    config.cache_capacity = o.cache_mb << 20;
    let log = open(&config).expect("open");
    let hub = HubName::new("bench").expect("name");
    let hub_config = HubConfig {
        partitions,
        retention: None,
        ..HubConfig::default()
    };
    log.create_hub(&hub, hub_config).await.expect("create");

    let batch = make_batch(batch_records);
    let batch_bytes = batch.len();
    let total_batches = (o.mib << 20) / batch_bytes;
    let writers = partitions as usize * o.inflight;
    let per_writer = total_batches.div_ceil(writers);

    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let log = Arc::clone(&log);
        let partition = PartitionId::new(hub.clone(), (w % partitions as usize) as u32);
        let batch = batch.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_writer);
            for _ in 0..per_writer {
                let t = Instant::now();
                log.append(&partition, batch.clone()).await.expect("append");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("join"));
    }
    let write_time = started.elapsed();
    latencies.sort();
    let batches = latencies.len();
    let bytes = batches * batch_bytes;
    let records = batches * batch_records;

    // Reading copies every batch into an output buffer, as a fetch response does.
    let started = Instant::now();
    let mut read_bytes = 0usize;
    let mut out = Vec::with_capacity(2 << 20);
    for index in 0..partitions {
        let partition = PartitionId::new(hub.clone(), index);
        let mut next = 0;
        loop {
            let read = log.read(&partition, next, 1 << 20).await.expect("read");
            let Some(last) = read.batches.last() else {
                break;
            };
            next = last.last_offset() + 1;
            out.clear();
            for b in &read.batches {
                out.extend_from_slice(b.as_bytes());
            }
            read_bytes += std::hint::black_box(&out).len();
        }
    }
    let read_time = started.elapsed();
    assert_eq!(read_bytes, bytes, "read back everything written");

    let rss = peak_rss_mb("self").map_or("n/a".into(), |mb| format!("{mb:.0}"));
    println!(
        "| {:<7} | {:>2} | {:>5} | {:>8.1} | {:>9.0} | {:>6.2} | {:>6.2} | {:>7.2} | {:>8.1} | {:>9.0} | {rss:>5} |",
        format!("{durability:?}").to_lowercase(),
        partitions,
        batch_records,
        bytes as f64 / 1e6 / write_time.as_secs_f64(),
        records as f64 / write_time.as_secs_f64(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 0.999)),
        read_bytes as f64 / 1e6 / read_time.as_secs_f64(),
        records as f64 / read_time.as_secs_f64(),
    );
}

/// Child side of the recovery bench: fill `dir` with `mib` MiB, print `FILLED`, wait to be killed.
async fn fill(dir: &str, mib: usize, cache_mb: u64) {
    let mut config = StorageConfig::new(StorageUrl::Sled(dir.into()));
    config.cache_capacity = cache_mb << 20;
    let log = open(&config).expect("open");
    let hub = HubName::new("bench").expect("name");
    let config = HubConfig {
        partitions: 8,
        retention: None,
        ..HubConfig::default()
    };
    log.create_hub(&hub, config).await.expect("create");
    let batch = make_batch(1000);
    let per_partition = (mib << 20) / batch.len() / 8;
    let mut tasks = Vec::new();
    for index in 0..8 {
        let (log, batch) = (Arc::clone(&log), batch.clone());
        let partition = PartitionId::new(hub.clone(), index);
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_partition {
                log.append(&partition, batch.clone()).await.expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("join");
    }
    println!("FILLED");
    std::future::pending::<()>().await;
}

async fn recovery(mib: usize, cache_mb: u64) {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let exe = std::env::current_exe().expect("exe");
    let mut child = std::process::Command::new(exe)
        .args([
            "--fill",
            data.to_str().expect("utf-8 path"),
            &mib.to_string(),
            &cache_mb.to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let stdout = child.stdout.take().expect("stdout");
    let line = std::io::BufReader::new(stdout).lines().next();
    assert_eq!(line.and_then(Result::ok).as_deref(), Some("FILLED"));
    let fill_time = started.elapsed();
    let writer_rss = peak_rss_mb(&child.id().to_string()).unwrap_or(f64::NAN);
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");

    let started = Instant::now();
    let mut config = StorageConfig::new(StorageUrl::Sled(data));
    config.cache_capacity = cache_mb << 20;
    let log = open(&config).expect("reopen");
    let open_time = started.elapsed();
    let partition = PartitionId::new(HubName::new("bench").expect("name"), 7);
    let state = log.partition(&partition).await.expect("partition");
    let read = log.read(&partition, 0, 1 << 20).await.expect("read");
    let first_read = started.elapsed();
    assert!(!read.batches.is_empty());
    println!(
        "filled {mib} MiB in {:.1} s ({:.0} MB/s, writer peak RSS {writer_rss:.0} MB); killed with SIGKILL; reopen {:.0} ms; first read served after {:.0} ms; partition 7 high watermark {}",
        fill_time.as_secs_f64(),
        (mib << 20) as f64 / 1e6 / fill_time.as_secs_f64(),
        ms(open_time),
        ms(first_read),
        state.high_watermark
    );
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--fill") {
        let usage = "--fill DIR MIB CACHE_MB";
        let dir = args.get(i + 1).expect(usage);
        let number = |at: usize| -> u64 { args.get(at).and_then(|m| m.parse().ok()).expect(usage) };
        runtime.block_on(fill(dir, number(i + 2) as usize, number(i + 3)));
        return;
    }
    if let Some(mib) = o.recovery_mib {
        runtime.block_on(recovery(mib, o.cache_mb));
        return;
    }
    println!(
        "{} MiB per row, 1 KiB records, {} appenders per partition, sled cache {} MiB\n",
        o.mib, o.inflight, o.cache_mb
    );
    println!(
        "| durability | partitions | batch | write MB/s | write rec/s | append p50 ms | p99 ms | p99.9 ms | read MB/s | read rec/s | peak RSS MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let modes = match o.durability {
        Some(only) => vec![only],
        None => vec![Durability::Strict, Durability::Relaxed],
    };
    for durability in modes {
        for partitions in [1, 8] {
            for batch in [100, 1000] {
                runtime.block_on(run(durability, partitions, batch, &o));
            }
        }
    }
}
