//! The coordinator as a [`GroupDirectory`], so the HTTP admin API can show live groups: state,
//! protocol, members and their assignments.

use bytes::Bytes;
use hubgate_protocol::groups::{
    Deleting, Described, GroupDeleted, GroupDescription, GroupDirectory, GroupMember, GroupSummary,
};

use super::Coordinator;
use crate::error::code;

impl GroupDirectory for Coordinator {
    fn delete<'a>(&'a self, group: &'a str) -> Deleting<'a> {
        Box::pin(async move {
            match Coordinator::delete(self, group).await {
                code::NONE => GroupDeleted::Deleted,
                code::NON_EMPTY_GROUP => GroupDeleted::NotEmpty,
                code::GROUP_ID_NOT_FOUND => GroupDeleted::NotFound,
                other => GroupDeleted::Failed(format!("storage error (Kafka code {other})")),
            }
        })
    }

    fn list(&self) -> Vec<GroupSummary> {
        Coordinator::list(self)
            .into_iter()
            .map(|g| GroupSummary {
                group: g.group_id,
                state: g.phase.name().to_owned(),
                protocol_type: g.protocol_type,
            })
            .collect()
    }

    fn describe<'a>(&'a self, group: &'a str) -> Described<'a> {
        Box::pin(async move {
            let view = Coordinator::describe(self, group).await?;
            let consumer = view.protocol_type == "consumer";
            Some(GroupDescription {
                state: view.phase.name().to_owned(),
                protocol_type: view.protocol_type,
                protocol: view.protocol,
                members: view
                    .members
                    .into_iter()
                    .map(|m| GroupMember {
                        assignment: if consumer {
                            consumer_assignment(&m.assignment).unwrap_or_default()
                        } else {
                            Vec::new()
                        },
                        member_id: m.member_id,
                        instance_id: m.instance_id,
                        client_id: m.client_id,
                        client_host: m.client_host,
                    })
                    .collect(),
            })
        })
    }
}

/// The topics and partitions of a consumer-protocol assignment (`ConsumerProtocolAssignment`
/// v0–v3: version, then `[topic: string, partitions: [int32]]`, then user data, which is
/// ignored). The bytes come from the group leader, a client: every count is checked against
/// the bytes left before anything is allocated, and anything malformed gives `None`.
pub(crate) fn consumer_assignment(bytes: &Bytes) -> Option<Vec<(String, Vec<i32>)>> {
    let mut r = Reader(bytes.as_ref());
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let _version = r.i16()?;
    // Each topic takes at least 6 bytes (empty name, no partitions).
    let topics = r.count(6)?;
    let mut out = Vec::with_capacity(topics);
    for _ in 0..topics {
        let len = usize::try_from(r.i16()?).ok()?;
        let name = std::str::from_utf8(r.take(len)?).ok()?.to_owned();
        let partitions = r.count(4)?;
        let mut list = Vec::with_capacity(partitions);
        for _ in 0..partitions {
            list.push(r.i32()?);
        }
        out.push((name, list));
    }
    Some(out)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    /// An array count whose elements take at least `min_size` bytes each.
    fn count(&mut self, min_size: usize) -> Option<usize> {
        let n = usize::try_from(self.i32()?).ok()?;
        (n.checked_mul(min_size)? <= self.0.len()).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(topics: &[(&str, &[i32])]) -> Bytes {
        let mut b = vec![0, 1];
        b.extend((topics.len() as i32).to_be_bytes());
        for (name, partitions) in topics {
            b.extend((name.len() as i16).to_be_bytes());
            b.extend(name.as_bytes());
            b.extend((partitions.len() as i32).to_be_bytes());
            for p in *partitions {
                b.extend(p.to_be_bytes());
            }
        }
        b.extend((-1i32).to_be_bytes()); // null user data
        Bytes::from(b)
    }

    #[test]
    fn decodes_topics_and_partitions() {
        let bytes = assignment(&[("orders", &[0, 2]), ("audit", &[])]);
        assert_eq!(
            consumer_assignment(&bytes).unwrap(),
            vec![
                ("orders".to_owned(), vec![0, 2]),
                ("audit".to_owned(), vec![])
            ]
        );
        assert_eq!(consumer_assignment(&Bytes::new()).unwrap(), vec![]);
    }

    #[test]
    fn refuses_counts_larger_than_the_bytes() {
        let mut huge = vec![0, 1];
        huge.extend(i32::MAX.to_be_bytes());
        assert_eq!(consumer_assignment(&Bytes::from(huge)), None);
        let mut negative = vec![0, 1];
        negative.extend((-5i32).to_be_bytes());
        assert_eq!(consumer_assignment(&Bytes::from(negative)), None);
        let full = assignment(&[("orders", &[0, 1, 2])]);
        for cut in 1..full.len() - 4 {
            assert_eq!(
                consumer_assignment(&full.slice(..cut)),
                None,
                "cut at {cut}"
            );
        }
    }
}
