//! The storage conformance suite: every case runs against every engine, chosen by URL.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hubgate_storage::{
    AbortedTxn, Limits, MarkerKind, PendingOffset, TxnMarker, TxnRecord, TxnStatus,
    committed_records,
};
use hubgate_storage::{
    CleanupPolicy, CommittedOffset, EncodeOptions, Error, Header, HubConfig, HubName, HubUpdate,
    PartitionId, Record, RecordBatch, SharedStorage, StorageConfig, StorageUrl, TimeQuery,
    TimestampPolicy, TimestampType, open,
};
use tempfile::TempDir;
use tokio::time::Instant;

/// An opened engine and whatever keeps its files alive.
struct Fixture {
    log: SharedStorage,
    dir: Option<TempDir>,
}

impl Fixture {
    fn memory() -> Self {
        let config = StorageConfig::new(StorageUrl::Memory);
        Self {
            log: open(&config).unwrap(),
            dir: None,
        }
    }

    fn sled() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = StorageConfig::new(StorageUrl::Sled(dir.path().join("data")));
        Self {
            log: open(&config).unwrap(),
            dir: Some(dir),
        }
    }

    /// Closes and reopens the same storage; `None` for engines that do not persist.
    fn reopen(self) -> Option<Self> {
        let dir = self.dir?;
        drop(self.log);
        let config = StorageConfig::new(StorageUrl::Sled(dir.path().join("data")));
        Some(Self {
            log: open(&config).unwrap(),
            dir: Some(dir),
        })
    }
}

fn hub(name: &str) -> HubName {
    HubName::new(name).unwrap()
}

fn pid(name: &str, index: u32) -> PartitionId {
    PartitionId::new(hub(name), index)
}

fn record(i: i64, ts: i64) -> Record {
    Record {
        offset: i,
        timestamp: ts,
        key: (i % 3 != 0).then(|| Bytes::from(format!("key-{i}"))),
        value: Some(Bytes::from(format!("value-{i}"))),
        headers: vec![
            Header::new("h", Some(Bytes::from_static(b"1"))),
            Header::new("h", None),
            Header::new("n", Some(Bytes::from(i.to_string()))),
        ],
    }
}

/// A batch of `n` records with the given timestamps (relative offsets 0..n).
fn batch_with(timestamps: &[i64]) -> RecordBatch {
    let records: Vec<Record> = timestamps
        .iter()
        .enumerate()
        .map(|(i, ts)| record(i as i64, *ts))
        .collect();
    RecordBatch::encode(&records, &EncodeOptions::default()).unwrap()
}

fn batch(n: usize) -> RecordBatch {
    batch_with(&vec![1_000; n])
}

async fn create(log: &SharedStorage, name: &str, partitions: u32) {
    let config = HubConfig {
        partitions,
        ..HubConfig::default()
    };
    log.create_hub(&hub(name), config).await.unwrap();
}

async fn hub_lifecycle(f: Fixture) {
    let log = &f.log;
    create(log, "orders", 3).await;
    let info = log.hub(&hub("orders")).await.unwrap();
    assert_eq!(info.config.partitions, 3);
    assert!(info.created_at_ms > 1_600_000_000_000);
    assert!(matches!(
        log.create_hub(&hub("orders"), HubConfig::default()).await,
        Err(Error::HubExists(_))
    ));
    create(log, "audit", 1).await;
    let names: Vec<String> = log
        .hubs()
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.name.to_string())
        .collect();
    assert_eq!(names, ["audit", "orders"]);
    let bad = HubConfig {
        partitions: 0,
        ..HubConfig::default()
    };
    assert!(matches!(
        log.create_hub(&hub("bad"), bad).await,
        Err(Error::InvalidConfig(_))
    ));
    log.delete_hub(&hub("orders")).await.unwrap();
    assert!(matches!(
        log.hub(&hub("orders")).await,
        Err(Error::NoSuchHub(_))
    ));
    assert!(matches!(
        log.delete_hub(&hub("orders")).await,
        Err(Error::NoSuchHub(_))
    ));
    assert!(matches!(
        log.append(&pid("orders", 0), batch(1)).await,
        Err(Error::NoSuchHub(_))
    ));
    // A recreated hub starts empty.
    create(log, "orders", 1).await;
    let state = log.partition(&pid("orders", 0)).await.unwrap();
    assert_eq!((state.log_start, state.high_watermark), (0, 0));
}

async fn append_assigns_contiguous_offsets(f: Fixture) {
    let log = &f.log;
    create(log, "h", 2).await;
    let p = pid("h", 1);
    let a = log.append(&p, batch(3)).await.unwrap();
    let b = log.append(&p, batch(5)).await.unwrap();
    assert_eq!((a.base_offset, a.last_offset), (0, 2));
    assert_eq!((b.base_offset, b.last_offset), (3, 7));
    assert_eq!(a.log_append_time, None);
    let state = log.partition(&p).await.unwrap();
    assert_eq!((state.log_start, state.high_watermark), (0, 8));
    assert!(state.last_append_ms.is_some());
    assert_eq!(state.stored_bytes, (batch(3).len() + batch(5).len()) as u64);
    // The other partition is untouched.
    let other = log.partition(&pid("h", 0)).await.unwrap();
    assert_eq!(other.high_watermark, 0);
    assert_eq!(other.last_append_ms, None);
    assert!(matches!(
        log.append(&pid("h", 2), batch(1)).await,
        Err(Error::NoSuchPartition { partition: 2, .. })
    ));
}

