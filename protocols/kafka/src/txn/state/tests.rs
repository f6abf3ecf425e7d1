use hubgate_storage::{CommittedOffset, HubName, PartitionId, PendingOffset, TxnStatus};

use super::*;

fn partition(i: u32) -> PartitionId {
    PartitionId::new(HubName::new("t").unwrap(), i)
}

fn pending(group: &str, i: u32, offset: i64) -> PendingOffset {
    PendingOffset {
        group: group.into(),
        partition: partition(i),
        offset: CommittedOffset {
            offset,
            leader_epoch: None,
            metadata: String::new(),
            committed_at_ms: 0,
        },
    }
}

/// A record of producer 7 at epoch 0, just initialised at time 0.
fn fresh() -> TxnRecord {
    new_producer(7, 60_000, 0)
}

fn bumped(current: &TxnRecord, given: Option<(i64, i16)>, now: i64) -> TxnRecord {
    match init(Some(current), 60_000, given, now).unwrap() {
        Init::Bump(next) => next,
        other => panic!("expected a bump, got {other:?}"),
    }
}

#[test]
fn init_allocates_then_bumps_and_fences_older_epochs() {
    assert_eq!(init(None, 60_000, None, 0), Ok(Init::NewProducer));
    assert_eq!(
        init(None, MAX_TIMEOUT_MS + 1, None, 0),
        Err(code::INVALID_TRANSACTION_TIMEOUT)
    );
    assert_eq!(
        init(None, 0, None, 0),
        Err(code::INVALID_TRANSACTION_TIMEOUT)
    );
    let next = bumped(&fresh(), None, 5);
    assert_eq!(
        (next.producer_id, next.producer_epoch, next.last_epoch),
        (7, 1, 0)
    );
    // A KIP-360 client presenting its current epoch bumps; a retry of that bump (it presents
    // the previous epoch) gets the same answer; anything else is fenced.
    let again = bumped(&next, Some((7, 1)), 6);
    assert_eq!(again.producer_epoch, 2);
    assert_eq!(bumped(&again, Some((7, 1)), 7), again);
    assert_eq!(
        init(Some(&again), 60_000, Some((7, 0)), 8),
        Err(code::PRODUCER_FENCED)
    );
    assert_eq!(
        init(Some(&again), 60_000, Some((8, 2)), 8),
        Err(code::PRODUCER_FENCED)
    );
    // An exhausted epoch takes a new producer id.
    let old = TxnRecord {
        producer_epoch: i16::MAX - 1,
        ..fresh()
    };
    assert_eq!(init(Some(&old), 60_000, None, 0), Ok(Init::NewProducer));
}

#[test]
fn init_during_an_open_transaction_fences_and_aborts_it() {
    let open = add_partitions(Some(&fresh()), 7, 0, &[partition(0)], 10)
        .unwrap()
        .unwrap();
    let Ok(Init::Fence(fenced)) = init(Some(&open), 60_000, None, 20) else {
        panic!("expected a fence");
    };
    assert_eq!(fenced.status, TxnStatus::PrepareAbort);
    assert_eq!(fenced.producer_epoch, 1);
    assert_eq!(fenced.partitions, vec![partition(0)]);
    // While the abort completes, the next init waits.
    assert_eq!(
        init(Some(&fenced), 60_000, None, 21),
        Err(code::CONCURRENT_TRANSACTIONS)
    );
    let done = complete(&fenced, 22);
    assert_eq!(done.status, TxnStatus::CompleteAbort);
    assert!(done.partitions.is_empty());
    // The old producer is fenced everywhere; the retry gets epoch 2.
    assert_eq!(
        add_partitions(Some(&done), 7, 0, &[partition(1)], 23),
        Err(code::PRODUCER_FENCED)
    );
    assert_eq!(end(Some(&done), 7, 0, true, 23), Err(code::PRODUCER_FENCED));
    assert_eq!(bumped(&done, None, 24).producer_epoch, 2);
}

