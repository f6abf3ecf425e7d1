//! Kafka benchmark against a running hubgate, driven by rskafka (a pure-Rust client), for the
//! targets in the design notes (§6). Four phases, each optional:
//!
//! 1. `produce`: `--producers` partition clients (one connection each) send batches of
//!    `--batch` records of `--record-bytes` for `--seconds`, `--window` requests in flight per
//!    connection. rskafka always asks for `acks=all`, and with hubgate's default (strict)
//!    durability the ack is sent only after the append is synced. Reports records/s, MB/s and
//!    the ack latency of each request.
//! 2. `latency`: the same producers at a fixed rate, half of what phase 1 reached (or
//!    `--rate`), for `--latency-seconds`. Each request is timed from when it was due, so a
//!    stalled gateway shows up in the latency rather than as a lower rate.
//! 3. `fetch`: every partition read back from its start to the high watermark seen when the
//!    phase begins, as fast as it goes, `--fetch-bytes` per request, one connection per
//!    partition. Reports MB/s of record payload.
//! 4. `idle`: `--idle-connections` TCP connections each do one ApiVersions round trip and then
//!    stay open while phase 1 runs again for `--idle-seconds`.
//!
//! With `--pid` (the gateway's process id) each phase also reports the gateway's peak RSS
//! (sampled from `/proc/PID/status`) and CPU use; the summary adds its `VmHWM`.
//!
//! ```text
//! cargo build --release -p hubgate
//! target/release/hubgate serve --data-dir "$(mktemp -d)" --amqp-listen off --http-listen off &
//! cargo bench -p hubgate-kafka --bench kafka_bench -- --addr 127.0.0.1:9092 --pid $!
//! ```
//!
//! Options (all optional): `--addr HOST:PORT` (127.0.0.1:9092), `--topic NAME` (kafka-bench),
//! `--partitions N` (4, used when the topic is created), `--producers N` (4), `--batch N`
//! records per request (200), `--record-bytes N` (1024), `--window N` (4), `--seconds N` (10),
//! `--rate N` records/s for phase 2 (half of phase 1), `--latency-seconds N` (10),
//! `--fetch-bytes N` (8388608), `--idle-connections N` (1000), `--idle-seconds N` (5),
//! `--pid N`, `--phases LIST` (produce,latency,fetch,idle).
//!
//! Memory use of the bench itself is bounded: latency samples are capped at
//! [`MAX_SAMPLES`] per phase, in-flight requests by `--window` (phase 1) or
//! [`MAX_LATE_PER_PRODUCER`] (phase 2), and a fetch holds one response per partition.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use rskafka::client::error::{Error as ClientError, ProtocolError};
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::MissedTickBehavior;

/// Latency samples kept per phase (4 bytes each); later requests are counted but not timed.
const MAX_SAMPLES: usize = 4_000_000;
/// Requests a producer may have outstanding in phase 2 before it waits (and falls behind).
const MAX_LATE_PER_PRODUCER: usize = 64;
/// Kernel clock ticks per second for `/proc/*/stat` CPU times (100 on Linux everywhere).
const CLOCK_TICKS: f64 = 100.0;

