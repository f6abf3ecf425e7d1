//! The classic consumer-group coordinator. This node coordinates every group.
//!
//! Each group with members or committed offsets is owned by one task (its actor), which holds
//! the group's [`state::Group`] and applies the group's requests one at a time, in arrival
//! order. Requests reach it over a channel and get their answers back on a oneshot, so a
//! JoinGroup or SyncGroup that must wait for other members simply has its answer sent later.
//! Timers are the actor's: it sleeps until the group's next deadline (a session running out,
//! the end of a join phase, an empty group's offsets expiring). One group's rebalance never
//! holds up another's: they share nothing but the map from group id to actor.
//!
//! Committed offsets live in storage ([`hubgate_storage::GroupOffsets`]), written by the actor
//! after the group's checks pass, so they survive restarts. Membership is in memory, as a
//! coordinator failover leaves it in Kafka too: after a restart members learn they are unknown
//! (UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION) and rejoin, and resume from their commits.
//!
//! An actor retires when its group is empty and has no offsets. Requests that reach it while
//! it retires are handed to a fresh actor, so none is lost.

mod directory;
mod state;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashmap::DashMap;
use hubgate_storage::{CommittedOffset, PartitionId, SharedStorage};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{Instrument, debug, info_span, warn};

pub(crate) use state::{GroupView, Join, Joined, MemberRef, Phase, Sync, Synced};

use crate::error::{code, storage_code};

/// How the group coordinator behaves. The defaults are Kafka's broker defaults.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// How long the first rebalance of an empty group waits for more members
    /// (`group.initial.rebalance.delay.ms`, 3 s).
    pub initial_rebalance_delay: Duration,
    /// Shortest session timeout a member may ask for (`group.min.session.timeout.ms`, 6 s).
    pub min_session_timeout: Duration,
    /// Longest session timeout a member may ask for (`group.max.session.timeout.ms`, 30 min).
    pub max_session_timeout: Duration,
    /// Most members per group (`group.max.size`); Kafka has no limit, hubgate bounds memory.
    pub max_members: usize,
    /// How long an empty group's committed offsets are kept (`offsets.retention.minutes`, 7 d).
    pub offsets_retention: Duration,
    /// Longest metadata string stored with a committed offset (`offset.metadata.max.bytes`).
    pub max_metadata_bytes: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            initial_rebalance_delay: Duration::from_secs(3),
            min_session_timeout: Duration::from_secs(6),
            max_session_timeout: Duration::from_secs(30 * 60),
            max_members: 1000,
            offsets_retention: Duration::from_secs(7 * 24 * 60 * 60),
            max_metadata_bytes: 4096,
        }
    }
}

/// Requests waiting for a group's actor; senders wait when it is full.
const QUEUE: usize = 256;

/// A group as ListGroups shows it.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub(crate) group_id: String,
    pub(crate) phase: Phase,
    pub(crate) protocol_type: String,
}

/// An OffsetCommit for one group, its partitions already resolved.
#[derive(Debug)]
pub(crate) struct Commit {
    pub(crate) who: MemberRef,
    pub(crate) generation: i32,
    pub(crate) offsets: Vec<(PartitionId, CommittedOffset)>,
}

#[derive(Debug)]
enum Command {
    Join(Join, oneshot::Sender<Joined>),
    Sync(Sync, oneshot::Sender<Synced>),
    Heartbeat(MemberRef, i32, oneshot::Sender<i16>),
    Leave(Vec<MemberRef>, oneshot::Sender<Vec<i16>>),
    Commit(Commit, oneshot::Sender<Result<(), i16>>),
    Describe(oneshot::Sender<GroupView>),
    Delete(oneshot::Sender<i16>),
    DeleteOffsets(Vec<PartitionId>, oneshot::Sender<OffsetsDeleted>),
}

/// The outcome of an OffsetDelete: a group-level error, or one error code per partition.
pub(crate) type OffsetsDeleted = Result<Vec<i16>, i16>;

/// What ListGroups needs without asking the actor.
#[derive(Debug, Clone)]
struct Summary {
    phase: Phase,
    protocol_type: String,
}

#[derive(Debug, Clone)]
struct Handle {
    actor: u64,
    tx: mpsc::Sender<Command>,
    summary: Arc<Mutex<Summary>>,
}

