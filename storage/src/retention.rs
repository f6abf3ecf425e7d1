//! The background task that enforces retention.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::now_ms;
use crate::log::SharedStorage;

/// Runs [`Log::enforce_retention`](crate::Log::enforce_retention) every `every` until
/// `shutdown` is cancelled. Failures are logged and retried on the next tick.
pub fn spawn_retention(
    log: SharedStorage,
    every: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            match log.enforce_retention(now_ms()).await {
                Ok(report) if report.batches > 0 => {
                    tracing::info!(
                        batches = report.batches,
                        bytes = report.bytes,
                        "retention removed old batches"
                    );
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "retention pass failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        EncodeOptions, HubConfig, HubName, PartitionId, Record, RecordBatch, StorageConfig,
        StorageUrl, open,
    };

    #[tokio::test]
    async fn the_background_task_applies_retention_until_cancelled() {
        let log = open(&StorageConfig::new(StorageUrl::Memory)).unwrap();
        let hub = HubName::new("h").unwrap();
        let config = HubConfig {
            partitions: 1,
            retention: Some(Duration::from_secs(60)),
            ..HubConfig::default()
        };
        log.create_hub(&hub, config).await.unwrap();
        let p = PartitionId::new(hub, 0);
        let old = Record {
            timestamp: 1_000,
            value: Some("old".into()),
            ..Record::default()
        };
        let fresh = Record {
            timestamp: now_ms(),
            ..old.clone()
        };
        for record in [old, fresh] {
            let batch = RecordBatch::encode(&[record], &EncodeOptions::default()).unwrap();
            log.append(&p, batch).await.unwrap();
        }
        let shutdown = CancellationToken::new();
        let task = spawn_retention(log.clone(), Duration::from_millis(5), shutdown.clone());
        let mut state = log
            .wait_for(&p, 0, tokio::time::Instant::now())
            .await
            .unwrap();
        for _ in 0..1000 {
            if state.log_start > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            state = log.partition(&p).await.unwrap();
        }
        assert_eq!(
            (state.log_start, state.high_watermark),
            (1, 2),
            "the old batch went, the fresh one stayed"
        );
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the task stops when cancelled")
            .unwrap();
    }
}
