use super::*;

const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(30);
const DELAY: Duration = Duration::from_secs(3);

fn group(delay: Duration) -> Group {
    Group::new(Limits {
        initial_rebalance_delay: delay,
        max_members: 10,
    })
}

fn join_as(member_id: &str, protocols: &[(&str, &[u8])]) -> Join {
    Join {
        member_id: member_id.to_owned(),
        instance_id: None,
        client_id: "client".to_owned(),
        client_host: "/127.0.0.1".to_owned(),
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".to_owned(),
        protocols: protocols
            .iter()
            .map(|(n, m)| ((*n).to_owned(), Bytes::copy_from_slice(m)))
            .collect(),
        require_known_member_id: true,
        supports_skip_assignment: false,
    }
}

fn join(member_id: &str) -> Join {
    join_as(member_id, &[("range", b"meta")])
}

fn send_join(g: &mut Group, join: Join, now: Instant) -> oneshot::Receiver<Joined> {
    let (tx, rx) = oneshot::channel();
    g.join(join, tx, now);
    rx
}

fn send_sync(
    g: &mut Group,
    member: &str,
    generation: i32,
    assignments: &[(&str, &[u8])],
    now: Instant,
) -> oneshot::Receiver<Synced> {
    let (tx, rx) = oneshot::channel();
    let sync = Sync {
        member_id: member.to_owned(),
        instance_id: None,
        generation,
        protocol_type: None,
        protocol_name: None,
        assignments: assignments
            .iter()
            .map(|(m, a)| ((*m).to_owned(), Bytes::copy_from_slice(a)))
            .collect(),
    };
    g.sync(sync, tx, now);
    rx
}

fn answered<T>(rx: &mut oneshot::Receiver<T>) -> T {
    rx.try_recv().expect("answered")
}

fn waiting<T: std::fmt::Debug>(rx: &mut oneshot::Receiver<T>) {
    assert_eq!(
        rx.try_recv().unwrap_err(),
        oneshot::error::TryRecvError::Empty
    );
}

fn who(member_id: &str) -> MemberRef {
    MemberRef {
        member_id: member_id.to_owned(),
        instance_id: None,
    }
}

/// A new member's id: the v4+ MEMBER_ID_REQUIRED round trip.
fn member_id(g: &mut Group, now: Instant) -> String {
    let answer = answered(&mut send_join(g, join(""), now));
    assert_eq!(answer.error, code::MEMBER_ID_REQUIRED);
    assert!(
        answer.member_id.starts_with("client-"),
        "{}",
        answer.member_id
    );
    answer.member_id
}

/// Two members joined and synced to a stable generation 1; returns (leader, follower).
fn stable_pair(g: &mut Group, now: Instant) -> (String, String) {
    let a = member_id(g, now);
    let b = member_id(g, now);
    let mut ja = send_join(g, join(&a), now);
    let mut jb = send_join(g, join(&b), now);
    let (ja, jb) = (answered(&mut ja), answered(&mut jb));
    let (leader, follower) = if ja.leader == a { (a, b) } else { (b, a) };
    assert_eq!(ja.generation, 1);
    assert_eq!(jb.generation, 1);
    let mut sf = send_sync(g, &follower, 1, &[], now);
    let mut sl = send_sync(g, &leader, 1, &[(&leader, b"L"), (&follower, b"F")], now);
    assert_eq!(answered(&mut sf).assignment.as_ref(), b"F");
    assert_eq!(answered(&mut sl).assignment.as_ref(), b"L");
    assert_eq!(g.phase(), Phase::Stable);
    (leader, follower)
}

