//! AMQP ingest benchmark: Event Hubs batches (message format `0x80013700`) of 1 KiB events sent
//! to a running hubgate by fe2o3-amqp clients, one link per connection, a few transfers in
//! flight per link. Reports events/s, MB/s and the accept latency of each transfer.
//!
//! ```text
//! cargo build --release -p hubgate && target/release/hubgate serve --data-dir /tmp/bench ...
//! cargo bench -p hubgate-amqp --bench amqp_ingest -- --addr 127.0.0.1:5672 --connections 4
//! ```
//!
//! Options (all optional): `--addr HOST:PORT` (127.0.0.1:5672), `--hub NAME` (amqp-bench),
//! `--connections N` (4), `--events-per-batch N` (500), `--event-bytes N` (1024),
//! `--window N` transfers in flight per link (4), `--seconds N` (10).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use fe2o3_amqp::link::delivery::Sendable;
use fe2o3_amqp::types::messaging::{Batch, Body, Data, Message, message::__private::Serializable};
use fe2o3_amqp::types::primitives::{Binary, Value};
use fe2o3_amqp::{Connection, Sender, Session};

const BATCH_FORMAT: u32 = 0x8001_3700;

/// Sends Event Hubs batches to a running gateway's AMQP listener and reports throughput.
#[derive(Debug, Clone, clap::Parser)]
struct Options {
    /// AMQP address of the running gateway.
    #[arg(long, default_value = "127.0.0.1:5672")]
    addr: String,
    /// Hub to send to (created if missing).
    #[arg(long, default_value = "amqp-bench")]
    hub: String,
    /// Connections, one sender link each.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Events per transfer (an Event Hubs batch when above 1).
    #[arg(long, default_value_t = 500)]
    events_per_batch: usize,
    /// Bytes per event body.
    #[arg(long, default_value_t = 1024)]
    event_bytes: usize,
    /// Transfers in flight per link.
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Seconds to send for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn options() -> Options {
    <Options as clap::Parser>::parse()
}

/// One transfer: `events_per_batch` encoded messages of `event_bytes` each.
fn batch(o: &Options) -> Message<Body<Value>> {
    let event: Message<Body<Value>> = Message::builder()
        .body(Body::Data(Batch::new(vec![Data(Binary::from(
            vec![b'e'; o.event_bytes],
        ))])))
        .build();
    let bytes = serde_amqp::to_vec(&Serializable(&event)).expect("encode event");
    let sections: Vec<Data> = (0..o.events_per_batch)
        .map(|_| Data(Binary::from(bytes.clone())))
        .collect();
    Message::builder()
        .body(Body::Data(Batch::new(sections)))
        .build()
}

struct LinkResult {
    batches: u64,
    latencies: Vec<Duration>,
}

async fn run_link(o: Options, index: usize, deadline: Instant) -> LinkResult {
    let url = format!("amqp://{}", o.addr);
    let mut conn = Connection::open(format!("bench-{index}"), url.as_str())
        .await
        .expect("connect");
    let mut session = Session::begin(&mut conn).await.expect("begin");
    let address = format!("{}/Partitions/{}", o.hub, index % 4);
    let mut sender = Sender::attach(&mut session, format!("bench-{index}"), address)
        .await
        .expect("attach");
    let message = batch(&o);
    let mut in_flight = VecDeque::new();
    let mut result = LinkResult {
        batches: 0,
        latencies: Vec::new(),
    };
    while Instant::now() < deadline || !in_flight.is_empty() {
        if Instant::now() < deadline && in_flight.len() < o.window {
            let sendable = Sendable::builder()
                .message(message.clone())
                .message_format(BATCH_FORMAT)
                .build();
            let fut = sender.send_batchable(sendable).await.expect("send");
            in_flight.push_back((Instant::now(), fut));
            continue;
        }
        let Some((sent, fut)) = in_flight.pop_front() else {
            break;
        };
        let outcome = fut.await.expect("outcome");
        assert!(outcome.is_accepted(), "transfer not accepted: {outcome:?}");
        result.latencies.push(sent.elapsed());
        result.batches += 1;
    }
    sender.close().await.ok();
    session.end().await.ok();
    conn.close().await.ok();
    result
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let o = options();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(o.seconds);
    let tasks: Vec<_> = (0..o.connections)
        .map(|i| tokio::spawn(run_link(o.clone(), i, deadline)))
        .collect();
    let mut batches = 0;
    let mut latencies = Vec::new();
    for task in tasks {
        let r = task.await.expect("link task");
        batches += r.batches;
        latencies.extend(r.latencies);
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let events = batches * o.events_per_batch as u64;
    let bytes = events * o.event_bytes as u64;
    println!(
        "amqp ingest: {} connections, {} events/transfer of {} B, window {}, {:.1} s",
        o.connections, o.events_per_batch, o.event_bytes, o.window, elapsed
    );
    println!(
        "  {events} events in {batches} transfers: {:.0} events/s, {:.1} MB/s",
        events as f64 / elapsed,
        bytes as f64 / elapsed / 1e6
    );
    println!(
        "  transfer accept latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        percentile(&latencies, 1.0).as_secs_f64() * 1e3
    );
}
