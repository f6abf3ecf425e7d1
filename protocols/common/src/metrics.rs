//! A small process-wide metrics registry every front end reports into, rendered as Prometheus
//! text by the HTTPS front end's `GET /metrics`.
//!
//! Counters only: records and bytes in (appended) and out (delivered to readers) per protocol
//! and hub, and requests per protocol and status. Callers use [`global()`]; tests that need
//! isolated numbers build their own [`Metrics`].
//!
//! The maps sit behind a std `Mutex` that is never held across `.await` and only for a map
//! lookup and an add, so contention stays at the cost of one uncontended lock per request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Which way records moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Appended to the log by a producer or sender.
    In,
    /// Delivered to a consumer or receiver.
    Out,
}

#[derive(Debug, Default, Clone, Copy)]
struct Flow {
    records: u64,
    bytes: u64,
}

/// One records/bytes counter, as [`Metrics::flows`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowTotal {
    /// Which way the records moved.
    pub direction: Direction,
    /// The protocol that moved them.
    pub protocol: &'static str,
    /// The hub.
    pub hub: String,
    /// Records so far.
    pub records: u64,
    /// Payload bytes so far.
    pub bytes: u64,
}

/// A rendered counter family: name, help, direction, which number of a [`Flow`].
type Family = (&'static str, &'static str, Direction, fn(&Flow) -> u64);

#[derive(Debug, Default)]
struct Inner {
    /// (direction, protocol, hub) → totals.
    flows: BTreeMap<(Direction, &'static str, String), Flow>,
    /// (protocol, status) → requests.
    requests: BTreeMap<(&'static str, String), u64>,
    /// Transaction outcome (`opened`, `committed`, `aborted`, `timed_out`) → count.
    transactions: BTreeMap<&'static str, u64>,
}

/// Process-wide counters. Cheap to update from any task.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// The registry of this process.
pub fn global() -> &'static Metrics {
    static GLOBAL: OnceLock<Metrics> = OnceLock::new();
    GLOBAL.get_or_init(Metrics::default)
}

impl Metrics {
    /// An empty registry (tests; the gateway uses [`global()`]).
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves only counters behind; keep counting.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts `records` records of `bytes` payload bytes appended to `hub` over `protocol`.
    pub fn records_in(&self, protocol: &'static str, hub: &str, records: u64, bytes: u64) {
        self.add(Direction::In, protocol, hub, records, bytes);
    }

    /// Counts `records` records of `bytes` bytes delivered from `hub` over `protocol`.
    pub fn records_out(&self, protocol: &'static str, hub: &str, records: u64, bytes: u64) {
        self.add(Direction::Out, protocol, hub, records, bytes);
    }

    fn add(
        &self,
        direction: Direction,
        protocol: &'static str,
        hub: &str,
        records: u64,
        bytes: u64,
    ) {
        let mut inner = self.lock();
        let flow = inner
            .flows
            .entry((direction, protocol, hub.to_owned()))
            .or_default();
        flow.records = flow.records.saturating_add(records);
        flow.bytes = flow.bytes.saturating_add(bytes);
    }

    /// Counts one request over `protocol` that ended with `status` (an HTTP status, a Kafka
    /// error name, an AMQP outcome: whatever the protocol calls it).
    pub fn request(&self, protocol: &'static str, status: &str) {
        let mut inner = self.lock();
        let count = inner
            .requests
            .entry((protocol, status.to_owned()))
            .or_default();
        *count = count.saturating_add(1);
    }

    /// Counts one transaction event: `opened`, `committed`, `aborted` or `timed_out` (a
    /// timed-out transaction is also counted as aborted once its markers are written). Open
    /// transactions are `opened - committed - aborted`.
    pub fn transaction(&self, event: &'static str) {
        let mut inner = self.lock();
        let count = inner.transactions.entry(event).or_default();
        *count = count.saturating_add(1);
    }

    /// Transaction events of kind `event` so far.
    pub fn transactions(&self, event: &'static str) -> u64 {
        self.lock().transactions.get(event).copied().unwrap_or(0)
    }

    /// Records in or out for `protocol` and `hub` so far: `(records, bytes)`.
    pub fn flow(&self, direction: Direction, protocol: &'static str, hub: &str) -> (u64, u64) {
        let inner = self.lock();
        inner
            .flows
            .get(&(direction, protocol, hub.to_owned()))
            .map_or((0, 0), |f| (f.records, f.bytes))
    }