#[test]
fn a_new_member_gets_its_id_then_waits_out_the_initial_delay() {
    let mut g = group(DELAY);
    let t0 = Instant::now();
    let id = member_id(&mut g, t0);
    assert_eq!(g.phase(), Phase::Empty);
    let mut rx = send_join(&mut g, join(&id), t0);
    waiting(&mut rx);
    assert_eq!(g.phase(), Phase::PreparingRebalance);
    assert_eq!(g.next_deadline(), Some(t0 + DELAY));
    g.tick(t0 + DELAY);
    let joined = answered(&mut rx);
    assert_eq!(joined.error, code::NONE);
    assert_eq!(joined.generation, 1);
    assert_eq!(joined.leader, id);
    assert_eq!(joined.protocol_name.as_deref(), Some("range"));
    assert_eq!(joined.protocol_type.as_deref(), Some("consumer"));
    assert_eq!(
        joined.members,
        vec![(id.clone(), None, Bytes::from_static(b"meta"))]
    );
    assert_eq!(g.phase(), Phase::CompletingRebalance);
}

#[test]
fn joins_during_the_initial_delay_extend_it_and_land_in_one_generation() {
    let mut g = group(DELAY);
    let t0 = Instant::now();
    let a = member_id(&mut g, t0);
    let mut ja = send_join(&mut g, join(&a), t0);
    let t1 = t0 + Duration::from_secs(2);
    let b = member_id(&mut g, t1);
    let mut jb = send_join(&mut g, join(&b), t1);
    g.tick(t0 + DELAY);
    // b joined during the window: one more window before the group completes.
    waiting(&mut ja);
    waiting(&mut jb);
    g.tick(t0 + DELAY * 2);
    let (ja, jb) = (answered(&mut ja), answered(&mut jb));
    assert_eq!((ja.generation, jb.generation), (1, 1));
    let leader = if ja.leader == a { &ja } else { &jb };
    assert_eq!(leader.members.len(), 2);
}

#[test]
fn followers_wait_for_the_leader_and_left_out_members_get_empty_assignments() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let a = member_id(&mut g, t0);
    let b = member_id(&mut g, t0);
    let mut ja = send_join(&mut g, join(&a), t0);
    waiting(&mut ja); // b's id is pending: the join phase waits for it
    let mut jb = send_join(&mut g, join(&b), t0);
    let (ja, jb) = (answered(&mut ja), answered(&mut jb));
    assert_eq!(ja.leader, jb.leader);
    let (leader, follower) = if ja.leader == a { (a, b) } else { (b, a) };
    let mut sf = send_sync(&mut g, &follower, 1, &[], t0);
    waiting(&mut sf);
    assert_eq!(
        g.heartbeat(&who(&follower), 1, t0),
        code::NONE,
        "heartbeats while awaiting the sync are fine"
    );
    let mut sl = send_sync(&mut g, &leader, 1, &[(&leader, b"all")], t0);
    let follower_answer = answered(&mut sf);
    assert_eq!(follower_answer.error, code::NONE);
    assert!(follower_answer.assignment.is_empty());
    assert_eq!(answered(&mut sl).assignment.as_ref(), b"all");
    let view = g.view();
    assert_eq!(view.phase, Phase::Stable);
    assert_eq!(view.protocol, "range");
    assert_eq!(view.members.len(), 2);
}

#[test]
fn heartbeat_errors_follow_the_group_state() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let (leader, follower) = stable_pair(&mut g, t0);
    assert_eq!(g.heartbeat(&who(&follower), 1, t0), code::NONE);
    assert_eq!(
        g.heartbeat(&who(&follower), 0, t0),
        code::ILLEGAL_GENERATION
    );
    assert_eq!(g.heartbeat(&who("nobody"), 1, t0), code::UNKNOWN_MEMBER_ID);
    // The leader rejoins (e.g. its subscription changed): a rebalance starts.
    let mut jl = send_join(&mut g, join_as(&leader, &[("range", b"new")]), t0);
    waiting(&mut jl);
    assert_eq!(
        g.heartbeat(&who(&follower), 1, t0),
        code::REBALANCE_IN_PROGRESS
    );
    let mut sync = send_sync(&mut g, &follower, 1, &[], t0);
    assert_eq!(answered(&mut sync).error, code::REBALANCE_IN_PROGRESS);
    let mut jf = send_join(&mut g, join(&follower), t0);
    assert_eq!(answered(&mut jl).generation, 2);
    assert_eq!(answered(&mut jf).generation, 2);
    assert_eq!(
        g.heartbeat(&who(&follower), 1, t0),
        code::ILLEGAL_GENERATION
    );
}

