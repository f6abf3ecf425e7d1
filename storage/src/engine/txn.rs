//! The engine's side of [`Transactions`]: markers, read-committed reads, producer listing and
//! the coordinator's state.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{Engine, Issued, first_unstable, lock, now_ms, read, write};
use crate::engine::backend::{Backend, PartitionStore};
use crate::error::{Error, Result};
use crate::hub::{PartitionId, PartitionState};
use crate::log::Appended;
use crate::producer;
use crate::record::Offset;
use crate::txn::{
    AbortedTxn, CommittedRead, MarkerKind, ProducerInfo, Transactions, TxnMarker, TxnRecord,
};

#[async_trait]
impl<B: Backend> Transactions for Engine<B> {
    async fn write_marker(&self, id: &PartitionId, marker: TxnMarker) -> Result<Appended> {
        let (hub, partition) = self.partition_entry(id)?;
        let now = now_ms();
        let mut batch = marker.batch(now)?;
        let issued: Issued = {
            let mut tail = lock(&partition.tail);
            if hub.deleted.load(Ordering::SeqCst) {
                return Err(Error::NoSuchHub(id.hub.to_string()));
            }
            let mut producers = lock(&partition.producers);
            let previous = producers.get(&marker.producer_id).cloned();
            if let Some(p) = &previous
                && marker.producer_epoch < p.epoch
            {
                return Err(Error::InvalidProducerEpoch {
                    producer_id: marker.producer_id,
                    epoch: marker.producer_epoch,
                    current: p.epoch,
                });
            }
            let base = tail.meta.next_offset;
            batch.assign(base, 0);
            let aborted = match (marker.kind, previous.as_ref().and_then(|p| p.txn_first)) {
                (MarkerKind::Abort, Some(first)) => Some(AbortedTxn {
                    producer_id: marker.producer_id,
                    first_offset: first,
                    last_offset: base,
                }),
                _ => None,
            };
            let state = producer::close_transaction(previous.as_ref(), marker.producer_epoch);
            let ticket = self.write_locked(
                &partition,
                &mut tail,
                &batch,
                now,
                Some((marker.producer_id, &state)),
                aborted.as_ref(),
            )?;
            producers.insert(marker.producer_id, state);
            tail.first_unstable = first_unstable(&producers);
            if let Some(aborted) = aborted {
                lock(&partition.aborted).push(aborted);
            }
            let appended = Appended {
                base_offset: base,
                last_offset: base,
                log_append_time: None,
                log_start: tail.meta.log_start,
                duplicate: false,
            };
            (appended, ticket)
        };
        self.settle(id, &partition, issued).await
    }

    async fn read_committed(
        &self,
        id: &PartitionId,
        from: Offset,
        max_bytes: usize,
    ) -> Result<CommittedRead> {
        let (_, partition) = self.partition_entry(id)?;
        let tail = *lock(&partition.tail);
        if from < tail.meta.log_start || from > tail.high_watermark {
            return Err(Error::OffsetOutOfRange {
                requested: from,
                log_start: tail.meta.log_start,
                high_watermark: tail.high_watermark,
            });
        }
        let stable = tail.last_stable();
        let batches = if from >= stable {
            Vec::new()
        } else {
            partition.store.read(from, stable, max_bytes)?
        };
        let upper = batches.last().map_or(from, |b| b.last_offset() + 1);
        let aborted = if batches.is_empty() {
            Vec::new()
        } else {
            lock(&partition.aborted)
                .iter()
                .filter(|a| a.last_offset >= from && a.first_offset < upper)
                .copied()
                .collect()
        };
        Ok(CommittedRead {
            batches,
            state: tail.state(),
            aborted,
        })
    }

    async fn wait_stable(
        &self,
        id: &PartitionId,
        offset: Offset,
        deadline: Instant,
    ) -> Result<PartitionState> {
        self.wait_until(id, deadline, |state| state.last_stable > offset)
            .await
    }

    async fn producers(&self, id: &PartitionId) -> Result<Vec<ProducerInfo>> {
        let (_, partition) = self.partition_entry(id)?;
        let _tail = lock(&partition.tail);
        let producers = lock(&partition.producers);
        let mut out: Vec<ProducerInfo> = producers
            .iter()
            .map(|(producer_id, state)| ProducerInfo {
                producer_id: *producer_id,
                producer_epoch: state.epoch,
                last_sequence: state.batches.back().map_or(-1, |b| b.last_sequence),
                last_timestamp: -1,
                txn_start: state.txn_first,
            })
            .collect();
        out.sort_by_key(|p| p.producer_id);
        Ok(out)
    }

    async fn txns(&self) -> Result<Vec<(String, TxnRecord)>> {
        Ok(read(&self.txns)
            .iter()
            .map(|(id, record)| (id.clone(), record.clone()))
            .collect())
    }

    async fn put_txn(&self, id: &str, record: Option<&TxnRecord>) -> Result<()> {
        {
            // Writers are serialised so the backend write and the map update keep one order.
            let mut txns = write(&self.txns);
            self.backend.save_txn(id, record)?;
            match record {
                Some(record) => {
                    txns.insert(id.to_owned(), record.clone());
                }
                None => {
                    txns.remove(id);
                }
            }
        }
        self.durable().await
    }
}
