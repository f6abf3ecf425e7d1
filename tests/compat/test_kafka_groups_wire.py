"""The group coordinator's wire contract, with hand-encoded requests on plain sockets where the
clients hide it: JoinGroup v0 and v4 (MEMBER_ID_REQUIRED), a follower's SyncGroup waiting for
the leader's, a member left out of the leader's assignment getting an empty one, Heartbeat
errors (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID), LeaveGroup v0 and
INCONSISTENT_GROUP_PROTOCOL."""

import socket
import struct

from kafka_support import _read_exact, _string

JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP = 11, 12, 13, 14
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
UNKNOWN_MEMBER_ID = 25
REBALANCE_IN_PROGRESS = 27
MEMBER_ID_REQUIRED = 79


def _bytes(b):
    return struct.pack(">i", len(b)) + b


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values if len(values) > 1 else values[0]

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return s

    def bytes(self):
        n = self.take(">i")
        if n < 0:
            return None
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b


class Conn:
    """One connection; requests can be sent now and their answers read later."""

    def __init__(self, bootstrap):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=15)
        self.correlation = 0

    def send(self, api_key, version, body):
        self.correlation += 1
        request = struct.pack(">hhi", api_key, version, self.correlation) + _string("wire") + body
        self.sock.sendall(struct.pack(">i", len(request)) + request)
        return self.correlation

    def recv(self, correlation, timeout=15):
        self.sock.settimeout(timeout)
        size = struct.unpack(">i", _read_exact(self.sock, 4))[0]
        data = _read_exact(self.sock, size)
        assert struct.unpack_from(">i", data, 0)[0] == correlation
        return Reader(data[4:])

    def answered_within(self, timeout):
        """True when a response starts arriving within `timeout` seconds."""
        self.sock.settimeout(timeout)
        try:
            return bool(self.sock.recv(1, socket.MSG_PEEK))
        except TimeoutError:
            return False

    def close(self):
        self.sock.close()


def join_v0(group, member_id, protocols, session_ms=10000):
    body = _string(group) + struct.pack(">i", session_ms) + _string(member_id) + _string("consumer")
    body += struct.pack(">i", len(protocols))
    for name, metadata in protocols:
        body += _string(name) + _bytes(metadata)
    return body


def read_join_v0(r):
    error, generation = r.take(">hi")
    protocol, leader, member_id = r.string(), r.string(), r.string()
    members = {}
    for _ in range(r.take(">i")):
        m = r.string()
        members[m] = r.bytes()
    return {"error": error, "generation": generation, "protocol": protocol, "leader": leader,
            "member_id": member_id, "members": members}


def sync_v0(group, generation, member_id, assignments):
    body = _string(group) + struct.pack(">i", generation) + _string(member_id)
    body += struct.pack(">i", len(assignments))
    for m, a in assignments.items():
        body += _string(m) + _bytes(a)
    return body


def read_sync_v0(r):
    error = r.take(">h")
    return error, r.bytes()


def heartbeat(conn, group, generation, member_id):
    c = conn.send(HEARTBEAT, 0, _string(group) + struct.pack(">i", generation) + _string(member_id))
    return conn.recv(c).take(">h")


