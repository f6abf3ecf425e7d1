//! The cleaner's atomic rewrite of a sled partition.

use crate::engine::Rewrite;
use crate::engine::backend::{BatchSummary, PartitionMeta};
use crate::error::Result;
use crate::record::Offset;

use super::keys::{self, CHUNK_BYTES, META, SUMMARY, chunk_count, chunk_key, offset_key};
use super::partition::SledPartition;

impl SledPartition {
    /// Removes or replaces each changed batch (its pieces and summary), the aborted-index
    /// entries of removed ABORT markers, and writes `meta`, in one `sled::Batch`: after a crash
    /// a batch is either as it was or as the cleaner left it.
    pub(super) fn apply_rewrite(
        &self,
        changes: &[Rewrite],
        markers_removed: &[Offset],
        meta: &PartitionMeta,
    ) -> Result<()> {
        let mut write = sled::Batch::default();
        for change in changes {
            let old = change.old();
            // Later operations on a key win within a `sled::Batch`, so a replacement's pieces
            // overwrite these removals.
            for chunk in 0..chunk_count(old.len) {
                write.remove(&chunk_key(old.base, chunk)[..]);
            }
            match change {
                Rewrite::Remove(_) => write.remove(&offset_key(SUMMARY, old.base)[..]),
                Rewrite::Replace(_, new) => {
                    for (chunk, piece) in new.as_bytes().chunks(CHUNK_BYTES).enumerate() {
                        write.insert(&chunk_key(old.base, chunk as u32)[..], piece);
                    }
                    write.insert(
                        &offset_key(SUMMARY, old.base)[..],
                        &keys::encode_summary(&BatchSummary::of(new))[..],
                    );
                }
            }
        }
        for marker in markers_removed {
            write.remove(&offset_key(keys::ABORTED, *marker)[..]);
        }
        write.insert(META, &meta.encode()[..]);
        self.tree().apply_batch(write)?;
        Ok(())
    }
}