async fn read_returns_stored_records(f: Fixture) {
    let log = &f.log;
    create(log, "h", 1).await;
    let p = pid("h", 0);
    let sent = batch_with(&[10, 30, 20]);
    let expected = sent.records(&Default::default()).unwrap();
    log.append(&p, sent).await.unwrap();
    log.append(&p, batch(2)).await.unwrap();

    let read = log.read(&p, 0, 1 << 20).await.unwrap();
    assert_eq!(read.batches.len(), 2);
    assert_eq!(read.state.high_watermark, 5);
    let got = read.batches[0].records(&Default::default()).unwrap();
    assert_eq!(
        got, expected,
        "offsets, timestamps, keys, values and headers survive"
    );
    let second = read.batches[1].records(&Default::default()).unwrap();
    assert_eq!(second.iter().map(|r| r.offset).collect::<Vec<_>>(), [3, 4]);
    for b in &read.batches {
        b.verify_crc().unwrap();
    }

    // A mid-batch offset returns the containing batch.
    let mid = log.read(&p, 1, 1 << 20).await.unwrap();
    assert_eq!(mid.batches[0].base_offset(), 0);
    let mid = log.read(&p, 4, 1 << 20).await.unwrap();
    assert_eq!(mid.batches.len(), 1);
    assert_eq!(mid.batches[0].base_offset(), 3);

    // At the high watermark: nothing yet. Above it: out of range.
    assert!(log.read(&p, 5, 1 << 20).await.unwrap().batches.is_empty());
    assert!(matches!(
        log.read(&p, 6, 1 << 20).await,
        Err(Error::OffsetOutOfRange {
            requested: 6,
            log_start: 0,
            high_watermark: 5
        })
    ));
    assert!(matches!(
        log.read(&p, -1, 1).await,
        Err(Error::OffsetOutOfRange { .. })
    ));
}

async fn read_honours_max_bytes(f: Fixture) {
    let log = &f.log;
    create(log, "h", 1).await;
    let p = pid("h", 0);
    for _ in 0..10 {
        log.append(&p, batch(10)).await.unwrap();
    }
    let one = batch(10).len();
    // Always at least one batch, even if it is larger than max_bytes.
    assert_eq!(log.read(&p, 0, 1).await.unwrap().batches.len(), 1);
    assert_eq!(log.read(&p, 0, one).await.unwrap().batches.len(), 1);
    assert_eq!(log.read(&p, 0, one + 1).await.unwrap().batches.len(), 2);
    assert_eq!(log.read(&p, 0, usize::MAX).await.unwrap().batches.len(), 10);
}

async fn large_batches_round_trip(f: Fixture) {
    let log = &f.log;
    let config = HubConfig {
        partitions: 1,
        max_message_bytes: 4 << 20,
        ..HubConfig::default()
    };
    log.create_hub(&hub("big"), config).await.unwrap();
    let p = pid("big", 0);
    // ~1.5 MiB, and one byte past a 64 KiB boundary.
    let records: Vec<Record> = (0..24)
        .map(|i| Record {
            offset: i,
            timestamp: 1_000 + i,
            key: None,
            value: Some(Bytes::from(vec![i as u8; 64 << 10])),
            headers: Vec::new(),
        })
        .collect();
    let big = RecordBatch::encode(&records, &EncodeOptions::default()).unwrap();
    assert!(big.len() > 1 << 20);
    let odd = RecordBatch::encode(
        &[Record {
            value: Some(Bytes::from(vec![7u8; (64 << 10) + 1])),
            ..Record::default()
        }],
        &EncodeOptions::default(),
    )
    .unwrap();
    log.append(&p, big.clone()).await.unwrap();
    log.append(&p, odd.clone()).await.unwrap();
    log.append(&p, batch(1)).await.unwrap();
    let read = log.read(&p, 10, usize::MAX).await.unwrap();
    assert_eq!(read.batches.len(), 3);
    assert_eq!(
        read.batches[0].records(&Default::default()).unwrap(),
        records
    );
    read.batches[0].verify_crc().unwrap();
    assert_eq!(read.batches[1].as_bytes()[12..], odd.as_bytes()[12..]);
    assert_eq!(read.batches[1].base_offset(), 24);
    let stored = log.partition(&p).await.unwrap().stored_bytes;
    assert_eq!(stored, (big.len() + odd.len() + batch(1).len()) as u64);
    log.delete_records(&p, 25).await.unwrap();
    assert_eq!(
        log.partition(&p).await.unwrap().stored_bytes,
        batch(1).len() as u64
    );
    assert_eq!(
        log.read(&p, 25, 1).await.unwrap().batches[0].base_offset(),
        25
    );
}

async fn limits_and_timestamp_policy(f: Fixture) {
    let log = &f.log;
    let config = HubConfig {
        partitions: 1,
        max_message_bytes: 200,
        timestamp_policy: TimestampPolicy::LogAppendTime,
        ..HubConfig::default()
    };
    log.create_hub(&hub("h"), config).await.unwrap();
    let p = pid("h", 0);
    let big = batch(10);
    assert!(big.len() > 200);
    assert!(matches!(
        log.append(&p, big).await,
        Err(Error::MessageTooLarge { limit: 200, .. })
    ));
    let empty = RecordBatch::encode(&[], &EncodeOptions::default()).unwrap();
    assert!(matches!(log.append(&p, empty).await, Err(Error::Codec(_))));
    let appended = log.append(&p, batch_with(&[5])).await.unwrap();
    let stamped = appended.log_append_time.unwrap();
    assert!(stamped > 1_600_000_000_000);
    let read = log.read(&p, 0, 1 << 20).await.unwrap();
    let stored = &read.batches[0];
    stored.verify_crc().unwrap();
    assert_eq!(
        stored.header().timestamp_type(),
        TimestampType::LogAppendTime
    );
    assert_eq!(
        stored.records(&Default::default()).unwrap()[0].timestamp,
        stamped
    );
    // Nothing was stored by the refused append.
    assert_eq!(read.state.high_watermark, 1);
}