#[test]
fn add_partitions_opens_the_transaction_and_starts_its_timeout() {
    let record = fresh();
    assert_eq!(
        add_partitions(None, 7, 0, &[partition(0)], 1),
        Err(code::INVALID_PRODUCER_ID_MAPPING)
    );
    assert_eq!(
        add_partitions(Some(&record), 8, 0, &[partition(0)], 1),
        Err(code::INVALID_PRODUCER_ID_MAPPING)
    );
    let open = add_partitions(Some(&record), 7, 0, &[partition(0)], 100)
        .unwrap()
        .unwrap();
    assert_eq!((open.status, open.started_ms), (TxnStatus::Ongoing, 100));
    // Already added: no change. A new partition keeps the start time.
    assert_eq!(
        add_partitions(Some(&open), 7, 0, &[partition(0)], 200),
        Ok(None)
    );
    let more = add_partitions(Some(&open), 7, 0, &[partition(1), partition(0)], 300)
        .unwrap()
        .unwrap();
    assert_eq!(more.partitions, vec![partition(0), partition(1)]);
    assert_eq!(more.started_ms, 100);
    assert_eq!(next_deadline(Some(&more)), Some(60_100));
    assert!(!timed_out(&more, 60_099));
    assert!(timed_out(&more, 60_100));
}

#[test]
fn offsets_are_pending_only_for_groups_in_the_transaction() {
    let open = add_partitions(Some(&fresh()), 7, 0, &[partition(0)], 1)
        .unwrap()
        .unwrap();
    assert_eq!(
        commit_offsets(Some(&open), 7, 0, "g", vec![pending("g", 0, 5)], 2),
        Err(code::INVALID_TXN_STATE)
    );
    let with_group = add_offsets(Some(&open), 7, 0, "g", 2).unwrap().unwrap();
    assert_eq!(add_offsets(Some(&with_group), 7, 0, "g", 3), Ok(None));
    let once = commit_offsets(Some(&with_group), 7, 0, "g", vec![pending("g", 0, 5)], 3).unwrap();
    let twice = commit_offsets(Some(&once), 7, 0, "g", vec![pending("g", 0, 9)], 4).unwrap();
    assert_eq!(twice.pending_offsets, vec![pending("g", 0, 9)]);
    assert_eq!(
        commit_offsets(Some(&twice), 7, 1, "g", vec![pending("g", 0, 9)], 4),
        Err(code::INVALID_PRODUCER_EPOCH)
    );
    // Completing clears them (the coordinator applies them first on commit).
    let Ok(End::Complete(prepared)) = end(Some(&twice), 7, 0, true, 5) else {
        panic!("expected a commit");
    };
    assert_eq!(prepared.pending_offsets.len(), 1);
    assert!(complete(&prepared, 6).pending_offsets.is_empty());
}

#[test]
fn end_follows_kafka_rules_for_retries_and_mismatches() {
    let record = fresh();
    assert_eq!(
        end(Some(&record), 7, 0, true, 1),
        Err(code::INVALID_TXN_STATE)
    );
    let open = add_partitions(Some(&record), 7, 0, &[partition(0)], 1)
        .unwrap()
        .unwrap();
    let Ok(End::Complete(prepared)) = end(Some(&open), 7, 0, false, 2) else {
        panic!("expected an abort");
    };
    assert_eq!(prepared.status, TxnStatus::PrepareAbort);
    assert_eq!(
        end(Some(&prepared), 7, 0, false, 3),
        Err(code::CONCURRENT_TRANSACTIONS)
    );
    assert_eq!(
        end(Some(&prepared), 7, 0, true, 3),
        Err(code::INVALID_TXN_STATE)
    );
    assert_eq!(
        add_partitions(Some(&prepared), 7, 0, &[partition(0)], 3),
        Err(code::CONCURRENT_TRANSACTIONS)
    );
    assert_eq!(next_deadline(Some(&prepared)), Some(2 + RETRY_MS));
    let done = complete(&prepared, 4);
    assert_eq!(end(Some(&done), 7, 0, false, 5), Ok(End::Done));
    assert_eq!(
        end(Some(&done), 7, 0, true, 5),
        Err(code::INVALID_TXN_STATE)
    );
    assert_eq!(next_deadline(Some(&done)), None);
    assert_eq!(
        end(Some(&done), 6, 0, true, 5),
        Err(code::INVALID_PRODUCER_ID_MAPPING)
    );
}