def test_kafka_group_wire_join_sync_heartbeat_leave(group_gateway, hub_name):
    """Two members speak JoinGroup/SyncGroup/Heartbeat/LeaveGroup v0: the second member's join
    puts the first in REBALANCE_IN_PROGRESS; in generation 2 the follower's SyncGroup waits
    until the leader's arrives, and the follower, left out of the leader's assignment, gets an
    empty one; stale generations are ILLEGAL_GENERATION, unknown members UNKNOWN_MEMBER_ID; a
    LeaveGroup sends the remaining member into a rebalance."""
    group = f"g-{hub_name}"
    protocols = [("range", b"meta-a")]
    a, b = Conn(group_gateway.kafka), Conn(group_gateway.kafka)
    try:
        first = read_join_v0(a.recv(a.send(JOIN_GROUP, 0, join_v0(group, "", protocols))))
        assert first["error"] == 0 and first["generation"] == 1, first
        member_a = first["member_id"]
        assert first["leader"] == member_a and first["members"] == {member_a: b"meta-a"}, first
        assert read_sync_v0(a.recv(a.send(SYNC_GROUP, 0, sync_v0(group, 1, member_a, {member_a: b"A1"})))) == (0, b"A1")
        assert heartbeat(a, group, 1, member_a) == 0

        # B joins: its JoinGroup waits for A, which hears of the rebalance from its heartbeat.
        b_join = b.send(JOIN_GROUP, 0, join_v0(group, "", [("range", b"meta-b")]))
        assert not b.answered_within(0.5), "the new member's JoinGroup did not wait for the rebalance"
        assert heartbeat(a, group, 1, member_a) == REBALANCE_IN_PROGRESS
        a_join = read_join_v0(a.recv(a.send(JOIN_GROUP, 0, join_v0(group, member_a, protocols))))
        b_joined = read_join_v0(b.recv(b_join))
        assert a_join["error"] == 0 and b_joined["error"] == 0, (a_join, b_joined)
        assert a_join["generation"] == b_joined["generation"] == 2, (a_join, b_joined)
        member_b = b_joined["member_id"]
        assert a_join["leader"] == b_joined["leader"] and a_join["leader"] in (member_a, member_b)
        joined = {member_a: a_join, member_b: b_joined}
        leader_id = a_join["leader"]
        follower_id = member_b if leader_id == member_a else member_a
        assert joined[leader_id]["members"] == {member_a: b"meta-a", member_b: b"meta-b"}
        assert joined[follower_id]["members"] == {}, "only the leader gets the member list"
        conns = {member_a: a, member_b: b}
        leader, follower = conns[leader_id], conns[follower_id]

        # The follower asks first and waits; the leader's assignment leaves it out.
        f_sync = follower.send(SYNC_GROUP, 0, sync_v0(group, 2, follower_id, {}))
        assert not follower.answered_within(0.5), "the follower's SyncGroup did not wait for the leader"
        leader_sync = leader.recv(leader.send(SYNC_GROUP, 0, sync_v0(group, 2, leader_id, {leader_id: b"L2"})))
        assert read_sync_v0(leader_sync) == (0, b"L2")
        assert read_sync_v0(follower.recv(f_sync)) == (0, b""), "a member left out must get an empty assignment"

        assert heartbeat(leader, group, 2, leader_id) == 0
        assert heartbeat(follower, group, 1, follower_id) == ILLEGAL_GENERATION
        assert heartbeat(follower, group, 2, "no-such-member") == UNKNOWN_MEMBER_ID

        # A member with no protocol in common with the group is refused.
        other = read_join_v0(a.recv(a.send(JOIN_GROUP, 0, join_v0(group, "", [("roundrobin", b"x")]))))
        assert other["error"] == INCONSISTENT_GROUP_PROTOCOL, other

        c = follower.send(LEAVE_GROUP, 0, _string(group) + _string(follower_id))
        assert follower.recv(c).take(">h") == 0
        assert heartbeat(leader, group, 2, leader_id) == REBALANCE_IN_PROGRESS
        again = read_join_v0(leader.recv(leader.send(JOIN_GROUP, 0, join_v0(group, leader_id, protocols))))
        assert (again["error"], again["generation"], again["members"]) == (0, 3, {leader_id: joined[leader_id]["members"][leader_id]})
    finally:
        a.close()
        b.close()