async fn update_hub_adds_partitions(f: Fixture) {
    let log = &f.log;
    create(log, "h", 2).await;
    assert!(matches!(
        log.append(&pid("h", 3), batch(1)).await,
        Err(Error::NoSuchPartition { .. })
    ));
    let update = HubUpdate {
        partitions: Some(4),
        retention: Some(Some(Duration::from_secs(60))),
        cleanup_policy: Some(CleanupPolicy::Compact),
        ..HubUpdate::default()
    };
    let info = log.update_hub(&hub("h"), update).await.unwrap();
    assert_eq!(info.config.partitions, 4);
    assert_eq!(info.config.retention, Some(Duration::from_secs(60)));
    assert_eq!(log.hub(&hub("h")).await.unwrap(), info);
    assert_eq!(
        log.append(&pid("h", 3), batch(1))
            .await
            .unwrap()
            .base_offset,
        0
    );
    let shrink = HubUpdate {
        partitions: Some(1),
        ..HubUpdate::default()
    };
    assert!(matches!(
        log.update_hub(&hub("h"), shrink).await,
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        log.update_hub(&hub("nope"), HubUpdate::default()).await,
        Err(Error::NoSuchHub(_))
    ));
}

/// (offset, timestamp) of the record `TimeQuery::Max` finds.
async fn max_record(log: &SharedStorage, p: &PartitionId) -> Option<(i64, i64)> {
    log.offset_for_timestamp(p, TimeQuery::Max)
        .await
        .unwrap()
        .map(|t| (t.offset, t.timestamp))
}

async fn offsets_by_timestamp(f: Fixture) {
    let log = &f.log;
    create(log, "h", 1).await;
    let p = pid("h", 0);
    assert_eq!(
        log.offset_for_timestamp(&p, TimeQuery::AtOrAfter(0))
            .await
            .unwrap(),
        None
    );
    // Offsets 0..=2, 3..=4, 5..=7; timestamps are not monotonic across batches.
    log.append(&p, batch_with(&[100, 300, 200])).await.unwrap();
    log.append(&p, batch_with(&[150, 160])).await.unwrap();
    log.append(&p, batch_with(&[400, 390, 500])).await.unwrap();
    let find = |ts| {
        let log = Arc::clone(log);
        let p = p.clone();
        async move {
            log.offset_for_timestamp(&p, TimeQuery::AtOrAfter(ts))
                .await
                .unwrap()
                .map(|t| (t.offset, t.timestamp))
        }
    };
    assert_eq!(find(0).await, Some((0, 100)));
    assert_eq!(find(100).await, Some((0, 100)));
    assert_eq!(find(101).await, Some((1, 300)));
    assert_eq!(find(300).await, Some((1, 300)));
    assert_eq!(find(301).await, Some((5, 400)));
    assert_eq!(find(450).await, Some((7, 500)));
    assert_eq!(find(501).await, None);
    assert_eq!(max_record(log, &p).await, Some((7, 500)));

    // After the first batch is deleted, lookups only see what is left.
    log.delete_records(&p, 3).await.unwrap();
    assert_eq!(find(0).await, Some((3, 150)));
    assert_eq!(find(155).await, Some((4, 160)));
    assert_eq!(find(161).await, Some((5, 400)));
    // Deleting mid-batch hides the records below the new start.
    log.delete_records(&p, 6).await.unwrap();
    assert_eq!(find(0).await, Some((6, 390)));
    assert_eq!(max_record(log, &p).await, Some((7, 500)));

    // When the record holding the max is deleted from inside its batch, the max of what is
    // left is found.
    create(log, "m", 1).await;
    let m = pid("m", 0);
    log.append(&m, batch_with(&[500, 100, 200])).await.unwrap(); // 0..=2
    log.append(&m, batch_with(&[150, 120])).await.unwrap(); // 3..=4
    log.delete_records(&m, 1).await.unwrap();
    assert_eq!(max_record(log, &m).await, Some((2, 200)));
    log.delete_records(&m, 5).await.unwrap();
    assert_eq!(max_record(log, &m).await, None);
}

async fn delete_records_moves_log_start(f: Fixture) {
    let log = &f.log;
    create(log, "h", 1).await;
    let p = pid("h", 0);
    for _ in 0..4 {
        log.append(&p, batch(5)).await.unwrap();
    }
    let before = log.partition(&p).await.unwrap().stored_bytes;
    assert_eq!(log.delete_records(&p, 7).await.unwrap(), 7);
    let state = log.partition(&p).await.unwrap();
    assert_eq!((state.log_start, state.high_watermark), (7, 20));
    // Only the first batch (0..=4) lies wholly below 7 and is freed.
    assert_eq!(state.stored_bytes, before - batch(5).len() as u64);
    assert!(matches!(
        log.read(&p, 6, 1 << 20).await,
        Err(Error::OffsetOutOfRange { log_start: 7, .. })
    ));
    let read = log.read(&p, 7, 1 << 20).await.unwrap();
    assert_eq!(
        read.batches[0].base_offset(),
        5,
        "the containing batch is still served"
    );
    // Never backwards; never past the high watermark.
    assert_eq!(log.delete_records(&p, 2).await.unwrap(), 7);
    assert!(matches!(
        log.delete_records(&p, 21).await,
        Err(Error::OffsetOutOfRange { .. })
    ));
    assert_eq!(log.delete_records(&p, 20).await.unwrap(), 20);
    let state = log.partition(&p).await.unwrap();
    assert!(state.is_empty());
    assert_eq!(state.stored_bytes, 0);
    assert!(log.read(&p, 20, 1 << 20).await.unwrap().batches.is_empty());
    // Appends continue after the deleted range.
    assert_eq!(log.append(&p, batch(1)).await.unwrap().base_offset, 20);
}

