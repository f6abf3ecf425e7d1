//! The coordinator with its actors, over the in-memory log, in paused tokio time.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use hubgate_storage::{HubConfig, HubName, StorageConfig, StorageUrl, open};

use super::*;

const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(60);

fn coordinator(storage: SharedStorage) -> Coordinator {
    Coordinator::new(
        storage,
        GroupConfig {
            initial_rebalance_delay: Duration::from_millis(500),
            offsets_retention: Duration::from_secs(3600),
            ..GroupConfig::default()
        },
    )
}

fn memory() -> SharedStorage {
    open(&StorageConfig::new(StorageUrl::Memory)).unwrap()
}

fn join(member_id: &str) -> Join {
    Join {
        member_id: member_id.to_owned(),
        instance_id: None,
        client_id: "c".to_owned(),
        client_host: "/127.0.0.1".to_owned(),
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".to_owned(),
        protocols: vec![("range".to_owned(), Bytes::from_static(b"m"))],
        require_known_member_id: true,
        supports_skip_assignment: false,
    }
}

/// Joins one member through the MEMBER_ID_REQUIRED round trip; returns the join answer.
async fn join_member(c: &Coordinator, group: &str) -> Joined {
    let first = c.join(group, join("")).await;
    assert_eq!(first.error, code::MEMBER_ID_REQUIRED);
    c.join(group, join(&first.member_id)).await
}

async fn hub(storage: &SharedStorage, name: &str) -> HubName {
    let name = HubName::new(name).unwrap();
    storage
        .create_hub(
            &name,
            HubConfig {
                partitions: 2,
                ..HubConfig::default()
            },
        )
        .await
        .unwrap();
    name
}

fn offset(offset: i64) -> CommittedOffset {
    CommittedOffset {
        offset,
        leader_epoch: Some(0),
        metadata: "m".to_owned(),
        committed_at_ms: now_ms(),
    }
}

#[tokio::test(start_paused = true)]
async fn fifty_groups_rebalance_at_once_each_in_one_generation() {
    let c = coordinator(memory());
    let started = Instant::now();
    let mut joins = Vec::new();
    for g in 0..50 {
        for _ in 0..3 {
            let c = c.clone();
            let group = format!("group-{g}");
            joins.push(tokio::spawn(async move {
                (group.clone(), join_member(&c, &group).await)
            }));
        }
    }
    let mut by_group: HashMap<String, Vec<Joined>> = HashMap::new();
    for j in joins {
        let (group, joined) = j.await.unwrap();
        assert_eq!(joined.error, code::NONE, "{group}");
        by_group.entry(group).or_default().push(joined);
    }
    // Every group completed after its initial delay, not after a rebalance timeout.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(by_group.len(), 50);
    for (group, answers) in by_group {
        let ids: HashSet<&str> = answers.iter().map(|a| a.member_id.as_str()).collect();
        assert_eq!(ids.len(), 3, "{group}");
        assert!(answers.iter().all(|a| a.generation == 1), "{group}");
        let leaders: Vec<&Joined> = answers.iter().filter(|a| !a.members.is_empty()).collect();
        assert_eq!(leaders.len(), 1, "{group}");
        let listed: HashSet<&str> = leaders[0].members.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(listed, ids, "{group}");
    }
    let listed = c.list();
    assert_eq!(listed.len(), 50);
    assert!(listed.iter().all(|l| l.phase == Phase::CompletingRebalance));
}

