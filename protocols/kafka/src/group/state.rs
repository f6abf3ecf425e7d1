//! One classic consumer group's membership state machine, without I/O.
//!
//! The states are Kafka's: `Empty → PreparingRebalance → CompletingRebalance → Stable`, back to
//! `PreparingRebalance` whenever membership or a member's protocols change. JoinGroup and
//! SyncGroup requests that must wait (for the other members, for the leader's assignment) are
//! parked here as reply channels and answered when the state moves on. Time enters only as the
//! `now` argument and leaves as [`Group::next_deadline`]; the actor owning the group sleeps until
//! that instant and calls [`Group::tick`]. Nothing here polls.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::{Duration, Instant};

use crate::error::code;

/// The coordinator-wide settings a group obeys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Delay of the first rebalance of an empty group (`group.initial.rebalance.delay.ms`).
    pub(crate) initial_rebalance_delay: Duration,
    /// Most members (joined or awaiting their id's first use) a group may have.
    pub(crate) max_members: usize,
}

/// Where the group is in its rebalance cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No members.
    Empty,
    /// Waiting for the members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
}

impl Phase {
    /// The state's name as DescribeGroups and ListGroups report it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
        }
    }
}

/// A JoinGroup request, decoded.
#[derive(Debug, Clone)]
pub(crate) struct Join {
    /// Empty for a member joining for the first time.
    pub(crate) member_id: String,
    /// `group.instance.id` of a static member.
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout: Duration,
    pub(crate) rebalance_timeout: Duration,
    pub(crate) protocol_type: String,
    /// (name, metadata) in the member's order of preference.
    pub(crate) protocols: Vec<(String, Bytes)>,
    /// v4+: a new member first gets MEMBER_ID_REQUIRED with its id.
    pub(crate) require_known_member_id: bool,
    /// v9+: a rejoining static leader may be told to skip the assignment.
    pub(crate) supports_skip_assignment: bool,
}

/// A JoinGroup answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Joined {
    pub(crate) error: i16,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) leader: String,
    pub(crate) member_id: String,
    pub(crate) skip_assignment: bool,
    /// Every member and its metadata for the chosen protocol: for the leader only.
    pub(crate) members: Vec<(String, Option<String>, Bytes)>,
}

impl Joined {
    /// A failed join of `member_id`.
    pub(crate) fn error(error: i16, member_id: &str) -> Self {
        Self {
            error,
            generation: -1,
            member_id: member_id.to_owned(),
            ..Self::default()
        }
    }
}

/// A SyncGroup request, decoded.
#[derive(Debug, Clone)]
pub(crate) struct Sync {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) generation: i32,
    /// v5+: must match the group's, when given.
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    /// The leader's assignment: (member id, assignment).
    pub(crate) assignments: Vec<(String, Bytes)>,
}

/// A SyncGroup answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Synced {
    pub(crate) error: i16,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) assignment: Bytes,
}

impl Synced {
    /// A failed sync.
    pub(crate) fn error(error: i16) -> Self {
        Self {
            error,
            ..Self::default()
        }
    }
}

/// A member named by a request: its id and, for static members, its instance id.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemberRef {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
}

/// One member as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberView {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) metadata: Bytes,
    pub(crate) assignment: Bytes,
}

/// The group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupView {
    pub(crate) phase: Phase,
    pub(crate) protocol_type: String,
    pub(crate) protocol: String,
    pub(crate) members: Vec<MemberView>,
}

type JoinReply = oneshot::Sender<Joined>;
type SyncReply = oneshot::Sender<Synced>;

#[derive(Debug)]
struct Member {
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocol_type: String,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    /// A JoinGroup waiting for the join phase to end.
    join: Option<JoinReply>,
    /// A SyncGroup waiting for the leader's assignment.
    sync: Option<SyncReply>,
    /// When the member is dropped unless it heartbeats (or is waiting in a join or sync).
    expires: Instant,
}

impl Member {
    fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, metadata)| metadata.clone())
            .unwrap_or_default()
    }

    fn same_protocols(&self, protocols: &[(String, Bytes)]) -> bool {
        self.protocols.as_slice() == protocols
    }

    fn is_waiting(&self) -> bool {
        self.join.is_some() || self.sync.is_some()
    }
}

/// The initial-delay window of an empty group's first rebalance (Kafka's `InitialDelayedJoin`).
#[derive(Debug, Clone, Copy)]
struct InitialDelay {
    until: Instant,
    /// A member joined during the current window: extend it once it ends.
    joined_since: bool,
}