/// Drives a running gateway's Kafka listener and reports throughput and latency.
#[derive(Debug, Clone, clap::Parser)]
struct Options {
    /// Kafka address of the running gateway.
    #[arg(long, default_value = "127.0.0.1:9092")]
    addr: String,
    /// Topic to write and read (created if missing).
    #[arg(long, default_value = "kafka-bench")]
    topic: String,
    /// Partitions of the topic, one producer connection each up to `--producers`.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(i32).range(1..))]
    partitions: i32,
    /// Concurrent producers.
    #[arg(long, default_value_t = 4)]
    producers: usize,
    /// Records per produce request.
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// Bytes per record value.
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    /// Produce requests in flight per producer.
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Seconds of the full-rate produce phase.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Records/s of the latency phase [default: half the measured maximum].
    #[arg(long)]
    rate: Option<u64>,
    /// Seconds of the latency phase.
    #[arg(long, default_value_t = 10)]
    latency_seconds: u64,
    /// Largest fetch response asked for, in bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    fetch_bytes: i32,
    /// Idle connections held open during the last phase.
    #[arg(long, default_value_t = 1000)]
    idle_connections: usize,
    /// Seconds of the idle-connections phase.
    #[arg(long, default_value_t = 5)]
    idle_seconds: u64,
    /// The gateway's process id, to report its RSS and CPU.
    #[arg(long)]
    pid: Option<u32>,
    /// Phases to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "produce,latency,fetch,idle"
    )]
    phases: Vec<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn options() -> Options {
    let o = <Options as clap::Parser>::parse();
    assert!(
        o.producers > 0 && o.batch > 0 && o.window > 0,
        "counts must be at least 1"
    );
    o
}

/// Ack latencies in microseconds, at most [`MAX_SAMPLES`].
#[derive(Debug, Default)]
struct Samples(Vec<u32>);

impl Samples {
    fn push(&mut self, d: Duration) {
        if self.0.len() < MAX_SAMPLES {
            self.0.push(d.as_micros().min(u32::MAX as u128) as u32);
        }
    }

    fn merge(&mut self, other: Samples) {
        let room = MAX_SAMPLES - self.0.len();
        self.0.extend(other.0.into_iter().take(room));
    }

    /// The `p` quantile in milliseconds (nearest rank); `sort` first.
    fn ms(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.0[i]) / 1e3
    }
}

/// What one phase measured.
#[derive(Debug, Default)]
struct Outcome {
    records: u64,
    bytes: u64,
    seconds: f64,
    latency: Samples,
    gateway: Usage,
    bench_cpu: f64,
}

/// The gateway's resource use during a phase.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    /// Share of one core, in percent.
    cpu: Option<f64>,
    peak_rss_kib: Option<u64>,
}

/// One field of `/proc/PID/status` in KiB, e.g. `VmRSS`.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU seconds of a process (`self` or a pid) from `/proc/…/stat`.
fn cpu_seconds(process: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{process}/stat")).ok()?;
    // The command name may contain spaces; fields are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLOCK_TICKS)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Samples the gateway's RSS every 100 ms and measures CPU use of gateway and bench while a
/// phase runs.
struct Monitor {
    pid: Option<u32>,
    started: Instant,
    gateway_cpu: Option<f64>,
    bench_cpu: Option<f64>,
    sampler: Option<(oneshot::Sender<()>, JoinHandle<u64>)>,
}

impl Monitor {
    fn start(pid: Option<u32>) -> Self {
        let sampler = pid.map(|pid| {
            let (stop, mut stopped) = oneshot::channel();
            let task = tokio::spawn(async move {
                let mut peak = 0;
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    peak = peak.max(status_kib(pid, "VmRSS:").unwrap_or(0));
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = &mut stopped => return peak,
                    }
                }
            });
            (stop, task)
        });
        Self {
            pid,
            started: Instant::now(),
            gateway_cpu: pid.and_then(|p| cpu_seconds(&p.to_string())),
            bench_cpu: cpu_seconds("self"),
            sampler,
        }
    }

    async fn finish(self, outcome: &mut Outcome) {
        let wall = self.started.elapsed().as_secs_f64();
        let share =
            |before: Option<f64>, after: Option<f64>| Some((after? - before?) / wall * 100.0);
        outcome.bench_cpu = share(self.bench_cpu, cpu_seconds("self")).unwrap_or(f64::NAN);
        outcome.gateway.cpu = share(
            self.gateway_cpu,
            self.pid.and_then(|p| cpu_seconds(&p.to_string())),
        );
        if let Some((stop, task)) = self.sampler {
            let _ = stop.send(());
            outcome.gateway.peak_rss_kib = task.await.ok();
        }
    }
}