#[tokio::test(start_paused = true)]
async fn a_stalled_rebalance_does_not_hold_up_other_groups() {
    let c = coordinator(memory());
    // Group "slow": a stable member whose partner rejoins, so the group waits for it.
    let a = join_member(&c, "slow").await;
    let sync = Sync {
        member_id: a.member_id.clone(),
        instance_id: None,
        generation: 1,
        protocol_type: None,
        protocol_name: None,
        assignments: vec![],
    };
    assert_eq!(c.sync("slow", sync).await.error, code::NONE);
    let c2 = c.clone();
    let stalled = tokio::spawn(async move { join_member(&c2, "slow").await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!stalled.is_finished());
    // Another group completes as soon as its own delay is over.
    let started = Instant::now();
    let other = join_member(&c, "fast").await;
    assert_eq!(other.error, code::NONE);
    assert!(started.elapsed() <= Duration::from_secs(1));
    assert!(!stalled.is_finished());
    // The slow group finishes by its rebalance timeout, dropping the silent member.
    let joined = stalled.await.unwrap();
    assert_eq!(joined.generation, 2);
    assert_eq!(joined.members.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_empty_group_retires_and_comes_back_on_the_next_join() {
    let c = coordinator(memory());
    let joined = join_member(&c, "g").await;
    let who = MemberRef {
        member_id: joined.member_id,
        instance_id: None,
    };
    assert_eq!(c.leave("g", vec![who]).await, vec![code::NONE]);
    // The actor retires once the group is empty and has no offsets.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(c.inner.groups.get("g").is_none());
    assert!(c.describe("g").await.is_none());
    assert_eq!(c.delete("g").await, code::GROUP_ID_NOT_FOUND);
    let again = join_member(&c, "g").await;
    assert_eq!(again.error, code::NONE);
    assert_eq!(again.generation, 1);
}

#[tokio::test(start_paused = true)]
async fn offsets_survive_a_new_coordinator_and_expire_after_retention() {
    let storage = memory();
    let hub = hub(&storage, "orders").await;
    let c = coordinator(Arc::clone(&storage));
    let commit = Commit {
        who: MemberRef::default(),
        generation: -1,
        offsets: vec![(PartitionId::new(hub.clone(), 1), offset(42))],
    };
    assert_eq!(c.commit("simple", commit).await, Ok(()));
    // A consumer in a group that does not exist cannot commit with a generation.
    let stale = Commit {
        who: MemberRef {
            member_id: "gone".to_owned(),
            instance_id: None,
        },
        generation: 3,
        offsets: vec![(PartitionId::new(hub.clone(), 0), offset(1))],
    };
    assert_eq!(
        c.commit("other", stale).await,
        Err(code::ILLEGAL_GENERATION)
    );

    // A restart: a new coordinator over the same storage.
    drop(c);
    let c = coordinator(Arc::clone(&storage));
    c.load().await;
    let listed = c.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].group_id, "simple");
    assert_eq!(listed[0].phase, Phase::Empty);
    let view = c.describe("simple").await.unwrap();
    assert_eq!(view.phase, Phase::Empty);
    let stored = storage.committed_offsets("simple").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1.offset, 42);
    assert_eq!(stored[0].1.metadata, "m");

    // An hour later (the configured retention) the empty group's offsets are gone.
    tokio::time::sleep(Duration::from_secs(3601)).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(
        storage
            .committed_offsets("simple")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(c.list().is_empty());
}

#[tokio::test(start_paused = true)]
async fn offsets_committed_straight_to_storage_postpone_retention_and_are_listed() {
    let storage = memory();
    let hub = hub(&storage, "orders").await;
    let c = coordinator(Arc::clone(&storage));
    let commit = Commit {
        who: MemberRef::default(),
        generation: -1,
        offsets: vec![(PartitionId::new(hub.clone(), 0), offset(1))],
    };
    assert_eq!(c.commit("simple", commit).await, Ok(()));
    // Another front end commits without the coordinator, later than the actor's last commit.
    let later = CommittedOffset {
        committed_at_ms: now_ms() + 1_000,
        ..offset(2)
    };
    storage
        .commit_offsets("simple", &[(PartitionId::new(hub.clone(), 0), later)])
        .await
        .unwrap();
    storage
        .commit_offsets("outside", &[(PartitionId::new(hub.clone(), 1), offset(3))])
        .await
        .unwrap();
    c.load().await;
    let names: Vec<String> = c.list().into_iter().map(|g| g.group_id).collect();
    assert_eq!(names, ["outside", "simple"]);
    tokio::time::sleep(Duration::from_secs(3601)).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let kept = storage.committed_offsets("simple").await.unwrap();
    assert_eq!(kept.len(), 1, "the newer commit postponed retention");
    assert_eq!(kept[0].1.offset, 2);
    tokio::time::sleep(Duration::from_secs(3700)).await;
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(
        storage
            .committed_offsets("simple")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn delete_refuses_groups_with_members() {
    let storage = memory();
    let hub = hub(&storage, "t").await;
    let c = coordinator(Arc::clone(&storage));
    let joined = join_member(&c, "busy").await;
    assert_eq!(c.delete("busy").await, code::NON_EMPTY_GROUP);
    let who = MemberRef {
        member_id: joined.member_id.clone(),
        instance_id: None,
    };
    let commit = Commit {
        who: who.clone(),
        generation: joined.generation,
        offsets: vec![(PartitionId::new(hub, 0), offset(7))],
    };
    // Commits are refused until the member has synced (CompletingRebalance).
    assert_eq!(
        c.commit("busy", commit).await,
        Err(code::REBALANCE_IN_PROGRESS)
    );
    assert_eq!(c.leave("busy", vec![who]).await, vec![code::NONE]);
    assert_eq!(c.delete("missing").await, code::GROUP_ID_NOT_FOUND);
}