async fn retention_by_time_and_size(f: Fixture) {
    let log = &f.log;
    let timed = HubConfig {
        partitions: 1,
        retention: Some(Duration::from_secs(10)),
        ..HubConfig::default()
    };
    log.create_hub(&hub("timed"), timed).await.unwrap();
    let sized = HubConfig {
        partitions: 1,
        retention: None,
        retention_bytes: Some(batch(4).len() as u64 * 2),
        ..HubConfig::default()
    };
    log.create_hub(&hub("sized"), sized).await.unwrap();
    let compacted = HubConfig {
        partitions: 1,
        retention: Some(Duration::from_secs(1)),
        cleanup_policy: CleanupPolicy::Compact,
        ..HubConfig::default()
    };
    log.create_hub(&hub("compacted"), compacted).await.unwrap();

    let t = pid("timed", 0);
    log.append(&t, batch_with(&[1_000, 2_000])).await.unwrap(); // 0..=1
    log.append(&t, batch_with(&[5_000])).await.unwrap(); // 2
    log.append(&t, batch_with(&[3_000, 20_000])).await.unwrap(); // 3..=4
    let s = pid("sized", 0);
    for _ in 0..5 {
        log.append(&s, batch(4)).await.unwrap();
    }
    log.append(&pid("compacted", 0), batch_with(&[1]))
        .await
        .unwrap();

    // At now = 12_000 the cutoff is 2_000; a batch goes only when its max is older.
    let report = log.enforce_retention(12_000).await.unwrap();
    assert_eq!(
        log.partition(&t).await.unwrap().log_start,
        0,
        "max 2_000 is not older than 2_000"
    );
    // Size: 5 batches, limit 2 batches → 3 deleted.
    let sized_state = log.partition(&s).await.unwrap();
    assert_eq!(sized_state.log_start, 12);
    assert_eq!(sized_state.stored_bytes, batch(4).len() as u64 * 2);
    assert_eq!(report.batches, 3);

    log.enforce_retention(15_001).await.unwrap();
    // Cutoff 5_001: batches with max 2_000 and 5_000 go; the last (max 20_000) stays.
    let state = log.partition(&t).await.unwrap();
    assert_eq!((state.log_start, state.high_watermark), (3, 5));
    assert!(matches!(
        log.read(&t, 2, 1).await,
        Err(Error::OffsetOutOfRange { .. })
    ));

    log.enforce_retention(i64::MAX).await.unwrap();
    let state = log.partition(&t).await.unwrap();
    assert!(state.is_empty());
    assert_eq!(state.stored_bytes, 0);
    // Compacted hubs are not subject to deletion.
    assert_eq!(
        log.partition(&pid("compacted", 0)).await.unwrap().log_start,
        0
    );
}

/// Starts `wait_for(offset)` with a 30 s deadline in a task, and checks it is still waiting.
async fn spawn_waiter(
    log: &SharedStorage,
    p: &PartitionId,
    offset: i64,
) -> tokio::task::JoinHandle<hubgate_storage::Result<hubgate_storage::PartitionState>> {
    let waiter = {
        let (log, p) = (Arc::clone(log), p.clone());
        tokio::spawn(async move {
            log.wait_for(&p, offset, Instant::now() + Duration::from_secs(30))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        !waiter.is_finished(),
        "the waiter returned before anything happened"
    );
    waiter
}

async fn wait_for_is_woken_by_appends(f: Fixture) {
    let log = &f.log;
    create(log, "h", 1).await;
    let p = pid("h", 0);
    // Nothing arrives: returns at the deadline with nothing new.
    let deadline = Instant::now() + Duration::from_millis(30);
    let state = log.wait_for(&p, 0, deadline).await.unwrap();
    assert_eq!(state.high_watermark, 0);
    assert!(Instant::now() >= deadline);

    let waiter = spawn_waiter(log, &p, 0).await;
    log.append(&p, batch(2)).await.unwrap();
    let state = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiter was not woken by the append")
        .unwrap()
        .unwrap();
    assert_eq!(state.high_watermark, 2);
    // Already readable: returns at once.
    let state = log
        .wait_for(&p, 1, Instant::now() + Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(state.high_watermark, 2);
    // A deleted hub wakes its waiters with an error.
    let waiter = spawn_waiter(log, &p, 5).await;
    log.delete_hub(&hub("h")).await.unwrap();
    let result = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiter was not woken by the deletion")
        .unwrap();
    assert!(matches!(result, Err(Error::NoSuchHub(_))));
}

async fn capabilities_describe_the_engine(f: Fixture) {
    let caps = f.log.capabilities();
    assert!(caps.contiguous_offsets && caps.delete_records);
    assert!(caps.transactions);
    assert!(caps.compaction && !caps.shared);
    assert_eq!(
        caps.durable,
        f.dir.is_some(),
        "only the sled engine persists"
    );
}

async fn concurrent_appends_are_dense(f: Fixture) {
    let log = &f.log;
    create(log, "h", 1).await;
    let p = pid("h", 0);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let log = Arc::clone(log);
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..25 {
                let a = log.append(&p, batch(3)).await.unwrap();
                got.push((a.base_offset, a.last_offset));
            }
            got
        }));
    }
    let mut ranges = Vec::new();
    for t in tasks {
        ranges.extend(t.await.unwrap());
    }
    ranges.sort();
    for (i, (base, last)) in ranges.iter().enumerate() {
        assert_eq!((*base, *last), (i as i64 * 3, i as i64 * 3 + 2));
    }
    let read = log.read(&p, 0, usize::MAX).await.unwrap();
    assert_eq!(read.batches.len(), 200);
    assert_eq!(read.state.high_watermark, 600);
}