async fn connect(o: &Options) -> Client {
    ClientBuilder::new(vec![o.addr.clone()])
        .client_id("kafka-bench")
        .build()
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", o.addr))
}

async fn create_topic(o: &Options) {
    let client = connect(o).await;
    let controller = client.controller_client().expect("controller client");
    match controller
        .create_topic(o.topic.as_str(), o.partitions, 1, 5_000)
        .await
    {
        Ok(())
        | Err(ClientError::ServerError {
            protocol_error: ProtocolError::TopicAlreadyExists,
            ..
        }) => {}
        Err(e) => panic!("create topic {}: {e}", o.topic),
    }
}

/// A partition client on its own connection (rskafka opens one per partition client).
async fn partition_client(o: &Options, partition: i32) -> Arc<PartitionClient> {
    let client = connect(o).await;
    let partition = client
        .partition_client(o.topic.as_str(), partition, UnknownTopicHandling::Retry)
        .await
        .unwrap_or_else(|e| panic!("partition {partition}: {e}"));
    Arc::new(partition)
}

async fn producers(o: &Options) -> Vec<Arc<PartitionClient>> {
    let mut clients = Vec::with_capacity(o.producers);
    for i in 0..o.producers {
        clients.push(partition_client(o, i as i32 % o.partitions).await);
    }
    clients
}

fn batch(o: &Options) -> Vec<Record> {
    let record = Record {
        key: None,
        value: Some(vec![b'k'; o.record_bytes]),
        headers: BTreeMap::new(),
        timestamp: Utc::now(),
    };
    vec![record; o.batch]
}

/// Phase 1 (and the load in phase 4): closed loop, `window` requests in flight per producer.
async fn produce(o: &Options, clients: &[Arc<PartitionClient>], seconds: u64) -> Outcome {
    let monitor = Monitor::start(o.pid);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut lanes = JoinSet::new();
    for client in clients {
        for _ in 0..o.window {
            let (client, o) = (Arc::clone(client), o.clone());
            lanes.spawn(async move {
                let mut latency = Samples::default();
                let mut requests = 0u64;
                while Instant::now() < deadline {
                    let records = batch(&o);
                    let sent = Instant::now();
                    client
                        .produce(records, Compression::NoCompression)
                        .await
                        .expect("produce");
                    latency.push(sent.elapsed());
                    requests += 1;
                }
                (requests, latency)
            });
        }
    }
    let mut outcome = Outcome::default();
    while let Some(lane) = lanes.join_next().await {
        let (requests, latency) = lane.expect("producer task");
        outcome.records += requests * o.batch as u64;
        outcome.latency.merge(latency);
    }
    outcome.seconds = start.elapsed().as_secs_f64();
    outcome.bytes = outcome.records * o.record_bytes as u64;
    monitor.finish(&mut outcome).await;
    outcome
}

/// Phase 2: open loop at `rate` records/s over all producers.
async fn produce_at_rate(o: &Options, clients: &[Arc<PartitionClient>], rate: u64) -> Outcome {
    let monitor = Monitor::start(o.pid);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(o.latency_seconds);
    // Each producer sends one batch per period; together they make `rate`.
    let period = Duration::from_secs_f64((o.batch * clients.len()) as f64 / rate.max(1) as f64);
    let mut producers = JoinSet::new();
    for (i, client) in clients.iter().enumerate() {
        let (client, o) = (Arc::clone(client), o.clone());
        // Spread the producers over one period.
        let first =
            tokio::time::Instant::from_std(start) + period.mul_f64(i as f64 / clients.len() as f64);
        producers.spawn(async move {
            let mut tick = tokio::time::interval_at(first, period);
            tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
            let slots = Arc::new(Semaphore::new(MAX_LATE_PER_PRODUCER));
            let mut requests = JoinSet::new();
            let mut latency = Samples::default();
            let mut sent = 0u64;
            loop {
                let due = tick.tick().await.into_std();
                if due >= deadline {
                    break;
                }
                while let Some(done) = requests.try_join_next() {
                    latency.push(done.expect("request task"));
                }
                let slot = Arc::clone(&slots)
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let client = Arc::clone(&client);
                let records = batch(&o);
                requests.spawn(async move {
                    client
                        .produce(records, Compression::NoCompression)
                        .await
                        .expect("produce");
                    drop(slot);
                    due.elapsed()
                });
                sent += 1;
            }
            while let Some(done) = requests.join_next().await {
                latency.push(done.expect("request task"));
            }
            (sent, latency)
        });
    }
    let mut outcome = Outcome::default();
    while let Some(producer) = producers.join_next().await {
        let (requests, latency) = producer.expect("producer task");
        outcome.records += requests * o.batch as u64;
        outcome.latency.merge(latency);
    }
    outcome.seconds = start.elapsed().as_secs_f64();
    outcome.bytes = outcome.records * o.record_bytes as u64;
    monitor.finish(&mut outcome).await;
    outcome
}