/// One consumer group's membership.
#[derive(Debug)]
pub(crate) struct Group {
    limits: Limits,
    phase: Phase,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// Static members: instance id → member id.
    statics: HashMap<String, String>,
    /// Ids handed out with MEMBER_ID_REQUIRED, with the instant they lapse if unused.
    pending: HashMap<String, Instant>,
    /// The latest instant the running join phase may end.
    join_deadline: Option<Instant>,
    initial_delay: Option<InitialDelay>,
}

impl Group {
    /// An empty group.
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            phase: Phase::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            statics: HashMap::new(),
            pending: HashMap::new(),
            join_deadline: None,
            initial_delay: None,
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn generation(&self) -> i32 {
        self.generation
    }

    /// The protocol type of the members ("consumer" for consumer groups), if any joined.
    pub(crate) fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    /// No members, joined or pending.
    pub(crate) fn is_vacant(&self) -> bool {
        self.members.is_empty() && self.pending.is_empty()
    }

    /// The group as DescribeGroups reports it.
    pub(crate) fn view(&self) -> GroupView {
        // As Kafka: metadata, assignments and the protocol only once the group is stable.
        let stable = self.phase == Phase::Stable;
        let protocol = self.protocol.clone().filter(|_| stable).unwrap_or_default();
        GroupView {
            phase: self.phase,
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            members: self
                .members
                .iter()
                .map(|(id, m)| MemberView {
                    member_id: id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
            protocol,
        }
    }

    /// The next instant [`Group::tick`] has work to do, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let members = self
            .members
            .values()
            .filter(|m| !m.is_waiting())
            .map(|m| m.expires);
        let join = match self.initial_delay {
            Some(delay) => Some(delay.until),
            None => self
                .join_deadline
                .filter(|_| self.phase == Phase::PreparingRebalance),
        };
        members
            .chain(self.pending.values().copied())
            .chain(join)
            .min()
    }

    /// Handles a JoinGroup; the answer goes to `reply`, now or when the join phase ends.
    pub(crate) fn join(&mut self, join: Join, reply: JoinReply, now: Instant) {
        let member_id = join.member_id.clone();
        if join.protocol_type.is_empty() || join.protocols.is_empty() {
            let _ = reply.send(Joined::error(code::INCONSISTENT_GROUP_PROTOCOL, &member_id));
            return;
        }
        if !self.supports(&member_id, &join.protocol_type, &join.protocols) {
            let _ = reply.send(Joined::error(code::INCONSISTENT_GROUP_PROTOCOL, &member_id));
            return;
        }
        if member_id.is_empty() {
            self.join_new(join, reply, now);
        } else {
            self.join_known(join, reply, now);
        }
    }

    fn join_new(&mut self, join: Join, reply: JoinReply, now: Instant) {
        if let Some(instance) = &join.instance_id
            && let Some(old) = self.statics.get(instance).cloned()
        {
            self.replace_static(old, join, reply, now);
            return;
        }
        if self.members.len() + self.pending.len() >= self.limits.max_members {
            let _ = reply.send(Joined::error(code::GROUP_MAX_SIZE_REACHED, ""));
            return;
        }
        let id = new_member_id(&join);
        if join.require_known_member_id && join.instance_id.is_none() {
            self.pending.insert(id.clone(), now + join.session_timeout);
            let _ = reply.send(Joined::error(code::MEMBER_ID_REQUIRED, &id));
            return;
        }
        self.add_member(id, join, reply, now);
    }

    fn join_known(&mut self, join: Join, reply: JoinReply, now: Instant) {
        let id = join.member_id.clone();
        if self.pending.remove(&id).is_some() {
            self.add_member(id, join, reply, now);
            return;
        }
        if let Err(error) = self.check_member(&id, join.instance_id.as_deref()) {
            let _ = reply.send(Joined::error(error, &id));
            return;
        }
        let is_leader = self.leader.as_deref() == Some(id.as_str());
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        match self.phase {
            Phase::PreparingRebalance => {
                update(member, &join, reply, now);
                self.try_complete_join(now);
            }
            Phase::CompletingRebalance if member.same_protocols(&join.protocols) => {
                // A retried join of the generation being completed: answer it again.
                let answer = self.joined(&id, true);
                let _ = reply.send(answer);
            }
            Phase::Stable if !is_leader && member.same_protocols(&join.protocols) => {
                member.expires = now + member.session_timeout;
                let answer = self.joined(&id, false);
                let _ = reply.send(answer);
            }
            Phase::CompletingRebalance | Phase::Stable => {
                update(member, &join, reply, now);
                self.prepare_rebalance(now);
            }
            Phase::Empty => {
                let _ = reply.send(Joined::error(code::UNKNOWN_MEMBER_ID, &id));
            }
        }
    }

    /// A static member rejoins under a new member id; the old id is fenced.
    fn replace_static(&mut self, old: String, join: Join, reply: JoinReply, now: Instant) {
        let Some(mut member) = self.members.remove(&old) else {
            return;
        };
        if let Some(waiting) = member.join.take() {
            let _ = waiting.send(Joined::error(code::FENCED_INSTANCE_ID, &old));
        }
        if let Some(waiting) = member.sync.take() {
            let _ = waiting.send(Synced::error(code::FENCED_INSTANCE_ID));
        }
        let id = new_member_id(&join);
        let unchanged = member.same_protocols(&join.protocols);
        if let Some(instance) = &join.instance_id {
            self.statics.insert(instance.clone(), id.clone());
        }
        let was_leader = self.leader.as_deref() == Some(old.as_str());
        if was_leader {
            self.leader = Some(id.clone());
        }
        member.client_id.clone_from(&join.client_id);
        member.client_host.clone_from(&join.client_host);
        member.session_timeout = join.session_timeout;
        member.rebalance_timeout = join.rebalance_timeout;
        member.expires = now + join.session_timeout;
        match self.phase {
            Phase::Stable if unchanged => {
                // Kafka's static-membership promise: a restart with the same subscription keeps
                // the assignment and does not rebalance the group.
                self.members.insert(id.clone(), member);
                let mut answer = self.joined(&id, false);
                if was_leader && join.supports_skip_assignment {
                    answer.skip_assignment = true;
                    answer.members = self.member_metadata();
                }
                let _ = reply.send(answer);
            }
            Phase::PreparingRebalance => {
                update(&mut member, &join, reply, now);
                self.members.insert(id, member);
                self.try_complete_join(now);
            }
            _ => {
                update(&mut member, &join, reply, now);
                self.members.insert(id, member);
                self.prepare_rebalance(now);
            }
        }
    }

    fn add_member(&mut self, id: String, join: Join, reply: JoinReply, now: Instant) {
        if let Some(instance) = &join.instance_id {
            self.statics.insert(instance.clone(), id.clone());
        }
        let member = Member {
            instance_id: join.instance_id,
            client_id: join.client_id,
            client_host: join.client_host,
            session_timeout: join.session_timeout,
            rebalance_timeout: join.rebalance_timeout,
            protocol_type: join.protocol_type,
            protocols: join.protocols,
            assignment: Bytes::new(),
            join: Some(reply),
            sync: None,
            expires: now + join.session_timeout,
        };
        self.members.insert(id, member);
        if let Some(delay) = &mut self.initial_delay {
            delay.joined_since = true;
        }
        if self.phase == Phase::PreparingRebalance {
            self.try_complete_join(now);
        } else {
            self.prepare_rebalance(now);
        }
    }

    /// Handles a SyncGroup; the answer goes to `reply`, now or when the leader's arrives.
    pub(crate) fn sync(&mut self, sync: Sync, reply: SyncReply, now: Instant) {
        let id = sync.member_id.as_str();
        if let Err(error) = self.check_member(id, sync.instance_id.as_deref()) {
            let _ = reply.send(Synced::error(error));
            return;
        }
        if sync.generation != self.generation {
            let _ = reply.send(Synced::error(code::ILLEGAL_GENERATION));
            return;
        }
        let type_differs = sync
            .protocol_type
            .as_ref()
            .is_some_and(|t| Some(t) != self.protocol_type.as_ref());
        let name_differs = sync
            .protocol_name
            .as_ref()
            .is_some_and(|n| Some(n) != self.protocol.as_ref());
        if type_differs || name_differs {
            let _ = reply.send(Synced::error(code::INCONSISTENT_GROUP_PROTOCOL));
            return;
        }
        let is_leader = self.leader.as_deref() == Some(id);
        match self.phase {
            Phase::Empty => {
                let _ = reply.send(Synced::error(code::UNKNOWN_MEMBER_ID));
            }
            Phase::PreparingRebalance => {
                let _ = reply.send(Synced::error(code::REBALANCE_IN_PROGRESS));
            }
            Phase::Stable => {
                let answer = self.synced(id);
                if let Some(member) = self.members.get_mut(id) {
                    member.expires = now + member.session_timeout;
                }
                let _ = reply.send(answer);
            }
            Phase::CompletingRebalance => {
                let Some(member) = self.members.get_mut(id) else {
                    return;
                };
                if let Some(earlier) = member.sync.replace(reply) {
                    let _ = earlier.send(Synced::error(code::REBALANCE_IN_PROGRESS));
                }
                member.expires = now + member.session_timeout;
                if is_leader {
                    let mut assignments: HashMap<String, Bytes> =
                        sync.assignments.into_iter().collect();
                    for (member_id, member) in &mut self.members {
                        // Members the leader left out get an empty (well-formed) assignment.
                        member.assignment = assignments.remove(member_id).unwrap_or_default();
                    }
                    self.phase = Phase::Stable;
                    let ids: Vec<String> = self.members.keys().cloned().collect();
                    for id in ids {
                        let answer = self.synced(&id);
                        if let Some(waiting) = self.members.get_mut(&id).and_then(|m| m.sync.take())
                        {
                            let _ = waiting.send(answer);
                        }
                    }
                }
            }
        }
    }

    /// Handles a Heartbeat: the error code to answer.
    pub(crate) fn heartbeat(&mut self, who: &MemberRef, generation: i32, now: Instant) -> i16 {
        if let Err(error) = self.check_member(&who.member_id, who.instance_id.as_deref()) {
            return error;
        }
        if generation != self.generation {
            return code::ILLEGAL_GENERATION;
        }
        let phase = self.phase;
        let Some(member) = self.members.get_mut(&who.member_id) else {
            return code::UNKNOWN_MEMBER_ID;
        };
        member.expires = now + member.session_timeout;
        match phase {
            Phase::Empty => code::UNKNOWN_MEMBER_ID,
            Phase::PreparingRebalance => code::REBALANCE_IN_PROGRESS,
            Phase::CompletingRebalance | Phase::Stable => code::NONE,
        }
    }

    /// Handles one member of a LeaveGroup: the error code for it.
    pub(crate) fn leave(&mut self, who: &MemberRef, now: Instant) -> i16 {
        let id = if who.member_id.is_empty() {
            // v3+: a static member may leave by instance id alone.
            match who.instance_id.as_ref().and_then(|i| self.statics.get(i)) {
                Some(id) => id.clone(),
                None => return code::UNKNOWN_MEMBER_ID,
            }
        } else {
            who.member_id.clone()
        };
        if self.pending.remove(&id).is_some() {
            self.try_complete_join(now);
            return code::NONE;
        }
        if let Err(error) = self.check_member(&id, who.instance_id.as_deref()) {
            return error;
        }
        self.remove_member(&id, now);
        code::NONE
    }

    /// Whether the group's members subscribe to `topic`: `None` when the group has members but
    /// is not a consumer group (its metadata cannot be read), as OffsetDelete must know.
    pub(crate) fn subscribes(&self, topic: &str) -> Option<bool> {
        if self.members.is_empty() {
            return Some(false);
        }
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol.as_deref().unwrap_or_default();
        Some(self.members.values().any(|m| {
            // Unreadable metadata counts as subscribed: offsets are only deleted when sure.
            subscription_topics(&m.metadata(protocol))
                .is_none_or(|topics| topics.iter().any(|t| t == topic))
        }))
    }

    /// Whether an OffsetCommit from `who` at `generation` may be stored: `Ok` or its error code.
    ///
    /// Kafka's order: the member and its generation are checked first, so a member of an old
    /// generation gets ILLEGAL_GENERATION in every state. A member of the current generation
    /// may commit while the group is Stable and while it prepares a rebalance (it still owns
    /// its partitions until it rejoins); only while the new generation's assignment is being
    /// handed out (CompletingRebalance) is the answer REBALANCE_IN_PROGRESS.
    pub(crate) fn check_commit(
        &mut self,
        who: &MemberRef,
        generation: i32,
        now: Instant,
    ) -> Result<(), i16> {
        if self.fenced(&who.member_id, who.instance_id.as_deref()) {
            return Err(code::FENCED_INSTANCE_ID);
        }
        if generation < 0 && self.phase == Phase::Empty {
            // A consumer that manages its own partitions (no group membership).
            return Ok(());
        }
        let Some(member) = self.members.get_mut(&who.member_id) else {
            return Err(code::UNKNOWN_MEMBER_ID);
        };
        if generation != self.generation {
            return Err(code::ILLEGAL_GENERATION);
        }
        if self.phase == Phase::CompletingRebalance {
            return Err(code::REBALANCE_IN_PROGRESS);
        }
        member.expires = now + member.session_timeout;
        Ok(())
    }

    /// Moves the group on at `now`: lapsed member ids, the end of the initial delay or of the
    /// join phase, expired sessions.
    pub(crate) fn tick(&mut self, now: Instant) {
        let before = self.pending.len();
        self.pending.retain(|_, lapses| *lapses > now);
        if self.pending.len() != before {
            self.try_complete_join(now);
        }
        if let Some(delay) = self.initial_delay
            && delay.until <= now
        {
            let limit = self.join_deadline.unwrap_or(now);
            if delay.joined_since && now < limit {
                self.initial_delay = Some(InitialDelay {
                    until: (now + self.limits.initial_rebalance_delay).min(limit),
                    joined_since: false,
                });
            } else {
                self.initial_delay = None;
                self.try_complete_join(now);
            }
        }
        if self.phase == Phase::PreparingRebalance
            && self.initial_delay.is_none()
            && self.join_deadline.is_some_and(|d| d <= now)
        {
            self.complete_join(now);
        }
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| !m.is_waiting() && m.expires <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::debug!(member = %id, "session timed out; removing member");
            self.remove_member(&id, now);
        }
    }