def test_kafka_group_wire_join_v4_requires_member_id(group_gateway, hub_name):
    """JoinGroup v4 with an empty member id is answered MEMBER_ID_REQUIRED with the id to use;
    joining again with it succeeds with that id."""
    group = f"g-{hub_name}"
    conn = Conn(group_gateway.kafka)

    def join_v4(member_id):
        body = _string(group) + struct.pack(">ii", 10000, 30000) + _string(member_id) + _string("consumer")
        body += struct.pack(">i", 1) + _string("range") + _bytes(b"m")
        r = conn.recv(conn.send(JOIN_GROUP, 4, body))
        _throttle, error, generation = r.take(">ihi")
        protocol, leader, member = r.string(), r.string(), r.string()
        return error, generation, protocol, leader, member

    try:
        error, _generation, _protocol, _leader, member = join_v4("")
        assert error == MEMBER_ID_REQUIRED and member, (error, member)
        assert join_v4(member) == (0, 1, "range", member, member)
    finally:
        conn.close()


def test_kafka_group_wire_session_timeout_bounds(start_gateway, hub_name):
    """JoinGroup session timeouts outside --kafka-group-min/max-session-timeout-ms are refused
    with INVALID_SESSION_TIMEOUT; the bounds themselves are accepted."""
    gateway = start_gateway("--kafka-group-initial-rebalance-delay-ms", "0",
                            "--kafka-group-min-session-timeout-ms", "2000",
                            "--kafka-group-max-session-timeout-ms", "20000")
    conn = Conn(gateway.kafka)
    try:
        for session_ms, expected in ((1999, 26), (20001, 26), (2000, 0)):
            group = f"g{session_ms}-{hub_name}"
            r = conn.recv(conn.send(JOIN_GROUP, 0, join_v0(group, "", [("range", b"m")], session_ms)))
            assert read_join_v0(r)["error"] == expected, (session_ms, expected)
        r = conn.recv(conn.send(JOIN_GROUP, 0, join_v0(f"gmax-{hub_name}", "", [("range", b"m")], 20000)))
        assert read_join_v0(r)["error"] == 0
    finally:
        conn.close()


def test_kafka_group_wire_member_missing_the_rebalance_timeout_is_dropped(group_gateway, hub_name):
    """A member that does not rejoin within the rebalance timeout (1 s, JoinGroup v1) is
    dropped when the join phase ends: the new generation goes on without it and its next
    heartbeat is UNKNOWN_MEMBER_ID."""
    import time

    group = f"g-{hub_name}"

    def join_v1(member_id, metadata):
        body = _string(group) + struct.pack(">ii", 10000, 1000) + _string(member_id) + _string("consumer")
        return body + struct.pack(">i", 1) + _string("range") + _bytes(metadata)

    a, b = Conn(group_gateway.kafka), Conn(group_gateway.kafka)
    try:
        first = read_join_v0(a.recv(a.send(JOIN_GROUP, 1, join_v1("", b"a"))))
        member_a = first["member_id"]
        assert (first["error"], first["generation"]) == (0, 1), first
        assert read_sync_v0(a.recv(a.send(SYNC_GROUP, 0, sync_v0(group, 1, member_a, {member_a: b"A"})))) == (0, b"A")
        started = time.monotonic()
        second = read_join_v0(b.recv(b.send(JOIN_GROUP, 1, join_v1("", b"b"))))
        waited = time.monotonic() - started
        member_b = second["member_id"]
        assert (second["error"], second["generation"], second["leader"]) == (0, 2, member_b), second
        assert second["members"] == {member_b: b"b"}, second
        assert 0.8 <= waited < 5, f"the join phase ended after {waited:.2f} s, not at the 1 s rebalance timeout"
        assert heartbeat(a, group, 1, member_a) == UNKNOWN_MEMBER_ID
    finally:
        a.close()
        b.close()


def offset_commit_v2(conn, group, generation, member_id, topic, offsets):
    """OffsetCommit v2 of {partition: (offset, metadata)}: {partition: error code}."""
    body = _string(group) + struct.pack(">i", generation) + _string(member_id) + struct.pack(">q", -1)
    body += struct.pack(">i", 1) + _string(topic) + struct.pack(">i", len(offsets))
    for partition, (offset, metadata) in offsets.items():
        body += struct.pack(">iq", partition, offset) + _string(metadata)
    r = conn.recv(conn.send(8, 2, body))
    assert r.take(">i") == 1 and r.string() == topic
    errors = {}
    for _ in range(r.take(">i")):
        partition, error = r.take(">ih")
        errors[partition] = error
    return errors


