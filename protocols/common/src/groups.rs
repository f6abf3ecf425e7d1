//! A live view of consumer groups, published by the front end that coordinates them (the Kafka
//! group coordinator) and read by others (the HTTP admin API), without either depending on the
//! other: the gateway makes one [`GroupDirectorySlot`] and hands it to both.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

/// A group as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    /// The group id.
    pub group: String,
    /// The coordinator's state name (`Empty`, `PreparingRebalance`, `CompletingRebalance`,
    /// `Stable`).
    pub state: String,
    /// The protocol type members joined with (`consumer` for Kafka consumers), empty when none.
    pub protocol_type: String,
}

/// A group in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The coordinator's state name.
    pub state: String,
    /// The protocol type, e.g. `consumer`.
    pub protocol_type: String,
    /// The chosen protocol, e.g. `range` or `cooperative-sticky`; empty when none.
    pub protocol: String,
    /// The members, in the coordinator's order.
    pub members: Vec<GroupMember>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member id the coordinator gave.
    pub member_id: String,
    /// The static member id, if the member has one.
    pub instance_id: Option<String>,
    /// The client id the member sent.
    pub client_id: String,
    /// The member's address.
    pub client_host: String,
    /// The partitions assigned to it, per hub; empty when the assignment is not a consumer
    /// protocol assignment (or none was made yet).
    pub assignment: Vec<(String, Vec<i32>)>,
}

/// What [`GroupDirectory::describe`] returns.
pub type Described<'a> = Pin<Box<dyn Future<Output = Option<GroupDescription>> + Send + 'a>>;

/// How [`GroupDirectory::delete`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupDeleted {
    /// The group and its committed offsets are gone.
    Deleted,
    /// The group has members; nothing changed.
    NotEmpty,
    /// The coordinator does not know the group.
    NotFound,
    /// Storage failed; the message says how.
    Failed(String),
}

/// What [`GroupDirectory::delete`] returns.
pub type Deleting<'a> = Pin<Box<dyn Future<Output = GroupDeleted> + Send + 'a>>;

/// Answers questions about live groups, and deletes empty ones.
pub trait GroupDirectory: Send + Sync + fmt::Debug + 'static {
    /// Every group, sorted by id.
    fn list(&self) -> Vec<GroupSummary>;
    /// One group; `None` when the coordinator has no such group.
    fn describe<'a>(&'a self, group: &'a str) -> Described<'a>;
    /// Deletes an empty group and its committed offsets, in the group's own order of
    /// requests, so a member joining at the same moment either comes first (and the delete is
    /// refused) or finds the group gone.
    fn delete<'a>(&'a self, group: &'a str) -> Deleting<'a>;
}

/// Where a [`GroupDirectory`] is published once its coordinator exists; empty when no front end
/// coordinates groups (the Kafka listener is off).
#[derive(Clone, Default)]
pub struct GroupDirectorySlot(Arc<OnceLock<Arc<dyn GroupDirectory>>>);

impl GroupDirectorySlot {
    /// Publishes `directory`; a second publication is ignored (one coordinator per process).
    pub fn publish(&self, directory: Arc<dyn GroupDirectory>) {
        let _ = self.0.set(directory);
    }

    /// The published directory, if any.
    pub fn get(&self) -> Option<&Arc<dyn GroupDirectory>> {
        self.0.get()
    }
}

impl fmt::Debug for GroupDirectorySlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupDirectorySlot")
            .field("published", &self.0.get().is_some())
            .finish()
    }
}