/// Phase 3: every partition from its start to the current high watermark.
async fn fetch(o: &Options) -> Outcome {
    let mut readers = Vec::new();
    for p in 0..o.partitions {
        let client = partition_client(o, p).await;
        let from = client
            .get_offset(OffsetAt::Earliest)
            .await
            .expect("earliest");
        let to = client.get_offset(OffsetAt::Latest).await.expect("latest");
        readers.push((client, from, to));
    }
    let monitor = Monitor::start(o.pid);
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (client, from, to) in readers {
        let max_bytes = o.fetch_bytes;
        tasks.spawn(async move {
            let (mut offset, mut records, mut bytes) = (from, 0u64, 0u64);
            let mut latency = Samples::default();
            while offset < to {
                let asked = Instant::now();
                let (got, _high_watermark) = client
                    .fetch_records(offset, 1..max_bytes, 1_000)
                    .await
                    .expect("fetch");
                latency.push(asked.elapsed());
                for r in &got {
                    if r.offset >= offset && r.offset < to {
                        records += 1;
                        bytes += r.record.approximate_size() as u64;
                    }
                }
                offset = got.last().map_or(offset, |r| r.offset + 1).max(offset);
            }
            (records, bytes, latency)
        });
    }
    let mut outcome = Outcome::default();
    while let Some(task) = tasks.join_next().await {
        let (records, bytes, latency) = task.expect("fetch task");
        outcome.records += records;
        outcome.bytes += bytes;
        outcome.latency.merge(latency);
    }
    outcome.seconds = start.elapsed().as_secs_f64();
    monitor.finish(&mut outcome).await;
    outcome
}