def offset_fetch_v1(conn, group, topic, partitions):
    """OffsetFetch v1: {partition: (offset, metadata, error)}."""
    body = _string(group) + struct.pack(">i", 1) + _string(topic) + struct.pack(">i", len(partitions))
    body += b"".join(struct.pack(">i", p) for p in partitions)
    r = conn.recv(conn.send(9, 1, body))
    assert r.take(">i") == 1 and r.string() == topic
    out = {}
    for _ in range(r.take(">i")):
        partition, offset = r.take(">iq")
        metadata = r.string()
        out[partition] = (offset, metadata, r.take(">h"))
    return out


def test_kafka_group_wire_offset_commit_rules(group_gateway, hub_name):
    """OffsetCommit v2 / OffsetFetch v1 on raw requests, with Kafka's rules for who may commit:
    the member of the current generation may; a wrong generation is ILLEGAL_GENERATION, an
    unknown member UNKNOWN_MEMBER_ID, and a commit from outside group management (generation -1,
    no member id) UNKNOWN_MEMBER_ID while the group has members but accepted once it is empty;
    a partition the topic does not have is UNKNOWN_TOPIC_OR_PARTITION."""
    from kafka_group_support import create_topic

    create_topic(group_gateway.kafka, hub_name, 2)
    group = f"g-{hub_name}"
    conn = Conn(group_gateway.kafka)
    try:
        joined = read_join_v0(conn.recv(conn.send(JOIN_GROUP, 0, join_v0(group, "", [("range", b"m")]))))
        member, generation = joined["member_id"], joined["generation"]
        assert read_sync_v0(conn.recv(conn.send(SYNC_GROUP, 0, sync_v0(group, generation, member, {member: b"a"}))))[0] == 0

        assert offset_commit_v2(conn, group, generation, member, hub_name, {0: (5, "five"), 1: (6, "")}) == {0: 0, 1: 0}
        assert offset_commit_v2(conn, group, generation + 6, member, hub_name, {0: (9, "")}) == {0: ILLEGAL_GENERATION}
        assert offset_commit_v2(conn, group, generation, "intruder", hub_name, {0: (9, "")}) == {0: UNKNOWN_MEMBER_ID}
        assert offset_commit_v2(conn, group, -1, "", hub_name, {0: (9, "")}) == {0: UNKNOWN_MEMBER_ID}
        assert offset_commit_v2(conn, group, generation, member, hub_name, {99: (1, "")}) == {99: 3}
        assert offset_fetch_v1(conn, group, hub_name, [0, 1]) == {0: (5, "five", 0), 1: (6, "", 0)}

        c = conn.send(LEAVE_GROUP, 0, _string(group) + _string(member))
        assert conn.recv(c).take(">h") == 0
        assert offset_commit_v2(conn, group, -1, "", hub_name, {0: (7, "admin")}) == {0: 0}
        assert offset_fetch_v1(conn, group, hub_name, [0, 1]) == {0: (7, "admin", 0), 1: (6, "", 0)}
        # No commit for a group nobody used: offset -1, no error.
        assert offset_fetch_v1(conn, f"none-{hub_name}", hub_name, [0]) == {0: (-1, "", 0)}
    finally:
        conn.close()