    /// `Ok` when `id` is a member and, for static members, still owns its instance id.
    fn check_member(&self, id: &str, instance_id: Option<&str>) -> Result<(), i16> {
        if self.fenced(id, instance_id) {
            return Err(code::FENCED_INSTANCE_ID);
        }
        if self.members.contains_key(id) {
            Ok(())
        } else {
            Err(code::UNKNOWN_MEMBER_ID)
        }
    }

    /// Whether `instance_id` belongs to another member than `id`: a newer incarnation of the
    /// static member took it over.
    fn fenced(&self, id: &str, instance_id: Option<&str>) -> bool {
        instance_id
            .and_then(|instance| self.statics.get(instance))
            .is_some_and(|owner| owner != id)
    }

    /// Whether member `id` (new: empty) with these protocols fits the other members: same
    /// protocol type, and one protocol they all support.
    fn supports(&self, id: &str, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        let others = || {
            self.members
                .iter()
                .filter(|(m, _)| *m != id)
                .map(|(_, m)| m)
        };
        others().all(|m| m.protocol_type == protocol_type)
            && protocols
                .iter()
                .any(|(name, _)| others().all(|m| supports(m, name)))
    }

    fn remove_member(&mut self, id: &str, now: Instant) {
        let Some(mut member) = self.members.remove(id) else {
            return;
        };
        if let Some(instance) = &member.instance_id
            && self.statics.get(instance).is_some_and(|owner| owner == id)
        {
            self.statics.remove(instance);
        }
        if let Some(waiting) = member.join.take() {
            let _ = waiting.send(Joined::error(code::UNKNOWN_MEMBER_ID, id));
        }
        if let Some(waiting) = member.sync.take() {
            let _ = waiting.send(Synced::error(code::UNKNOWN_MEMBER_ID));
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
        match self.phase {
            Phase::Stable | Phase::CompletingRebalance => self.prepare_rebalance(now),
            Phase::PreparingRebalance => self.try_complete_join(now),
            Phase::Empty => {}
        }
    }

    fn prepare_rebalance(&mut self, now: Instant) {
        if self.phase == Phase::CompletingRebalance {
            for member in self.members.values_mut() {
                member.assignment = Bytes::new();
                if let Some(waiting) = member.sync.take() {
                    let _ = waiting.send(Synced::error(code::REBALANCE_IN_PROGRESS));
                }
            }
        }
        let rebalance_timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.join_deadline = Some(now + rebalance_timeout);
        let delay = self.limits.initial_rebalance_delay;
        if self.phase == Phase::Empty && !delay.is_zero() {
            self.initial_delay = Some(InitialDelay {
                until: (now + delay).min(now + rebalance_timeout),
                joined_since: false,
            });
        }
        self.phase = Phase::PreparingRebalance;
        self.try_complete_join(now);
    }

    fn try_complete_join(&mut self, now: Instant) {
        if self.phase != Phase::PreparingRebalance || self.initial_delay.is_some() {
            return;
        }
        if self.pending.is_empty() && self.members.values().all(|m| m.join.is_some()) {
            self.complete_join(now);
        }
    }

    /// Ends the join phase: members that did not rejoin are dropped, a new generation starts.
    fn complete_join(&mut self, now: Instant) {
        self.initial_delay = None;
        self.join_deadline = None;
        let absent: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.join.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        for id in absent {
            tracing::debug!(member = %id, "did not rejoin in time; removing member");
            if let Some(member) = self.members.remove(&id)
                && let Some(instance) = &member.instance_id
            {
                self.statics.remove(instance);
            }
        }
        self.generation = self.generation.wrapping_add(1).max(1);
        if self.members.is_empty() {
            // Kafka keeps the protocol type of an empty group (ListGroups reports it).
            self.phase = Phase::Empty;
            self.protocol = None;
            self.leader = None;
            return;
        }
        self.protocol = self.select_protocol();
        self.protocol_type = self
            .members
            .values()
            .next()
            .map(|m| m.protocol_type.clone());
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self.members.keys().next().cloned();
        }
        self.phase = Phase::CompletingRebalance;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let answer = self.joined(&id, true);
            if let Some(member) = self.members.get_mut(&id) {
                member.expires = now + member.session_timeout;
                if let Some(waiting) = member.join.take() {
                    let _ = waiting.send(answer);
                }
            }
        }
    }

    /// The protocol every member supports that most members prefer (Kafka's vote).
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| self.members.values().all(|m| supports(m, name)))
            .collect();
        let mut votes = vec![0usize; candidates.len()];
        for member in self.members.values() {
            let choice = member
                .protocols
                .iter()
                .find_map(|(name, _)| candidates.iter().position(|c| c == name));
            if let Some(i) = choice {
                votes[i] += 1;
            }
        }
        let mut best: Option<(usize, usize)> = None;
        for (i, count) in votes.into_iter().enumerate() {
            if best.is_none_or(|(_, most)| count > most) {
                best = Some((i, count));
            }
        }
        best.map(|(i, _)| candidates[i].to_owned())
    }

    fn member_metadata(&self) -> Vec<(String, Option<String>, Bytes)> {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        self.members
            .iter()
            .map(|(id, m)| (id.clone(), m.instance_id.clone(), m.metadata(protocol)))
            .collect()
    }

    /// The JoinGroup answer for member `id` in the current generation.
    fn joined(&self, id: &str, with_members: bool) -> Joined {
        let leader = self.leader.clone().unwrap_or_default();
        let members = if with_members && leader == id {
            self.member_metadata()
        } else {
            Vec::new()
        };
        Joined {
            error: code::NONE,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            leader,
            member_id: id.to_owned(),
            skip_assignment: false,
            members,
        }
    }

    fn synced(&self, id: &str) -> Synced {
        Synced {
            error: code::NONE,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol.clone(),
            assignment: self
                .members
                .get(id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default(),
        }
    }
}