#[test]
fn an_expired_session_removes_the_member_and_rebalances_the_rest() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let (leader, follower) = stable_pair(&mut g, t0);
    let t1 = t0 + SESSION / 2;
    assert_eq!(g.heartbeat(&who(&leader), 1, t1), code::NONE);
    // The follower went silent; its session ends first.
    assert_eq!(g.next_deadline(), Some(t0 + SESSION));
    g.tick(t0 + SESSION);
    assert_eq!(g.phase(), Phase::PreparingRebalance);
    assert_eq!(
        g.heartbeat(&who(&follower), 1, t0 + SESSION),
        code::UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        g.heartbeat(&who(&leader), 1, t0 + SESSION),
        code::REBALANCE_IN_PROGRESS
    );
    let mut jl = send_join(&mut g, join(&leader), t0 + SESSION);
    let joined = answered(&mut jl);
    assert_eq!(joined.generation, 2);
    assert_eq!(joined.members.len(), 1);
}

#[test]
fn a_member_that_does_not_rejoin_in_time_is_dropped() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let (leader, follower) = stable_pair(&mut g, t0);
    let mut jl = send_join(&mut g, join_as(&leader, &[("range", b"v2")]), t0);
    // The follower keeps heartbeating but never rejoins: the rebalance timeout ends the phase.
    let mut t = t0;
    while t < t0 + REBALANCE {
        t += Duration::from_secs(3);
        let _ = g.heartbeat(&who(&follower), 1, t);
        g.tick(t);
    }
    let joined = answered(&mut jl);
    assert_eq!(joined.generation, 2);
    assert_eq!(joined.members.len(), 1, "only the leader is left");
}

#[test]
fn a_static_member_that_restarts_keeps_its_assignment_without_a_rebalance() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let static_join = |member_id: &str| Join {
        instance_id: Some("host-1".to_owned()),
        ..join(member_id)
    };
    // Static members skip MEMBER_ID_REQUIRED.
    let mut js = send_join(&mut g, static_join(""), t0);
    let first = answered(&mut js);
    assert_eq!(first.error, code::NONE);
    assert!(first.member_id.starts_with("host-1-"));
    let old = first.member_id;
    let mut sync = send_sync(&mut g, &old, 1, &[(&old, b"p0,p1")], t0);
    assert_eq!(answered(&mut sync).assignment.as_ref(), b"p0,p1");
    // Restart: same instance id, no member id.
    let mut again = send_join(&mut g, static_join(""), t0);
    let rejoined = answered(&mut again);
    assert_eq!(rejoined.error, code::NONE);
    assert_eq!(rejoined.generation, 1, "no new generation");
    assert_ne!(rejoined.member_id, old);
    assert_eq!(g.phase(), Phase::Stable);
    let new = rejoined.member_id;
    let mut sync = send_sync(&mut g, &new, 1, &[], t0);
    assert_eq!(answered(&mut sync).assignment.as_ref(), b"p0,p1");
    // The old incarnation is fenced.
    let fenced = MemberRef {
        member_id: old,
        instance_id: Some("host-1".to_owned()),
    };
    assert_eq!(g.heartbeat(&fenced, 1, t0), code::FENCED_INSTANCE_ID);
    assert_eq!(
        g.check_commit(&fenced, 1, t0),
        Err(code::FENCED_INSTANCE_ID)
    );
    // A static member may leave by instance id alone.
    let by_instance = MemberRef {
        member_id: String::new(),
        instance_id: Some("host-1".to_owned()),
    };
    assert_eq!(g.leave(&by_instance, t0), code::NONE);
    // The last member left: the join phase it starts ends at once, with nobody.
    assert_eq!(g.phase(), Phase::Empty);
    assert!(g.is_vacant());
}

