//! Idempotent-producer state: per (producer id, partition), the producer's epoch and its last
//! few batches, so that a retried batch is recognised and not stored twice.
//!
//! The rules follow Kafka's idempotent producer (KIP-98):
//! - a batch from an older epoch than the one seen is refused ([`Error::InvalidProducerEpoch`]);
//! - a newer epoch starts over: its first batch must have sequence 0;
//! - within an epoch each batch must continue the sequence (`first == last + 1`, wrapping
//!   after `i32::MAX`); a batch equal to one of the last [`RETAINED_BATCHES`] is a duplicate
//!   and answered with the offsets it was stored at; an older one is reported as
//!   [`Error::DuplicateSequence`], anything else as [`Error::OutOfOrderSequence`];
//! - a producer with no state in the partition may start at any sequence (its state may have
//!   been lost with the records it described).
//!
//! The state is written in the same atomic write as the batch it describes.

use std::collections::VecDeque;

use crate::batch::BatchHeader;
use crate::error::{Error, Result};
use crate::record::Offset;

/// How many batches per producer and partition are remembered for duplicate detection
/// (Kafka's `NUM_BATCHES_TO_RETAIN`, also the most in-flight requests an idempotent producer
/// may have).
pub const RETAINED_BATCHES: usize = 5;

/// One remembered batch of an idempotent producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SequencedBatch {
    pub(crate) first_sequence: i32,
    pub(crate) last_sequence: i32,
    pub(crate) base_offset: Offset,
    pub(crate) last_offset: Offset,
    /// Log-append time stamped on the batch, or `i64::MIN` for create time.
    pub(crate) log_append_time: i64,
}

/// A producer's state in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProducerState {
    pub(crate) epoch: i16,
    /// Oldest first.
    pub(crate) batches: VecDeque<SequencedBatch>,
    /// First offset of the producer's open transaction in the partition, if one is open.
    pub(crate) txn_first: Option<Offset>,
}

/// What to do with an idempotent batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceCheck {
    /// Store it.
    Append,
    /// Already stored: answer with these offsets.
    Duplicate(SequencedBatch),
}

/// The sequence of the last record of a batch starting at `first` with `delta` more records.
pub(crate) fn last_sequence(first: i32, delta: i32) -> i32 {
    ((i64::from(first) + i64::from(delta)) % (i64::from(i32::MAX) + 1)) as i32
}

fn next_sequence(last: i32) -> i32 {
    if last == i32::MAX { 0 } else { last + 1 }
}

/// Checks an idempotent batch's epoch and sequence against the producer's `state`.
///
/// # Errors
/// [`Error::InvalidProducerEpoch`], [`Error::OutOfOrderSequence`] or
/// [`Error::DuplicateSequence`] as described in the [module docs](self).
pub(crate) fn check(state: Option<&ProducerState>, header: &BatchHeader) -> Result<SequenceCheck> {
    let producer_id = header.producer_id;
    let epoch = header.producer_epoch;
    let first = header.base_sequence;
    let last = last_sequence(first, header.last_offset_delta);
    let Some(state) = state else {
        return Ok(SequenceCheck::Append);
    };
    if epoch < state.epoch {
        return Err(Error::InvalidProducerEpoch {
            producer_id,
            epoch,
            current: state.epoch,
        });
    }
    if epoch > state.epoch {
        return if first == 0 {
            Ok(SequenceCheck::Append)
        } else {
            Err(Error::OutOfOrderSequence {
                producer_id,
                expected: 0,
                received: first,
            })
        };
    }
    if let Some(stored) = state
        .batches
        .iter()
        .find(|b| b.first_sequence == first && b.last_sequence == last)
    {
        return Ok(SequenceCheck::Duplicate(*stored));
    }
    let Some(newest) = state.batches.back() else {
        return Ok(SequenceCheck::Append);
    };
    let expected = next_sequence(newest.last_sequence);
    if first == expected {
        return Ok(SequenceCheck::Append);
    }
    let oldest = state.batches.front().map_or(expected, |b| b.first_sequence);
    // Below the remembered window (and not wrapped): written before, its offsets forgotten.
    if first < oldest && oldest <= newest.last_sequence {
        return Err(Error::DuplicateSequence {
            producer_id,
            received: first,
        });
    }
    Err(Error::OutOfOrderSequence {
        producer_id,
        expected,
        received: first,
    })
}