/// The topics of a consumer-protocol subscription (`ConsumerProtocolSubscription`: version,
/// then the topic names, then fields this does not need). Read by hand rather than with
/// `kafka-protocol`'s decoder, which reserves memory for the wire's array count before reading.
fn subscription_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut rest = metadata.get(2..)?; // version
    let count = i32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    rest = &rest[4..];
    let mut topics = Vec::new();
    for _ in 0..count.max(0) {
        let len = usize::try_from(i16::from_be_bytes(rest.get(..2)?.try_into().ok()?)).ok()?;
        let name = rest.get(2..2 + len)?;
        topics.push(String::from_utf8_lossy(name).into_owned());
        rest = &rest[2 + len..];
    }
    Some(topics)
}

/// A fresh member id: the instance id (static members) or the client id, then a UUID.
fn new_member_id(join: &Join) -> String {
    let prefix = join.instance_id.as_deref().unwrap_or(&join.client_id);
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

fn supports(member: &Member, protocol: &str) -> bool {
    member.protocols.iter().any(|(name, _)| name == protocol)
}

/// Takes a rejoining member's new settings and parks its join.
fn update(member: &mut Member, join: &Join, reply: JoinReply, now: Instant) {
    member.protocols.clone_from(&join.protocols);
    member.protocol_type.clone_from(&join.protocol_type);
    member.session_timeout = join.session_timeout;
    member.rebalance_timeout = join.rebalance_timeout;
    member.client_id.clone_from(&join.client_id);
    member.client_host.clone_from(&join.client_host);
    member.expires = now + join.session_timeout;
    if let Some(earlier) = member.join.replace(reply) {
        let _ = earlier.send(Joined::error(code::REBALANCE_IN_PROGRESS, ""));
    }
}

#[cfg(test)]
mod tests;