#[test]
fn leave_removes_members_and_reports_unknown_ones() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let (leader, follower) = stable_pair(&mut g, t0);
    assert_eq!(g.leave(&who("nobody"), t0), code::UNKNOWN_MEMBER_ID);
    assert_eq!(g.leave(&who(&follower), t0), code::NONE);
    assert_eq!(g.phase(), Phase::PreparingRebalance);
    assert_eq!(g.leave(&who(&leader), t0), code::NONE);
    assert_eq!(g.phase(), Phase::Empty);
    assert!(g.is_vacant());
    // A pending id (MEMBER_ID_REQUIRED not yet used) may leave too.
    let id = member_id(&mut g, t0);
    assert_eq!(g.leave(&who(&id), t0), code::NONE);
    assert!(g.is_vacant());
}

#[test]
fn pending_member_ids_lapse_after_the_session_timeout() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let a = member_id(&mut g, t0);
    let _never_used = member_id(&mut g, t0);
    let mut ja = send_join(&mut g, join(&a), t0);
    waiting(&mut ja);
    g.tick(t0 + SESSION);
    assert_eq!(answered(&mut ja).generation, 1);
}

#[test]
fn protocols_must_be_compatible() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let (_leader, _follower) = stable_pair(&mut g, t0);
    let mut other_type = send_join(
        &mut g,
        Join {
            protocol_type: "connect".to_owned(),
            ..join("")
        },
        t0,
    );
    assert_eq!(
        answered(&mut other_type).error,
        code::INCONSISTENT_GROUP_PROTOCOL
    );
    let mut no_common = send_join(&mut g, join_as("", &[("sticky", b"")]), t0);
    assert_eq!(
        answered(&mut no_common).error,
        code::INCONSISTENT_GROUP_PROTOCOL
    );
    let mut empty = send_join(&mut g, join_as("", &[]), t0);
    assert_eq!(
        answered(&mut empty).error,
        code::INCONSISTENT_GROUP_PROTOCOL
    );
}

#[test]
fn the_protocol_most_members_prefer_wins() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let prefs: [&[(&str, &[u8])]; 3] = [
        &[("range", b"r"), ("roundrobin", b"rr")],
        &[("roundrobin", b"rr"), ("range", b"r")],
        &[("roundrobin", b"rr"), ("range", b"r")],
    ];
    let ids: Vec<String> = (0..3).map(|_| member_id(&mut g, t0)).collect();
    let mut rxs: Vec<_> = ids
        .iter()
        .zip(prefs)
        .map(|(id, p)| send_join(&mut g, join_as(id, p), t0))
        .collect();
    for rx in &mut rxs {
        let joined = answered(rx);
        assert_eq!(joined.protocol_name.as_deref(), Some("roundrobin"));
        if !joined.members.is_empty() {
            assert!(joined.members.iter().all(|(_, _, m)| m.as_ref() == b"rr"));
        }
    }
}

#[test]
fn commits_are_checked_against_membership_and_generation() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    // An empty group accepts commits from consumers outside group management.
    assert_eq!(g.check_commit(&who(""), -1, t0), Ok(()));
    let (leader, follower) = stable_pair(&mut g, t0);
    assert_eq!(g.check_commit(&who(&leader), 1, t0), Ok(()));
    assert_eq!(
        g.check_commit(&who(&leader), 0, t0),
        Err(code::ILLEGAL_GENERATION)
    );
    assert_eq!(
        g.check_commit(&who(""), -1, t0),
        Err(code::UNKNOWN_MEMBER_ID)
    );
    // During a join phase, members of the current generation may still commit.
    let mut jl = send_join(&mut g, join_as(&leader, &[("range", b"x")]), t0);
    assert_eq!(g.check_commit(&who(&follower), 1, t0), Ok(()));
    let mut jf = send_join(&mut g, join(&follower), t0);
    let _ = (answered(&mut jl), answered(&mut jf));
    assert_eq!(
        g.check_commit(&who(&follower), 2, t0),
        Err(code::REBALANCE_IN_PROGRESS)
    );
}

#[test]
fn commits_in_the_empty_state() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    assert_eq!(g.phase(), Phase::Empty);
    assert_eq!(g.check_commit(&who(""), -1, t0), Ok(()));
    assert_eq!(
        g.check_commit(&who("gone"), 1, t0),
        Err(code::UNKNOWN_MEMBER_ID)
    );
}