    /// Requests over `protocol` that ended with `status` so far.
    pub fn requests(&self, protocol: &'static str, status: &str) -> u64 {
        let inner = self.lock();
        inner
            .requests
            .get(&(protocol, status.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Every records/bytes counter so far, in (direction, protocol, hub) order: what the
    /// admin API sums per protocol and per hub.
    pub fn flows(&self) -> Vec<FlowTotal> {
        let inner = self.lock();
        inner
            .flows
            .iter()
            .map(|((direction, protocol, hub), flow)| FlowTotal {
                direction: *direction,
                protocol,
                hub: hub.clone(),
                records: flow.records,
                bytes: flow.bytes,
            })
            .collect()
    }

    /// Appends every counter to `out` in the Prometheus text exposition format (0.0.4).
    pub fn render(&self, out: &mut String) {
        let inner = self.lock();
        let families: [Family; 4] = [
            (
                "hubgate_records_in_total",
                "Records appended, by protocol and hub.",
                Direction::In,
                |f| f.records,
            ),
            (
                "hubgate_bytes_in_total",
                "Payload bytes appended, by protocol and hub.",
                Direction::In,
                |f| f.bytes,
            ),
            (
                "hubgate_records_out_total",
                "Records delivered to readers, by protocol and hub.",
                Direction::Out,
                |f| f.records,
            ),
            (
                "hubgate_bytes_out_total",
                "Payload bytes delivered to readers, by protocol and hub.",
                Direction::Out,
                |f| f.bytes,
            ),
        ];
        for (name, help, direction, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((d, protocol, hub), flow) in &inner.flows {
                if *d == direction {
                    let _ = writeln!(
                        out,
                        "{name}{{protocol=\"{}\",hub=\"{}\"}} {}",
                        escape(protocol),
                        escape(hub),
                        value(flow)
                    );
                }
            }
        }
        let name = "hubgate_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} Requests handled, by protocol and status.\n# TYPE {name} counter"
        );
        for ((protocol, status), count) in &inner.requests {
            let _ = writeln!(
                out,
                "{name}{{protocol=\"{}\",status=\"{}\"}} {count}",
                escape(protocol),
                escape(status)
            );
        }
        let name = "hubgate_transactions_total";
        let _ = writeln!(
            out,
            "# HELP {name} Kafka transactions by event (opened, committed, aborted, timed_out).\n# TYPE {name} counter"
        );
        for (event, count) in &inner.transactions {
            let _ = writeln!(out, "{name}{{event=\"{event}\"}} {count}");
        }
        let count = |e: &str| inner.transactions.get(e).copied().unwrap_or(0);
        let open = count("opened").saturating_sub(count("committed") + count("aborted"));
        let name = "hubgate_transactions_open";
        let _ = writeln!(
            out,
            "# HELP {name} Kafka transactions open now.\n# TYPE {name} gauge\n{name} {open}"
        );
    }
}

/// Escapes a Prometheus label value: backslash, double quote and newline.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_renders() {
        let m = Metrics::new();
        m.records_in("http", "orders", 3, 30);
        m.records_in("http", "orders", 2, 20);
        m.records_out("kafka", "orders", 1, 10);
        m.request("http", "201");
        m.request("http", "201");
        m.request("http", "413");
        assert_eq!(m.flow(Direction::In, "http", "orders"), (5, 50));
        assert_eq!(m.flow(Direction::Out, "http", "orders"), (0, 0));
        assert_eq!(m.requests("http", "201"), 2);
        let flows = m.flows();
        assert_eq!(flows.len(), 2);
        assert_eq!(
            flows[0],
            FlowTotal {
                direction: Direction::In,
                protocol: "http",
                hub: "orders".into(),
                records: 5,
                bytes: 50
            }
        );
        assert_eq!(flows[1].direction, Direction::Out);
        let mut text = String::new();
        m.render(&mut text);
        assert!(text.contains("hubgate_records_in_total{protocol=\"http\",hub=\"orders\"} 5\n"));
        assert!(text.contains("hubgate_bytes_in_total{protocol=\"http\",hub=\"orders\"} 50\n"));
        assert!(text.contains("hubgate_records_out_total{protocol=\"kafka\",hub=\"orders\"} 1\n"));
        assert!(text.contains("hubgate_requests_total{protocol=\"http\",status=\"413\"} 1\n"));
        assert!(text.contains("# TYPE hubgate_requests_total counter\n"));
    }

    #[test]
    fn transactions_are_counted_with_the_open_ones() {
        let m = Metrics::new();
        for event in [
            "opened",
            "opened",
            "opened",
            "committed",
            "aborted",
            "timed_out",
        ] {
            m.transaction(event);
        }
        assert_eq!(m.transactions("opened"), 3);
        let mut text = String::new();
        m.render(&mut text);
        assert!(text.contains("hubgate_transactions_total{event=\"committed\"} 1\n"));
        assert!(text.contains("hubgate_transactions_total{event=\"timed_out\"} 1\n"));
        assert!(
            text.contains("# TYPE hubgate_transactions_open gauge\nhubgate_transactions_open 1\n")
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