#[derive(Debug)]
struct Inner {
    storage: SharedStorage,
    config: GroupConfig,
    groups: DashMap<String, Handle>,
    next_actor: AtomicU64,
}

/// The coordinator of every group on this node.
#[derive(Debug, Clone)]
pub(crate) struct Coordinator {
    inner: Arc<Inner>,
}

impl Coordinator {
    /// A coordinator over `storage`'s committed offsets.
    pub(crate) fn new(storage: SharedStorage, config: GroupConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                storage,
                config,
                groups: DashMap::new(),
                next_actor: AtomicU64::new(0),
            }),
        }
    }

    pub(crate) fn config(&self) -> &GroupConfig {
        &self.inner.config
    }

    /// Starts an actor for every group with stored offsets, so their retention runs. From
    /// then on every group with offsets has an actor (commits go through it and it retires
    /// only without offsets), so the other requests need ask only the actors.
    pub(crate) async fn load(&self) {
        match self.inner.storage.offset_groups().await {
            Ok(groups) => {
                for group in groups {
                    let _ = self.inner.handle(&group, true);
                }
            }
            Err(e) => warn!(error = %e, "cannot list stored consumer groups"),
        }
    }

    /// JoinGroup. Creates the group if needed.
    pub(crate) async fn join(&self, group: &str, join: Join) -> Joined {
        let member_id = join.member_id.clone();
        self.inner
            .call(group, true, |tx| Command::Join(join, tx))
            .await
            .unwrap_or_else(|| Joined::error(code::COORDINATOR_NOT_AVAILABLE, &member_id))
    }

    /// SyncGroup. A group that does not exist has no such member.
    pub(crate) async fn sync(&self, group: &str, sync: Sync) -> Synced {
        self.inner
            .call(group, false, |tx| Command::Sync(sync, tx))
            .await
            .unwrap_or_else(|| Synced::error(code::UNKNOWN_MEMBER_ID))
    }

    /// Heartbeat.
    pub(crate) async fn heartbeat(&self, group: &str, who: MemberRef, generation: i32) -> i16 {
        self.inner
            .call(group, false, |tx| Command::Heartbeat(who, generation, tx))
            .await
            .unwrap_or(code::UNKNOWN_MEMBER_ID)
    }

    /// LeaveGroup: one error code per member, in order.
    pub(crate) async fn leave(&self, group: &str, members: Vec<MemberRef>) -> Vec<i16> {
        let count = members.len();
        self.inner
            .call(group, false, |tx| Command::Leave(members, tx))
            .await
            .unwrap_or_else(|| vec![code::UNKNOWN_MEMBER_ID; count])
    }

    /// OffsetCommit: checks the member against the group, then stores the offsets.
    pub(crate) async fn commit(&self, group: &str, commit: Commit) -> Result<(), i16> {
        // Only a consumer outside group management may commit to a group that does not exist.
        let create = commit.generation < 0;
        match self
            .inner
            .call(group, create, |tx| Command::Commit(commit, tx))
            .await
        {
            Some(result) => result,
            None if create => Err(code::COORDINATOR_NOT_AVAILABLE),
            None => Err(code::ILLEGAL_GENERATION),
        }
    }

    /// DescribeGroups for one group; `None` when it does not exist.
    pub(crate) async fn describe(&self, group: &str) -> Option<GroupView> {
        self.inner.call(group, false, Command::Describe).await
    }

    /// DeleteGroups for one group: its error code.
    pub(crate) async fn delete(&self, group: &str) -> i16 {
        self.inner
            .call(group, false, Command::Delete)
            .await
            .unwrap_or(code::GROUP_ID_NOT_FOUND)
    }

    /// OffsetDelete: forgets the group's offsets for partitions its members do not consume.
    pub(crate) async fn delete_offsets(
        &self,
        group: &str,
        partitions: Vec<PartitionId>,
    ) -> OffsetsDeleted {
        self.inner
            .call(group, false, |tx| Command::DeleteOffsets(partitions, tx))
            .await
            .unwrap_or(Err(code::GROUP_ID_NOT_FOUND))
    }

    /// Every group, sorted by id.
    pub(crate) fn list(&self) -> Vec<Listed> {
        let mut out: Vec<Listed> = self
            .inner
            .groups
            .iter()
            .map(|entry| {
                let summary = lock(&entry.value().summary).clone();
                Listed {
                    group_id: entry.key().clone(),
                    phase: summary.phase,
                    protocol_type: summary.protocol_type,
                }
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }
}

impl Inner {
    /// The group's actor, started if `create` and there is none.
    fn handle(self: &Arc<Self>, group: &str, create: bool) -> Option<Handle> {
        if let Some(handle) = self.groups.get(group) {
            return Some(handle.clone());
        }
        if !create {
            return None;
        }
        let handle = self
            .groups
            .entry(group.to_owned())
            .or_insert_with(|| self.spawn(group))
            .clone();
        Some(handle)
    }

    fn spawn(self: &Arc<Self>, group: &str) -> Handle {
        let (tx, rx) = mpsc::channel(QUEUE);
        let actor = self.next_actor.fetch_add(1, Ordering::Relaxed);
        let summary = Arc::new(Mutex::new(Summary {
            phase: Phase::Empty,
            protocol_type: String::new(),
        }));
        let span = info_span!("group", id = %group);
        tokio::spawn(
            run(
                Arc::clone(self),
                group.to_owned(),
                actor,
                rx,
                Arc::clone(&summary),
            )
            .instrument(span),
        );
        Handle { actor, tx, summary }
    }

    /// Sends a command to the group's actor and waits for its answer. `None` when the group
    /// does not exist (and `create` is false) or its actor is gone.
    async fn call<T>(
        self: &Arc<Self>,
        group: &str,
        create: bool,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.send(group, create, command(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Delivers `command` to the group's actor, retrying on a fresh actor when the current
    /// one is retiring. Gives the command back when there is no group (and `create` is false).
    async fn send(
        self: &Arc<Self>,
        group: &str,
        create: bool,
        mut command: Command,
    ) -> Result<(), Command> {
        loop {
            let Some(handle) = self.handle(group, create) else {
                return Err(command);
            };
            match handle.tx.send(command).await {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(back)) => {
                    // The actor retired after we looked it up; it removes itself from the map.
                    command = back;
                    self.groups.remove_if(group, |_, h| h.actor == handle.actor);
                    tokio::task::yield_now().await;
                }
            }
        }
    }
}

/// The offsets side of a group, as its actor tracks it.
#[derive(Debug)]
struct Offsets {
    /// The group has committed offsets in storage.
    stored: bool,
    /// When the group last committed or became empty (ms since the epoch).
    active_at_ms: i64,
}

async fn run(
    inner: Arc<Inner>,
    name: String,
    actor: u64,
    mut rx: mpsc::Receiver<Command>,
    summary: Arc<Mutex<Summary>>,
) {
    let config = &inner.config;
    let mut group = state::Group::new(state::Limits {
        initial_rebalance_delay: config.initial_rebalance_delay,
        max_members: config.max_members,
    });
    let stored = inner
        .storage
        .committed_offsets(&name)
        .await
        .unwrap_or_default();
    let mut offsets = Offsets {
        stored: !stored.is_empty(),
        active_at_ms: stored
            .iter()
            .map(|(_, o)| o.committed_at_ms)
            .max()
            .unwrap_or_else(now_ms),
    };
    loop {
        let retention = (group.phase() == Phase::Empty && offsets.stored).then(|| {
            let expires_ms = offsets
                .active_at_ms
                .saturating_add(duration_ms(config.offsets_retention));
            let wait = u64::try_from(expires_ms.saturating_sub(now_ms())).unwrap_or(0);
            Instant::now() + Duration::from_millis(wait)
        });
        let wake = [group.next_deadline(), retention]
            .into_iter()
            .flatten()
            .min();
        let before = group.phase();
        tokio::select! {
            command = rx.recv() => match command {
                Some(command) => apply(&inner, &name, &mut group, &mut offsets, command).await,
                None => return,
            },
            () = sleep_until(wake) => {
                group.tick(Instant::now());
                if group.phase() == Phase::Empty
                    && offsets.stored
                    && retention.is_some_and(|r| r <= Instant::now())
                {
                    // Offsets are also committed outside this actor (the Blob front end's
                    // checkpoints go straight to storage): a newer stored commit postpones.
                    let newest = inner
                        .storage
                        .committed_offsets(&name)
                        .await
                        .ok()
                        .and_then(|o| o.iter().map(|(_, c)| c.committed_at_ms).max());
                    match newest {
                        Some(at) if at > offsets.active_at_ms => offsets.active_at_ms = at,
                        _ => {
                            debug!("offsets retention passed; deleting the group's offsets");
                            match inner.storage.delete_group_offsets(&name).await {
                                Ok(()) => offsets.stored = false,
                                Err(e) => warn!(error = %e, "cannot expire group offsets"),
                            }
                        }
                    }
                }
            }
        }
        if before != Phase::Empty && group.phase() == Phase::Empty {
            offsets.active_at_ms = now_ms();
        }
        *lock(&summary) = Summary {
            phase: group.phase(),
            protocol_type: group.protocol_type().unwrap_or_default().to_owned(),
        };
        if group.phase() == Phase::Empty && group.is_vacant() && !offsets.stored {
            break;
        }
    }
    // Retire: later lookups start a fresh actor; anything already queued here goes there.
    inner.groups.remove_if(&name, |_, h| h.actor == actor);
    rx.close();
    while let Some(command) = rx.recv().await {
        let inner = Arc::clone(&inner);
        let name = name.clone();
        tokio::spawn(async move {
            if let Err(command) = inner.send(&name, true, command).await {
                debug!(?command, "group request dropped");
            }
        });
    }
}

async fn apply(
    inner: &Inner,
    name: &str,
    group: &mut state::Group,
    offsets: &mut Offsets,
    command: Command,
) {
    let now = Instant::now();
    match command {
        Command::Join(join, reply) => group.join(join, reply, now),
        Command::Sync(sync, reply) => group.sync(sync, reply, now),
        Command::Heartbeat(who, generation, reply) => {
            let _ = reply.send(group.heartbeat(&who, generation, now));
        }
        Command::Leave(members, reply) => {
            let errors = members.iter().map(|who| group.leave(who, now)).collect();
            let _ = reply.send(errors);
        }
        Command::Commit(commit, reply) => {
            let mut result = group.check_commit(&commit.who, commit.generation, now);
            if result.is_ok() && !commit.offsets.is_empty() {
                result = match inner.storage.commit_offsets(name, &commit.offsets).await {
                    Ok(()) => {
                        offsets.stored = true;
                        offsets.active_at_ms = now_ms();
                        Ok(())
                    }
                    Err(e) => Err(storage_code(&e)),
                };
            }
            let _ = reply.send(result);
        }
        Command::Describe(reply) => {
            let _ = reply.send(group.view());
        }
        Command::Delete(reply) => {
            let error = if group.phase() != Phase::Empty {
                code::NON_EMPTY_GROUP
            } else if !offsets.stored && group.generation() == 0 && group.is_vacant() {
                code::GROUP_ID_NOT_FOUND
            } else {
                match inner.storage.delete_group_offsets(name).await {
                    Ok(()) => {
                        offsets.stored = false;
                        code::NONE
                    }
                    Err(e) => storage_code(&e),
                }
            };
            let _ = reply.send(error);
        }
        Command::DeleteOffsets(partitions, reply) => {
            let _ = reply.send(delete_offsets(inner, name, group, offsets, partitions).await);
        }
    }
}

async fn delete_offsets(
    inner: &Inner,
    name: &str,
    group: &state::Group,
    offsets: &Offsets,
    partitions: Vec<PartitionId>,
) -> OffsetsDeleted {
    if !offsets.stored && group.is_vacant() && group.generation() == 0 {
        return Err(code::GROUP_ID_NOT_FOUND);
    }
    let mut errors = Vec::with_capacity(partitions.len());
    let mut deletable = Vec::new();
    for partition in partitions {
        match group.subscribes(partition.hub.as_str()) {
            None => return Err(code::NON_EMPTY_GROUP),
            Some(true) => errors.push(code::GROUP_SUBSCRIBED_TO_TOPIC),
            Some(false) => {
                errors.push(code::NONE);
                deletable.push(partition);
            }
        }
    }
    if !deletable.is_empty() {
        inner
            .storage
            .delete_offsets(name, &deletable)
            .await
            .map_err(|e| storage_code(&e))?;
    }
    Ok(errors)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn lock(summary: &Mutex<Summary>) -> std::sync::MutexGuard<'_, Summary> {
    summary
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, duration_ms)
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