#[test]
fn commits_in_the_stable_state() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let (leader, follower) = stable_pair(&mut g, t0);
    assert_eq!(g.phase(), Phase::Stable);
    assert_eq!(g.check_commit(&who(&leader), 1, t0), Ok(()));
    assert_eq!(g.check_commit(&who(&follower), 1, t0), Ok(()));
    assert_eq!(
        g.check_commit(&who(&follower), 0, t0),
        Err(code::ILLEGAL_GENERATION)
    );
}

#[test]
fn commits_while_preparing_a_rebalance_are_accepted_from_the_current_generation() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let (leader, follower) = stable_pair(&mut g, t0);
    // The leader rejoins with other protocols: the group prepares a rebalance and waits for
    // the follower, which still owns its partitions and commits on revoke.
    let mut jl = send_join(&mut g, join_as(&leader, &[("range", b"x")]), t0);
    waiting(&mut jl);
    assert_eq!(g.phase(), Phase::PreparingRebalance);
    assert_eq!(g.check_commit(&who(&follower), 1, t0), Ok(()));
    assert_eq!(g.check_commit(&who(&leader), 1, t0), Ok(()));
    assert_eq!(
        g.check_commit(&who(&follower), 0, t0),
        Err(code::ILLEGAL_GENERATION)
    );
    assert_eq!(
        g.check_commit(&who("stranger"), 1, t0),
        Err(code::UNKNOWN_MEMBER_ID)
    );
}

#[test]
fn commits_while_completing_a_rebalance() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let (leader, follower) = stable_pair(&mut g, t0);
    let mut jl = send_join(&mut g, join_as(&leader, &[("range", b"x")]), t0);
    let mut jf = send_join(&mut g, join(&follower), t0);
    assert_eq!(answered(&mut jl).generation, 2);
    assert_eq!(answered(&mut jf).generation, 2);
    assert_eq!(g.phase(), Phase::CompletingRebalance);
    // The new generation's assignment is not handed out yet.
    assert_eq!(
        g.check_commit(&who(&follower), 2, t0),
        Err(code::REBALANCE_IN_PROGRESS)
    );
    // A commit still naming the old generation is ILLEGAL_GENERATION, as Kafka answers.
    assert_eq!(
        g.check_commit(&who(&follower), 1, t0),
        Err(code::ILLEGAL_GENERATION)
    );
    assert_eq!(
        g.check_commit(&who("stranger"), 2, t0),
        Err(code::UNKNOWN_MEMBER_ID)
    );
    // Once synced, the group is Stable and the new generation commits.
    let mut sf = send_sync(&mut g, &follower, 2, &[], t0);
    let mut sl = send_sync(
        &mut g,
        &leader,
        2,
        &[(&leader, b"L"), (&follower, b"F")],
        t0,
    );
    let _ = (answered(&mut sf), answered(&mut sl));
    assert_eq!(g.phase(), Phase::Stable);
    assert_eq!(g.check_commit(&who(&follower), 2, t0), Ok(()));
}

#[test]
fn a_group_is_bounded_in_size() {
    let mut g = Group::new(Limits {
        initial_rebalance_delay: Duration::ZERO,
        max_members: 2,
    });
    let t0 = Instant::now();
    let _a = member_id(&mut g, t0);
    let _b = member_id(&mut g, t0);
    let mut third = send_join(&mut g, join(""), t0);
    assert_eq!(answered(&mut third).error, code::GROUP_MAX_SIZE_REACHED);
}

#[test]
fn a_retried_join_during_completing_rebalance_gets_the_same_answer() {
    let mut g = group(Duration::ZERO);
    let t0 = Instant::now();
    let a = member_id(&mut g, t0);
    let first = answered(&mut send_join(&mut g, join(&a), t0));
    let again = answered(&mut send_join(&mut g, join(&a), t0));
    assert_eq!(first, again);
    assert_eq!(g.phase(), Phase::CompletingRebalance);
}