async fn group_offsets(f: Fixture) {
    let log = &f.log;
    create(log, "a", 2).await;
    create(log, "b", 1).await;
    let at = |offset, epoch: Option<i32>, meta: &str| CommittedOffset {
        offset,
        leader_epoch: epoch,
        metadata: meta.into(),
        committed_at_ms: 42,
    };
    log.commit_offsets(
        "g1",
        &[
            (pid("a", 0), at(5, Some(3), "m")),
            (pid("b", 0), at(7, None, "")),
        ],
    )
    .await
    .unwrap();
    log.commit_offsets("g2", &[(pid("a", 1), at(1, None, "x"))])
        .await
        .unwrap();
    log.commit_offsets("g1", &[(pid("a", 0), at(6, Some(4), "m2"))])
        .await
        .unwrap();
    assert_eq!(
        log.committed_offsets("g1").await.unwrap(),
        [
            (pid("a", 0), at(6, Some(4), "m2")),
            (pid("b", 0), at(7, None, ""))
        ]
    );
    assert_eq!(log.offset_groups().await.unwrap(), ["g1", "g2"]);
    assert!(matches!(
        log.commit_offsets("g1", &[(pid("a", 9), at(1, None, ""))])
            .await,
        Err(Error::NoSuchPartition { .. })
    ));
    log.delete_hub(&hub("b")).await.unwrap();
    assert_eq!(
        log.committed_offsets("g1").await.unwrap(),
        [(pid("a", 0), at(6, Some(4), "m2"))]
    );
    log.commit_offsets("g1", &[(pid("a", 1), at(9, None, ""))])
        .await
        .unwrap();
    log.delete_offsets("g1", &[pid("a", 1), pid("a", 2)])
        .await
        .unwrap();
    assert_eq!(
        log.committed_offsets("g1").await.unwrap(),
        [(pid("a", 0), at(6, Some(4), "m2"))]
    );
    log.delete_group_offsets("g2").await.unwrap();
    assert_eq!(log.offset_groups().await.unwrap(), ["g1"]);
    assert!(log.committed_offsets("g2").await.unwrap().is_empty());
}

async fn state_survives_reopen(f: Fixture) {
    let log = &f.log;
    create(log, "h", 2).await;
    let p = pid("h", 1);
    let sent = batch_with(&[7, 9]);
    let expected = sent.records(&Default::default()).unwrap();
    log.append(&p, sent).await.unwrap();
    log.append(&p, batch_with(&[11, 12, 13])).await.unwrap();
    log.delete_records(&p, 1).await.unwrap();
    log.commit_offsets(
        "g",
        &[(
            p.clone(),
            CommittedOffset {
                offset: 4,
                leader_epoch: Some(0),
                metadata: "m".into(),
                committed_at_ms: 1,
            },
        )],
    )
    .await
    .unwrap();
    let before = log.partition(&p).await.unwrap();
    let info = log.hub(&hub("h")).await.unwrap();
    let Some(f) = f.reopen() else {
        return; // not a persistent engine
    };
    let log = &f.log;
    assert_eq!(log.hub(&hub("h")).await.unwrap(), info);
    assert_eq!(log.partition(&p).await.unwrap(), before);
    let read = log.read(&p, 1, 1 << 20).await.unwrap();
    assert_eq!(
        read.batches[0].records(&Default::default()).unwrap(),
        expected
    );
    assert_eq!(log.committed_offsets("g").await.unwrap()[0].1.offset, 4);
    assert_eq!(
        log.offset_for_timestamp(&p, TimeQuery::AtOrAfter(10))
            .await
            .unwrap()
            .map(|t| t.offset),
        Some(2)
    );
    assert_eq!(log.append(&p, batch(1)).await.unwrap().base_offset, 5);
}

/// A batch of `n` records from idempotent producer `producer` at `epoch`, first sequence `seq`.
fn idempotent(producer: i64, epoch: i16, seq: i32, n: usize) -> RecordBatch {
    let records: Vec<Record> = (0..n).map(|i| record(i as i64, 1000 + i as i64)).collect();
    let options = EncodeOptions {
        producer_id: producer,
        producer_epoch: epoch,
        base_sequence: seq,
        ..EncodeOptions::default()
    };
    RecordBatch::encode(&records, &options).unwrap()
}

async fn idempotent_producers(f: Fixture) {
    let log = &f.log;
    create(log, "h", 2).await;
    let p = pid("h", 0);
    let a = log.new_producer_id().await.unwrap();
    let b = log.new_producer_id().await.unwrap();
    assert_ne!(a, b);
    assert!(a >= 0 && b >= 0);

    let first = log.append(&p, idempotent(a, 0, 0, 3)).await.unwrap();
    assert_eq!(
        (first.base_offset, first.last_offset, first.duplicate),
        (0, 2, false)
    );
    // Another producer interleaves; sequences are per producer.
    log.append(&p, idempotent(b, 0, 0, 1)).await.unwrap();
    let second = log.append(&p, idempotent(a, 0, 3, 2)).await.unwrap();
    assert_eq!((second.base_offset, second.duplicate), (4, false));
    // A retry of either batch is answered with its original offsets and not stored again.
    let retry = log.append(&p, idempotent(a, 0, 0, 3)).await.unwrap();
    assert_eq!(
        (retry.base_offset, retry.last_offset, retry.duplicate),
        (0, 2, true)
    );
    let retry = log.append(&p, idempotent(a, 0, 3, 2)).await.unwrap();
    assert_eq!((retry.base_offset, retry.duplicate), (4, true));
    assert_eq!(log.partition(&p).await.unwrap().high_watermark, 6);
    // A gap is refused and nothing is stored.
    assert!(matches!(
        log.append(&p, idempotent(a, 0, 9, 1)).await,
        Err(Error::OutOfOrderSequence {
            expected: 5,
            received: 9,
            ..
        })
    ));
    // A new epoch starts at 0; the old epoch is then fenced.
    assert!(matches!(
        log.append(&p, idempotent(a, 1, 5, 1)).await,
        Err(Error::OutOfOrderSequence { expected: 0, .. })
    ));
    assert_eq!(
        log.append(&p, idempotent(a, 1, 0, 1))
            .await
            .unwrap()
            .base_offset,
        6
    );
    assert!(matches!(
        log.append(&p, idempotent(a, 0, 5, 1)).await,
        Err(Error::InvalidProducerEpoch {
            epoch: 0,
            current: 1,
            ..
        })
    ));
    // State is per partition: the other partition knows nothing of producer `a`.
    let q = pid("h", 1);
    assert_eq!(
        log.append(&q, idempotent(a, 1, 7, 1))
            .await
            .unwrap()
            .base_offset,
        0
    );
    assert_eq!(log.partition(&p).await.unwrap().high_watermark, 7);

    let Some(f) = f.reopen() else {
        return; // not a persistent engine
    };
    let log = &f.log;
    // Dedup survives a restart, and new producer ids stay unique.
    let retry = log.append(&p, idempotent(a, 1, 0, 1)).await.unwrap();
    assert_eq!((retry.base_offset, retry.duplicate), (6, true));
    assert!(matches!(
        log.append(&p, idempotent(a, 0, 5, 1)).await,
        Err(Error::InvalidProducerEpoch { .. })
    ));
    assert_eq!(
        log.append(&p, idempotent(a, 1, 1, 1))
            .await
            .unwrap()
            .base_offset,
        7
    );
    let c = log.new_producer_id().await.unwrap();
    assert!(c != a && c != b);
}

