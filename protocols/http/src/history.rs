//! `GET /admin/history`: a small in-memory history of the record counters, one sample every
//! [`INTERVAL`] over the last [`CAPACITY`] samples (10 minutes), so the console can draw a
//! chart of the last minutes without a metrics server.
//!
//! Samples are cumulative totals per protocol (records and bytes, in and out); a rate is the
//! difference of two samples over their time difference. The buffer is bounded and the
//! sampler stops once the router that owns the history is dropped.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use hubgate_protocol::Right;
use hubgate_protocol::metrics::{Direction, FlowTotal, Metrics};
use serde::Serialize;

use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

/// Time between two samples.
pub(crate) const INTERVAL: Duration = Duration::from_secs(5);
/// Samples kept: 10 minutes at [`INTERVAL`].
pub(crate) const CAPACITY: usize = 120;

/// Totals of one protocol at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Totals {
    pub(crate) records_in: u64,
    pub(crate) bytes_in: u64,
    pub(crate) records_out: u64,
    pub(crate) bytes_out: u64,
}

/// One sample: when, and the totals per protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Sample {
    pub(crate) at_ms: i64,
    pub(crate) protocols: BTreeMap<&'static str, Totals>,
}

/// The bounded sample buffer. The std lock is held only to push or copy, never across
/// `.await`.
#[derive(Debug, Default)]
pub(crate) struct History {
    samples: Mutex<VecDeque<Sample>>,
}

impl History {
    /// A history sampled from `metrics` every [`INTERVAL`] by a task on the current runtime
    /// (none outside a runtime: then only [`History::record`] adds samples).
    pub(crate) fn spawn(metrics: &'static Metrics) -> Arc<Self> {
        let history = Arc::new(Self::default());
        history.record(crate::time::now_ms(), metrics);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(sample(Arc::downgrade(&history), metrics));
        }
        history
    }

    /// Adds a sample of `metrics` taken at `at_ms`, dropping the oldest beyond [`CAPACITY`].
    pub(crate) fn record(&self, at_ms: i64, metrics: &Metrics) {
        let sample = Sample {
            at_ms,
            protocols: totals(metrics),
        };
        let mut samples = self.lock();
        if samples.len() >= CAPACITY {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// Every sample kept, oldest first.
    pub(crate) fn samples(&self) -> Vec<Sample> {
        self.lock().iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Sample>> {
        // Only samples are behind the lock; a panic elsewhere leaves them usable.
        self.samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The totals of every protocol, summed over hubs.
pub(crate) fn totals(metrics: &Metrics) -> BTreeMap<&'static str, Totals> {
    let mut out: BTreeMap<&'static str, Totals> = BTreeMap::new();
    for flow in metrics.flows() {
        out.entry(flow.protocol).or_default().add(&flow);
    }
    out
}

impl Totals {
    /// Adds one counter to the side its direction names.
    pub(crate) fn add(&mut self, flow: &FlowTotal) {
        let (records, bytes) = match flow.direction {
            Direction::In => (&mut self.records_in, &mut self.bytes_in),
            Direction::Out => (&mut self.records_out, &mut self.bytes_out),
        };
        *records = records.saturating_add(flow.records);
        *bytes = bytes.saturating_add(flow.bytes);
    }
}

async fn sample(history: Weak<History>, metrics: &'static Metrics) {
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate; `spawn` already took that sample
    loop {
        ticks.tick().await;
        let Some(history) = history.upgrade() else {
            return;
        };
        history.record(crate::time::now_ms(), metrics);
    }
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(history): Extension<Arc<History>>,
    headers: HeaderMap,
    peer: Peer,
) -> Result<Json<serde_json::Value>, ApiError> {
    crate::access::namespace(&state, &headers, &peer, Right::Listen)?;
    Ok(Json(serde_json::json!({
        "interval_secs": INTERVAL.as_secs(),
        "capacity": CAPACITY,
        "samples": history.samples(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_summed_per_protocol() {
        let metrics = Metrics::new();
        let history = History::default();
        metrics.records_in("kafka", "a", 2, 20);
        metrics.records_in("kafka", "b", 1, 10);
        metrics.records_out("amqp", "a", 3, 30);
        for i in 0..(CAPACITY as i64 + 5) {
            history.record(i, &metrics);
        }
        let samples = history.samples();
        assert_eq!(samples.len(), CAPACITY);
        assert_eq!(samples[0].at_ms, 5, "the oldest samples were dropped");
        let last = &samples[CAPACITY - 1];
        assert_eq!(
            last.protocols["kafka"],
            Totals {
                records_in: 3,
                bytes_in: 30,
                records_out: 0,
                bytes_out: 0
            }
        );
        assert_eq!(last.protocols["amqp"].records_out, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn sampler_ticks_and_stops_with_its_history() {
        let history = History::spawn(hubgate_protocol::metrics::global());
        assert_eq!(history.samples().len(), 1);
        for _ in 0..3 {
            tokio::time::sleep(INTERVAL).await;
            tokio::task::yield_now().await;
        }
        assert!(history.samples().len() >= 3, "{}", history.samples().len());
        let weak = Arc::downgrade(&history);
        drop(history);
        tokio::time::sleep(INTERVAL * 2).await;
        assert!(weak.upgrade().is_none());
    }
}
