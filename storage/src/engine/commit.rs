//! Group commit: concurrent writers share one durability barrier.
//!
//! A writer takes a ticket *after* its write completed and waits until a sync that started
//! after that ticket was issued has finished. One flusher thread runs the syncs back to back,
//! so every sync covers all writes that finished while the previous one was running.
//!
//! A failed sync is fatal for what it covered: its waiters get [`Error::StorageFailed`], no later
//! sync is trusted to cover their writes, and from then on every wait and every new write is
//! refused (fail-stop) until the process restarts and recovery decides what is durable.
//!
//! Tickets count bytes: each write advances the ticket counter by its size, so the distance
//! between the newest ticket and the durable one is the amount of unsynced data, which relaxed
//! durability uses for backpressure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::error::{Error, Result};

/// A sync function: makes all completed writes durable.
pub(crate) type SyncFn = Box<dyn Fn() -> Result<()> + Send + Sync>;

#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every ticket up to this one is durable.
    durable: u64,
    /// Set by the first failed sync: nothing above `durable` becomes durable any more.
    stopped: Option<Arc<str>>,
}

#[derive(Debug, Default)]
struct Requests {
    requested: u64,
    shutdown: bool,
}

struct Shared {
    issued: AtomicU64,
    requests: Mutex<Requests>,
    wake: Condvar,
    progress: watch::Sender<Progress>,
}

/// The group-commit coordinator; dropping it stops the flusher thread after a final sync.
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("issued", &self.shared.issued.load(Ordering::Relaxed))
            .finish()
    }
}

impl GroupCommit {
    /// Starts the flusher thread.
    pub(crate) fn start(sync: SyncFn) -> Result<Self> {
        let shared = Arc::new(Shared {
            issued: AtomicU64::new(0),
            requests: Mutex::new(Requests::default()),
            wake: Condvar::new(),
            progress: watch::channel(Progress::default()).0,
        });
        let flusher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("hubgate-flush".into())
                .spawn(move || run_flusher(&shared, &sync))?
        };
        Ok(Self {
            shared,
            flusher: Some(flusher),
        })
    }

    /// Takes a ticket for a write of `bytes` bytes that has just completed.
    pub(crate) fn ticket(&self, bytes: u64) -> u64 {
        let weight = bytes.max(1);
        self.shared.issued.fetch_add(weight, Ordering::SeqCst) + weight
    }

    /// Bytes written (ticketed) but not yet covered by a completed sync.
    pub(crate) fn unsynced(&self) -> u64 {
        let durable = self.shared.progress.borrow().durable;
        self.shared
            .issued
            .load(Ordering::SeqCst)
            .saturating_sub(durable)
    }

    /// Asks the flusher to sync up to `ticket` without waiting for it.
    pub(crate) fn request(&self, ticket: u64) {
        let mut requests = self
            .shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if requests.requested < ticket {
            requests.requested = ticket;
            self.shared.wake.notify_one();
        }
    }

    /// Refuses with [`Error::StorageFailed`] once a sync has failed.
    pub(crate) fn check_writable(&self) -> Result<()> {
        match &self.shared.progress.borrow().stopped {
            Some(reason) => Err(Error::StorageFailed(reason.to_string())),
            None => Ok(()),
        }
    }

    /// Waits until the write behind `ticket` is durable.
    pub(crate) async fn wait(&self, ticket: u64) -> Result<()> {
        let mut progress = self.shared.progress.subscribe();
        self.request(ticket);
        loop {
            {
                let p = progress.borrow_and_update();
                if p.durable >= ticket {
                    return Ok(());
                }
                if let Some(reason) = &p.stopped {
                    return Err(Error::StorageFailed(reason.to_string()));
                }
            }
            if progress.changed().await.is_err() {
                return Err(Error::Closed);
            }
        }
    }

    /// Syncs everything written so far and waits for it.
    pub(crate) async fn sync_all(&self) -> Result<()> {
        let ticket = self.ticket(0);
        self.wait(ticket).await
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        {
            let mut requests = self
                .shared
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            requests.shutdown = true;
            self.shared.wake.notify_one();
        }
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

fn run_flusher(shared: &Shared, sync: &SyncFn) {
    let mut durable = 0u64;
    loop {
        let shutdown = {
            let mut requests = shared
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            while requests.requested <= durable && !requests.shutdown {
                requests = shared
                    .wake
                    .wait(requests)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            requests.shutdown
        };
        // Every ticket issued up to here belongs to a write that completed before this sync
        // starts, so the sync covers it.
        let target = shared.issued.load(Ordering::SeqCst);
        if shared.progress.borrow().stopped.is_some() {
            // Fail-stop: a later sync must not vouch for writes an earlier one failed to cover.
            durable = durable.max(target);
            if shutdown {
                return;
            }
            continue;
        }
        match sync() {
            Ok(()) => {
                durable = target;
                shared.progress.send_modify(|p| p.durable = target);
            }
            Err(error) => {
                tracing::error!(%error, "durability sync failed; refusing writes until restart");
                let message: Arc<str> = Arc::from(error.to_string());
                shared.progress.send_modify(|p| p.stopped = Some(message));
                // The waiters have been answered; later requests are refused without a sync.
                durable = durable.max(target);
            }
        }
        if shutdown {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_waiters_share_syncs() {
        let syncs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&syncs);
        let gc = Arc::new(
            GroupCommit::start(Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
                Ok(())
            }))
            .unwrap(),
        );
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let gc = Arc::clone(&gc);
            tasks.push(tokio::spawn(async move {
                let t = gc.ticket(100);
                gc.wait(t).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let n = syncs.load(Ordering::SeqCst);
        assert!((1..200).contains(&n), "200 waiters took {n} syncs");
    }

    #[tokio::test]
    async fn a_failed_sync_fails_its_waiters_and_stops_the_log() {
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = Arc::clone(&fail);
        let gc = GroupCommit::start(Box::new(move || {
            if flag.load(Ordering::SeqCst) {
                Err(Error::Io(std::io::Error::other("disk gone")))
            } else {
                Ok(())
            }
        }))
        .unwrap();
        gc.check_writable().unwrap();
        let t = gc.ticket(10);
        assert!(matches!(gc.wait(t).await, Err(Error::StorageFailed(_))));
        // Even once the disk works again, nothing after the failure is trusted or accepted.
        fail.store(false, Ordering::SeqCst);
        assert!(matches!(gc.check_writable(), Err(Error::StorageFailed(_))));
        let t = gc.ticket(10);
        assert!(matches!(gc.wait(t).await, Err(Error::StorageFailed(_))));
        assert!(
            gc.unsynced() >= 20,
            "the failed writes never count as durable"
        );
    }

    #[tokio::test]
    async fn unsynced_bytes_are_counted_until_a_sync_covers_them() {
        let gc = GroupCommit::start(Box::new(|| Ok(()))).unwrap();
        assert_eq!(gc.unsynced(), 0);
        gc.ticket(1000);
        let t = gc.ticket(500);
        assert_eq!(gc.unsynced(), 1500);
        gc.wait(t).await.unwrap();
        assert_eq!(gc.unsynced(), 0);
        // A request starts a sync without waiting for it.
        let t = gc.ticket(64);
        let mut progress = gc.shared.progress.subscribe();
        gc.request(t);
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            progress.wait_for(|p| p.durable >= t),
        )
        .await
        .expect("the requested sync ran")
        .unwrap();
        assert_eq!(gc.unsynced(), 0);
    }
}