def test_kafka_group_wire_offset_commit_during_a_rebalance(group_gateway, hub_name):
    """OffsetCommit v2 in each state of a classic group, as Kafka answers: Stable and
    PreparingRebalance accept the current generation (a member commits on revoke before it
    rejoins, and that commit is stored); CompletingRebalance answers REBALANCE_IN_PROGRESS to
    the new generation; a commit naming an old generation is ILLEGAL_GENERATION in every state."""
    from kafka_group_support import create_topic

    create_topic(group_gateway.kafka, hub_name, 2)
    group = f"g-{hub_name}"
    a, b = Conn(group_gateway.kafka), Conn(group_gateway.kafka)
    try:
        # Stable, generation 1: A alone.
        first = read_join_v0(a.recv(a.send(JOIN_GROUP, 0, join_v0(group, "", [("range", b"a")]))))
        member_a = first["member_id"]
        assert (first["error"], first["generation"]) == (0, 1), first
        assert read_sync_v0(a.recv(a.send(SYNC_GROUP, 0, sync_v0(group, 1, member_a, {member_a: b"A1"})))) == (0, b"A1")
        assert offset_commit_v2(a, group, 1, member_a, hub_name, {0: (3, "stable")}) == {0: 0}
        assert offset_commit_v2(a, group, 0, member_a, hub_name, {0: (4, "")}) == {0: ILLEGAL_GENERATION}

        # PreparingRebalance: B's join waits for A; A, still in generation 1, commits on revoke.
        b_join = b.send(JOIN_GROUP, 0, join_v0(group, "", [("range", b"b")]))
        assert not b.answered_within(0.5), "the new member's JoinGroup did not wait for the rebalance"
        assert heartbeat(a, group, 1, member_a) == REBALANCE_IN_PROGRESS
        assert offset_commit_v2(a, group, 1, member_a, hub_name, {0: (5, "revoked"), 1: (6, "")}) == {0: 0, 1: 0}
        assert offset_commit_v2(a, group, 0, member_a, hub_name, {0: (9, "")}) == {0: ILLEGAL_GENERATION}
        assert offset_fetch_v1(a, group, hub_name, [0, 1]) == {0: (5, "revoked", 0), 1: (6, "", 0)}

        # CompletingRebalance, generation 2: both joined, no assignment handed out yet.
        a_join = read_join_v0(a.recv(a.send(JOIN_GROUP, 0, join_v0(group, member_a, [("range", b"a")]))))
        b_joined = read_join_v0(b.recv(b_join))
        assert a_join["generation"] == b_joined["generation"] == 2, (a_join, b_joined)
        member_b = b_joined["member_id"]
        assert offset_commit_v2(b, group, 2, member_b, hub_name, {1: (7, "")}) == {1: REBALANCE_IN_PROGRESS}
        assert offset_commit_v2(a, group, 2, member_a, hub_name, {1: (7, "")}) == {1: REBALANCE_IN_PROGRESS}
        assert offset_commit_v2(a, group, 1, member_a, hub_name, {1: (7, "")}) == {1: ILLEGAL_GENERATION}
        assert offset_fetch_v1(a, group, hub_name, [1]) == {1: (6, "", 0)}, "a refused commit was stored"

        # Stable again, generation 2.
        conns = {member_a: a, member_b: b}
        leader_id = a_join["leader"]
        follower_id = member_b if leader_id == member_a else member_a
        f_sync = conns[follower_id].send(SYNC_GROUP, 0, sync_v0(group, 2, follower_id, {}))
        leader = conns[leader_id]
        l_sync = leader.recv(leader.send(SYNC_GROUP, 0, sync_v0(group, 2, leader_id, {member_a: b"A2", member_b: b"B2"})))
        assert read_sync_v0(l_sync)[0] == 0
        assert read_sync_v0(conns[follower_id].recv(f_sync))[0] == 0
        assert offset_commit_v2(b, group, 2, member_b, hub_name, {1: (8, "")}) == {1: 0}
        assert offset_commit_v2(b, group, 1, member_b, hub_name, {1: (9, "")}) == {1: ILLEGAL_GENERATION}
        assert offset_fetch_v1(b, group, hub_name, [0, 1]) == {0: (5, "revoked", 0), 1: (8, "", 0)}
    finally:
        a.close()
        b.close()