/// An ApiVersions v0 request (header v1, client id `kafka-bench-idle`), size prefix included.
fn api_versions_request(correlation_id: i32) -> Vec<u8> {
    let client_id = b"kafka-bench-idle";
    let mut body = Vec::with_capacity(32);
    body.extend_from_slice(&18i16.to_be_bytes()); // ApiVersions
    body.extend_from_slice(&0i16.to_be_bytes()); // version 0
    body.extend_from_slice(&correlation_id.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Opens a connection and completes one ApiVersions round trip on it.
async fn idle_connection(addr: &str, correlation_id: i32) -> std::io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(&api_versions_request(correlation_id))
        .await?;
    let size = stream.read_i32().await?;
    if !(8..=1024 * 1024).contains(&size) {
        return Err(std::io::Error::other(format!("response size {size}")));
    }
    let mut response = vec![0; size as usize];
    stream.read_exact(&mut response).await?;
    let echoed = i32::from_be_bytes([response[0], response[1], response[2], response[3]]);
    let error_code = i16::from_be_bytes([response[4], response[5]]);
    if echoed != correlation_id || error_code != 0 {
        return Err(std::io::Error::other(format!(
            "ApiVersions answered correlation id {echoed}, error code {error_code}"
        )));
    }
    Ok(stream)
}

/// Phase 4: idle connections held open while phase 1 runs briefly.
async fn idle(o: &Options, clients: &[Arc<PartitionClient>]) -> (Outcome, Option<u64>) {
    let before = o.pid.and_then(|p| status_kib(p, "VmRSS:"));
    let mut idle = Vec::with_capacity(o.idle_connections);
    for i in 0..o.idle_connections {
        idle.push(
            idle_connection(&o.addr, i as i32)
                .await
                .unwrap_or_else(|e| panic!("idle connection {i}: {e}")),
        );
    }
    let outcome = produce(o, clients, o.idle_seconds).await;
    drop(idle);
    (outcome, before)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("-".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
}

fn row(name: &str, r: &mut Outcome) {
    r.latency.0.sort_unstable();
    let l = &r.latency;
    println!(
        "| {name} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.0} % | {} |",
        r.records as f64 / r.seconds,
        r.bytes as f64 / r.seconds / 1e6,
        l.ms(0.5),
        l.ms(0.9),
        l.ms(0.99),
        l.ms(0.999),
        r.gateway.cpu.map_or("-".into(), |c| format!("{c:.0} %")),
        r.bench_cpu,
        mib(r.gateway.peak_rss_kib),
    );
}

#[tokio::main]
async fn main() {
    let o = options();
    let phase = |name: &str| o.phases.iter().any(|p| p == name);
    let load_before = load_average();
    println!(
        "kafka bench: {} producers on {} partitions of {}, {} records of {} B per request, \
         window {}",
        o.producers, o.partitions, o.topic, o.batch, o.record_bytes, o.window
    );
    create_topic(&o).await;
    let clients = producers(&o).await;
    let mut results: Vec<(String, Outcome)> = Vec::new();

    let mut max_rate = None;
    if phase("produce") {
        let r = produce(&o, &clients, o.seconds).await;
        println!(
            "produce: {:.0} records/s, {:.1} MB/s over {:.1} s",
            r.records as f64 / r.seconds,
            r.bytes as f64 / r.seconds / 1e6,
            r.seconds
        );
        max_rate = Some((r.records as f64 / r.seconds) as u64);
        results.push(("produce, max".into(), r));
    }
    if phase("latency") {
        match o.rate.or(max_rate.map(|r| r / 2)) {
            Some(rate) => {
                let r = produce_at_rate(&o, &clients, rate).await;
                println!("latency: {rate} records/s asked");
                results.push((format!("produce at {rate} rec/s"), r));
            }
            None => println!("latency: skipped (needs the produce phase or --rate)"),
        }
    }
    if phase("fetch") {
        let r = fetch(&o).await;
        println!(
            "fetch: {} records, {:.1} MB/s",
            r.records,
            r.bytes as f64 / r.seconds / 1e6
        );
        results.push(("fetch catch-up".into(), r));
    }
    let mut idle_rss_before = None;
    if phase("idle") {
        let (r, before) = idle(&o, &clients).await;
        idle_rss_before = before;
        results.push((format!("produce + {} idle conns", o.idle_connections), r));
    }

    println!();
    println!(
        "| phase | records/s | MB/s | p50 ms | p90 ms | p99 ms | p99.9 ms | gateway CPU | \
         bench CPU | gateway peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, r) in &mut results {
        row(name, r);
    }
    println!();
    println!(
        "latency: produce = ack of each request (acks=all); fetch = each fetch round trip. \
         CPU in % of one core (200 % = two cores busy)."
    );
    if let Some(pid) = o.pid {
        println!(
            "gateway pid {pid}: RSS before idle connections {}, VmRSS now {}, VmHWM {}",
            mib(idle_rss_before),
            mib(status_kib(pid, "VmRSS:")),
            mib(status_kib(pid, "VmHWM:"))
        );
    }
    println!(
        "load average (1/5/15 min): {load_before} at start, {} at end",
        load_average()
    );
}