/// A transactional batch of `n` records.
fn transactional(producer: i64, epoch: i16, seq: i32, n: usize) -> RecordBatch {
    let records: Vec<Record> = (0..n).map(|i| record(i as i64, 1000 + i as i64)).collect();
    let options = EncodeOptions {
        producer_id: producer,
        producer_epoch: epoch,
        base_sequence: seq,
        transactional: true,
        ..EncodeOptions::default()
    };
    RecordBatch::encode(&records, &options).unwrap()
}

fn marker(producer: i64, epoch: i16, kind: MarkerKind) -> TxnMarker {
    TxnMarker {
        producer_id: producer,
        producer_epoch: epoch,
        kind,
        coordinator_epoch: 0,
    }
}

/// Offsets of the committed data records readable from `from`.
async fn committed(log: &SharedStorage, p: &PartitionId, from: i64) -> Vec<i64> {
    let read = log.read_committed(p, from, 1 << 20).await.unwrap();
    committed_records(&read, from, &Limits::default())
        .unwrap()
        .iter()
        .map(|r| r.offset)
        .collect()
}

async fn transactions(f: Fixture) {
    let log = &f.log;
    create(log, "t", 1).await;
    let p = pid("t", 0);
    let a = log.new_producer_id().await.unwrap();
    let b = log.new_producer_id().await.unwrap();

    // An open transaction holds the last stable offset at its first offset.
    log.append(&p, transactional(a, 0, 0, 3)).await.unwrap();
    log.append(&p, idempotent(b, 0, 0, 1)).await.unwrap();
    let state = log.partition(&p).await.unwrap();
    assert_eq!((state.high_watermark, state.last_stable), (4, 0));
    assert!(
        log.read_committed(&p, 0, 1 << 20)
            .await
            .unwrap()
            .batches
            .is_empty()
    );
    assert_eq!(log.read(&p, 0, 1 << 20).await.unwrap().batches.len(), 2);
    // Inside its transaction a producer may not write non-transactional batches.
    assert!(matches!(
        log.append(&p, idempotent(a, 0, 3, 1)).await,
        Err(Error::InvalidTxnState { .. })
    ));
    // Control batches come only from markers.
    let control = RecordBatch::encode(
        &[record(0, 1)],
        &EncodeOptions {
            producer_id: a,
            producer_epoch: 0,
            transactional: true,
            control: true,
            ..EncodeOptions::default()
        },
    )
    .unwrap();
    assert!(matches!(
        log.append(&p, control).await,
        Err(Error::ControlBatch)
    ));

    // A waiter for stable data is woken by the marker.
    let waiter = {
        let log = Arc::clone(log);
        let p = p.clone();
        tokio::spawn(async move {
            log.wait_stable(&p, 0, Instant::now() + Duration::from_secs(10))
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished());
    let abort = log
        .write_marker(&p, marker(a, 0, MarkerKind::Abort))
        .await
        .unwrap();
    assert_eq!(abort.base_offset, 4);
    assert_eq!(waiter.await.unwrap().last_stable, 5);
    let read = log.read_committed(&p, 0, 1 << 20).await.unwrap();
    assert_eq!(read.state.last_stable, 5);
    assert_eq!(read.batches.len(), 3);
    assert!(read.batches[2].header().is_control());
    assert_eq!(read.batches[2].len(), 78);
    read.batches[2].verify_crc().unwrap();
    let expected = AbortedTxn {
        producer_id: a,
        first_offset: 0,
        last_offset: 4,
    };
    assert_eq!(read.aborted, vec![expected]);
    assert_eq!(committed(log, &p, 0).await, vec![3]);

    // A committed transaction becomes visible; the abort's index entry stays.
    log.append(&p, transactional(a, 0, 3, 2)).await.unwrap();
    assert_eq!(log.partition(&p).await.unwrap().last_stable, 5);
    log.write_marker(&p, marker(a, 0, MarkerKind::Commit))
        .await
        .unwrap();
    assert_eq!(committed(log, &p, 0).await, vec![3, 5, 6]);
    assert_eq!(committed(log, &p, 6).await, vec![6]);
    // Reads past the aborted range list no aborted transaction.
    assert!(
        log.read_committed(&p, 5, 1 << 20)
            .await
            .unwrap()
            .aborted
            .is_empty()
    );
    // A marker from an older epoch is refused; a newer one fences the older epoch.
    log.write_marker(&p, marker(a, 2, MarkerKind::Abort))
        .await
        .unwrap();
    assert!(matches!(
        log.write_marker(&p, marker(a, 1, MarkerKind::Commit)).await,
        Err(Error::InvalidProducerEpoch { .. })
    ));
    assert!(matches!(
        log.append(&p, transactional(a, 1, 0, 1)).await,
        Err(Error::InvalidProducerEpoch { .. })
    ));
    let producers = log.producers(&p).await.unwrap();
    assert_eq!(producers.len(), 2);
    assert_eq!(
        (producers[0].producer_id, producers[0].producer_epoch),
        (a, 2)
    );

    // Leave one transaction open: retention stops below it.
    log.append(&p, transactional(a, 2, 0, 2)).await.unwrap();
    log.append(&p, batch(1)).await.unwrap();
    let state = log.partition(&p).await.unwrap();
    assert_eq!((state.last_stable, state.high_watermark), (9, 12));
    log.update_hub(
        &hub("t"),
        HubUpdate {
            retention: Some(Some(Duration::from_millis(1))),
            ..HubUpdate::default()
        },
    )
    .await
    .unwrap();
    log.enforce_retention(i64::MAX / 2).await.unwrap();
    let state = log.partition(&p).await.unwrap();
    assert_eq!((state.log_start, state.last_stable), (9, 9));

    // Coordinator state is stored per transactional id.
    let record = TxnRecord {
        producer_id: a,
        producer_epoch: 2,
        last_epoch: 1,
        timeout_ms: 60_000,
        status: TxnStatus::Ongoing,
        partitions: vec![p.clone()],
        groups: vec!["g".into()],
        pending_offsets: vec![PendingOffset {
            group: "g".into(),
            partition: p.clone(),
            offset: CommittedOffset {
                offset: 7,
                leader_epoch: None,
                metadata: String::new(),
                committed_at_ms: 1,
            },
        }],
        started_ms: 5,
        updated_ms: 6,
    };
    log.put_txn("tx", Some(&record)).await.unwrap();
    log.put_txn("gone", Some(&record)).await.unwrap();
    log.put_txn("gone", None).await.unwrap();
    assert_eq!(
        log.txns().await.unwrap(),
        vec![("tx".to_owned(), record.clone())]
    );

    let Some(f) = f.reopen() else {
        return; // not a persistent engine
    };
    let log = &f.log;
    // The open transaction, the producer epochs and the coordinator state survive.
    let state = log.partition(&p).await.unwrap();
    assert_eq!((state.last_stable, state.high_watermark), (9, 12));
    assert!(matches!(
        log.append(&p, transactional(a, 1, 0, 1)).await,
        Err(Error::InvalidProducerEpoch { .. })
    ));
    assert_eq!(log.txns().await.unwrap(), vec![("tx".to_owned(), record)]);
    log.write_marker(&p, marker(a, 2, MarkerKind::Abort))
        .await
        .unwrap();
    let read = log.read_committed(&p, 9, 1 << 20).await.unwrap();
    assert_eq!(read.state.last_stable, 13);
    assert_eq!(
        read.aborted,
        vec![AbortedTxn {
            producer_id: a,
            first_offset: 9,
            last_offset: 12
        }]
    );
    assert_eq!(committed(log, &p, 9).await, vec![11]);
}

async fn aborted_index_survives_reopen(f: Fixture) {
    let log = &f.log;
    create(log, "a", 1).await;
    let p = pid("a", 0);
    let a = log.new_producer_id().await.unwrap();
    log.append(&p, transactional(a, 0, 0, 2)).await.unwrap();
    log.write_marker(&p, marker(a, 0, MarkerKind::Abort))
        .await
        .unwrap();
    log.append(&p, batch(1)).await.unwrap();
    let Some(f) = f.reopen() else {
        return;
    };
    let read = f.log.read_committed(&p, 0, 1 << 20).await.unwrap();
    assert_eq!(read.aborted.len(), 1);
    assert_eq!(committed(&f.log, &p, 0).await, vec![3]);
    // Deleting past the marker drops the entry.
    f.log.delete_records(&p, 3).await.unwrap();
    assert!(
        f.log
            .read_committed(&p, 3, 1 << 20)
            .await
            .unwrap()
            .aborted
            .is_empty()
    );
}

#[tokio::test]
async fn a_locked_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = StorageConfig::new(StorageUrl::Sled(dir.path().to_path_buf()));
    let first = open(&config).unwrap();
    assert!(matches!(open(&config), Err(Error::Locked { .. })));
    drop(first);
    open(&config).unwrap();
}

/// The cluster id is Kafka-shaped, the same after a reopen, and differs between two stores;
/// an engine that keeps nothing has a fresh one each time it opens.
async fn cluster_id_is_kept_per_store(f: Fixture) {
    let id = f.log.cluster_id().to_owned();
    assert_eq!(id.len(), 22, "{id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{id}"
    );
    let other = if f.dir.is_some() {
        Fixture::sled()
    } else {
        Fixture::memory()
    };
    assert_ne!(other.log.cluster_id(), id);
    match f.reopen() {
        Some(reopened) => assert_eq!(reopened.log.cluster_id(), id),
        None => assert_ne!(Fixture::memory().log.cluster_id(), id),
    }
}

/// A keyed batch of `(key, value)` records stamped `ts` (`None` values are tombstones).
fn keyed(pairs: &[(&str, Option<&str>)], ts: i64, options: EncodeOptions) -> RecordBatch {
    let records: Vec<Record> = pairs
        .iter()
        .enumerate()
        .map(|(i, (k, v))| Record {
            offset: i as i64,
            timestamp: ts,
            key: Some(Bytes::from(k.to_string())),
            value: v.map(|v| Bytes::from(v.to_string())),
            headers: Vec::new(),
        })
        .collect();
    RecordBatch::encode(&records, &options).unwrap()
}

/// Every stored record from the log start: (offset, key, value).
async fn contents(log: &SharedStorage, p: &PartitionId) -> Vec<(i64, String, Option<String>)> {
    let state = log.partition(p).await.unwrap();
    let mut out = Vec::new();
    let mut from = state.log_start;
    while from < state.high_watermark {
        let read = log.read(p, from, 1 << 20).await.unwrap();
        let Some(last) = read.batches.last() else {
            break;
        };
        from = last.last_offset() + 1;
        for b in &read.batches {
            if b.header().is_control() {
                continue;
            }
            for r in b.records(&Limits::default()).unwrap() {
                let text = |b: &Bytes| String::from_utf8(b.to_vec()).unwrap();
                out.push((
                    r.offset,
                    text(r.key.as_ref().unwrap()),
                    r.value.as_ref().map(text),
                ));
            }
        }
    }
    out
}

async fn compaction_keeps_the_latest_record_per_key(f: Fixture) {
    let log = &f.log;
    let mut config = HubConfig {
        partitions: 1,
        cleanup_policy: CleanupPolicy::Compact,
        ..HubConfig::default()
    };
    config.compaction.segment_ms = 1;
    config.compaction.delete_retention_ms = 1_000;
    log.create_hub(&hub("c"), config).await.unwrap();
    let p = pid("c", 0);
    let plain = EncodeOptions::default();
    let pid_a = log.new_producer_id().await.unwrap();
    let idem = EncodeOptions {
        producer_id: pid_a,
        producer_epoch: 0,
        base_sequence: 0,
        ..plain
    };
    // 0..=2: a, b, a   (idempotent: its metadata must survive the rewrite)
    log.append(
        &p,
        keyed(
            &[("a", Some("1")), ("b", Some("1")), ("a", Some("2"))],
            100,
            idem,
        ),
    )
    .await
    .unwrap();
    // 3: tombstone for b at time 5000; 4: old tombstone for z; 5: c
    log.append(&p, keyed(&[("b", None)], 5_000, plain))
        .await
        .unwrap();
    log.append(&p, keyed(&[("z", None)], 100, plain))
        .await
        .unwrap();
    log.append(&p, keyed(&[("c", Some("1"))], 100, plain))
        .await
        .unwrap();
    // 6..=7: an aborted transaction writing c; 8: its marker
    let txp = log.new_producer_id().await.unwrap();
    let txn = EncodeOptions {
        producer_id: txp,
        producer_epoch: 0,
        base_sequence: 0,
        transactional: true,
        ..plain
    };
    log.append(
        &p,
        keyed(&[("c", Some("aborted")), ("d", Some("aborted"))], 100, txn),
    )
    .await
    .unwrap();
    log.write_marker(&p, marker(txp, 0, MarkerKind::Abort))
        .await
        .unwrap();
    // 9: the newest batch (the active head) is never compacted, even if superseded.
    log.append(&p, keyed(&[("e", Some("1"))], 100, plain))
        .await
        .unwrap();
    let before = log.partition(&p).await.unwrap();

    // At time 5500: b's tombstone (5000) is inside delete.retention.ms, z's (100) is not.
    let report = log.compact(5_500).await.unwrap();
    assert_eq!(report.partitions, 1);
    assert_eq!(
        contents(log, &p).await,
        vec![
            (1, "b".into(), Some("1".into())).clone(),
            (2, "a".into(), Some("2".into())),
            (3, "b".into(), None),
            (5, "c".into(), Some("1".into())),
            (9, "e".into(), Some("1".into())),
        ]
        .into_iter()
        .filter(|(o, _, _)| *o != 1)
        .collect::<Vec<_>>(),
        "latest per key, live tombstone kept, expired tombstone, aborted data and marker gone"
    );
    let state = log.partition(&p).await.unwrap();
    assert_eq!(
        (state.log_start, state.high_watermark),
        (before.log_start, before.high_watermark)
    );
    assert!(state.stored_bytes < before.stored_bytes);
    // a@0, b@1, z@4 and the two aborted records; the marker, stamped now, stays until it expires.
    assert!(
        report.records_removed == 5 && report.bytes_removed > 0,
        "{report:?}"
    );
    // The rebuilt batch keeps its base offset and producer metadata.
    let first = log.read(&p, 0, 1).await.unwrap().batches.remove(0);
    assert_eq!((first.base_offset(), first.last_offset()), (0, 2));
    assert_eq!(
        (first.header().producer_id, first.header().base_sequence),
        (pid_a, 0)
    );
    // A read inside a removed range returns the next surviving batch.
    let gap = log.read(&p, 4, 1).await.unwrap();
    assert_eq!(gap.batches[0].base_offset(), 5);
    let gap = log.read(&p, 6, 1).await.unwrap();
    assert_eq!(gap.batches[0].base_offset(), 8, "the marker, still kept");
    // The retried idempotent batch is still recognised.
    let retry = log
        .append(
            &p,
            keyed(
                &[("a", Some("1")), ("b", Some("1")), ("a", Some("2"))],
                100,
                idem,
            ),
        )
        .await
        .unwrap();
    assert!(retry.duplicate && retry.base_offset == 0);
    // Nothing new is dirty: a second pass at the same time is not due.
    assert_eq!(log.compact(5_500).await.unwrap().partitions, 0);
    // Once b's tombstone expires, the next pass drops it.
    log.compact(6_001).await.unwrap();
    let keys: Vec<String> = contents(log, &p)
        .await
        .into_iter()
        .map(|(_, k, _)| k)
        .collect();
    assert_eq!(keys, ["a", "c", "e"]);
    let status = log.cleaner_status().await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].removed.records_removed, 6);
    // What was compacted stays compacted after a restart.
    let expected = contents(log, &p).await;
    if let Some(f) = f.reopen() {
        assert_eq!(contents(&f.log, &p).await, expected);
        let state = f.log.partition(&p).await.unwrap();
        assert_eq!(state.high_watermark, before.high_watermark);
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Fixture::memory()).await;
                }
            )*
        }
        mod sled {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Fixture::sled()).await;
                }
            )*
        }
    };
}

conformance!(
    hub_lifecycle,
    append_assigns_contiguous_offsets,
    read_returns_stored_records,
    read_honours_max_bytes,
    large_batches_round_trip,
    limits_and_timestamp_policy,
    update_hub_adds_partitions,
    offsets_by_timestamp,
    delete_records_moves_log_start,
    retention_by_time_and_size,
    wait_for_is_woken_by_appends,
    capabilities_describe_the_engine,
    concurrent_appends_are_dense,
    group_offsets,
    state_survives_reopen,
    idempotent_producers,
    transactions,
    aborted_index_survives_reopen,
    cluster_id_is_kept_per_store,
    compaction_keeps_the_latest_record_per_key,
);