/// The state after appending `batch` (epoch `epoch`) to a producer with state `state`.
pub(crate) fn advance(
    state: Option<&ProducerState>,
    epoch: i16,
    batch: SequencedBatch,
) -> ProducerState {
    let mut batches = match state {
        Some(s) if s.epoch == epoch => s.batches.clone(),
        _ => VecDeque::with_capacity(RETAINED_BATCHES),
    };
    if batches.len() == RETAINED_BATCHES {
        batches.pop_front();
    }
    batches.push_back(batch);
    ProducerState {
        epoch,
        batches,
        txn_first: state.and_then(|s| s.txn_first),
    }
}

/// The state after a transaction marker at `epoch`: the open transaction (if any) is closed,
/// and a newer epoch starts the sequence over.
pub(crate) fn close_transaction(state: Option<&ProducerState>, epoch: i16) -> ProducerState {
    let batches = match state {
        Some(s) if s.epoch == epoch => s.batches.clone(),
        _ => VecDeque::new(),
    };
    ProducerState {
        epoch: state.map_or(epoch, |s| s.epoch.max(epoch)),
        batches,
        txn_first: None,
    }
}

const BATCH_LEN: usize = 4 + 4 + 8 + 8 + 8;

impl ProducerState {
    /// Fixed-width big-endian encoding: epoch, count, each batch, then the open
    /// transaction's first offset (`i64::MIN` for none).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.batches.len() * BATCH_LEN + 8);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.push(self.batches.len() as u8);
        for b in &self.batches {
            out.extend_from_slice(&b.first_sequence.to_be_bytes());
            out.extend_from_slice(&b.last_sequence.to_be_bytes());
            out.extend_from_slice(&b.base_offset.to_be_bytes());
            out.extend_from_slice(&b.last_offset.to_be_bytes());
            out.extend_from_slice(&b.log_append_time.to_be_bytes());
        }
        out.extend_from_slice(&self.txn_first.unwrap_or(i64::MIN).to_be_bytes());
        out
    }

    /// Inverse of [`ProducerState::encode`]; `None` for malformed bytes. The encoding
    /// without the trailing transaction offset (written before transactions existed) is read
    /// as having no open transaction.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let epoch = i16::from_be_bytes(bytes.get(0..2)?.try_into().ok()?);
        let count = usize::from(*bytes.get(2)?);
        let batches_end = 3 + count * BATCH_LEN;
        if count > RETAINED_BATCHES
            || (bytes.len() != batches_end && bytes.len() != batches_end + 8)
        {
            return None;
        }
        let txn_first = match bytes.get(batches_end..) {
            Some(tail) if tail.len() == 8 => {
                let first = i64::from_be_bytes(tail.try_into().ok()?);
                (first != i64::MIN).then_some(first)
            }
            _ => None,
        };
        let mut batches = VecDeque::with_capacity(count);
        for chunk in bytes[3..batches_end].chunks_exact(BATCH_LEN) {
            let i32_at = |at: usize| chunk[at..at + 4].try_into().ok().map(i32::from_be_bytes);
            let i64_at = |at: usize| chunk[at..at + 8].try_into().ok().map(i64::from_be_bytes);
            batches.push_back(SequencedBatch {
                first_sequence: i32_at(0)?,
                last_sequence: i32_at(4)?,
                base_offset: i64_at(8)?,
                last_offset: i64_at(16)?,
                log_append_time: i64_at(24)?,
            });
        }
        Some(Self {
            epoch,
            batches,
            txn_first,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(epoch: i16, first: i32, records: i32) -> BatchHeader {
        BatchHeader {
            base_offset: 0,
            batch_length: 0,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: records - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: 7,
            producer_epoch: epoch,
            base_sequence: first,
            record_count: records,
        }
    }

    fn stored(first: i32, records: i32, base: Offset) -> SequencedBatch {
        SequencedBatch {
            first_sequence: first,
            last_sequence: last_sequence(first, records - 1),
            base_offset: base,
            last_offset: base + Offset::from(records) - 1,
            log_append_time: i64::MIN,
        }
    }

    fn state_with(epoch: i16, batches: &[SequencedBatch]) -> ProducerState {
        let mut state = None;
        for b in batches {
            state = Some(advance(state.as_ref(), epoch, *b));
        }
        state.unwrap()
    }

    #[test]
    fn unknown_producer_may_start_anywhere() {
        assert_eq!(
            check(None, &header(0, 42, 3)).unwrap(),
            SequenceCheck::Append
        );
    }

    #[test]
    fn in_sequence_appends_and_gaps_are_refused() {
        let state = state_with(0, &[stored(0, 3, 0)]);
        assert_eq!(
            check(Some(&state), &header(0, 3, 2)).unwrap(),
            SequenceCheck::Append
        );
        assert!(matches!(
            check(Some(&state), &header(0, 5, 1)),
            Err(Error::OutOfOrderSequence {
                expected: 3,
                received: 5,
                ..
            })
        ));
    }

    #[test]
    fn retried_batches_get_their_original_offsets() {
        let state = state_with(0, &[stored(0, 3, 10), stored(3, 2, 13)]);
        assert_eq!(
            check(Some(&state), &header(0, 0, 3)).unwrap(),
            SequenceCheck::Duplicate(stored(0, 3, 10))
        );
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let batches: Vec<_> = (0..7).map(|i| stored(i, 1, Offset::from(i))).collect();
        let state = state_with(0, &batches);
        assert_eq!(state.batches.len(), RETAINED_BATCHES);
        assert!(matches!(
            check(Some(&state), &header(0, 0, 1)),
            Err(Error::DuplicateSequence { received: 0, .. })
        ));
        assert_eq!(
            check(Some(&state), &header(0, 6, 1)).unwrap(),
            SequenceCheck::Duplicate(stored(6, 1, 6))
        );
    }

    #[test]
    fn epochs_fence_and_restart_sequences() {
        let state = state_with(3, &[stored(0, 1, 0)]);
        assert!(matches!(
            check(Some(&state), &header(2, 1, 1)),
            Err(Error::InvalidProducerEpoch {
                epoch: 2,
                current: 3,
                ..
            })
        ));
        assert_eq!(
            check(Some(&state), &header(4, 0, 1)).unwrap(),
            SequenceCheck::Append
        );
        assert!(matches!(
            check(Some(&state), &header(4, 1, 1)),
            Err(Error::OutOfOrderSequence { expected: 0, .. })
        ));
        let next = advance(Some(&state), 4, stored(0, 1, 1));
        assert_eq!(next.epoch, 4);
        assert_eq!(next.batches.len(), 1);
    }

    #[test]
    fn sequences_wrap_after_i32_max() {
        assert_eq!(last_sequence(i32::MAX, 1), 0);
        let state = state_with(0, &[stored(i32::MAX - 1, 2, 0)]);
        assert_eq!(state.batches[0].last_sequence, i32::MAX);
        assert_eq!(
            check(Some(&state), &header(0, 0, 1)).unwrap(),
            SequenceCheck::Append
        );
    }

    #[test]
    fn state_encoding_round_trips_and_rejects_garbage() {
        let mut state = state_with(9, &[stored(0, 3, 10), stored(3, 2, 13)]);
        assert_eq!(ProducerState::decode(&state.encode()), Some(state.clone()));
        state.txn_first = Some(10);
        assert_eq!(ProducerState::decode(&state.encode()), Some(state.clone()));
        let bytes = state.encode();
        assert_eq!(ProducerState::decode(&bytes[..bytes.len() - 1]), None);
        // The encoding from before transactions: no open transaction.
        let old = &bytes[..bytes.len() - 8];
        assert_eq!(ProducerState::decode(old).unwrap().txn_first, None);
        assert_eq!(ProducerState::decode(&[0, 0, 9]), None);
        assert_eq!(ProducerState::decode(&[]), None);
    }
}
