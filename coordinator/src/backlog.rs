//! Puts the tasks kept in this process's backlogs (`dispatch::Backlogged`) back on the
//! Redis queues: those that waited `dispatch::SPILL_AGE`, those of queues whose gRPC
//! pollers went quiet, and all of them at shutdown. Also keeps the gauge of their
//! lengths, `stepline_backlog_tasks{queue}`: these tasks are not on the Redis list that
//! `stepline_queue_depth` and the KEDA trigger count.
//!
//! Until then a backlog entry is in this coordinator's claim ledger, so if the process
//! dies, the survivors' claim recovery puts it back instead.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::serve::App;

/// How often the backlogs are checked for entries to put back.
const TICK: Duration = Duration::from_millis(200);
/// Attempts at putting the backlogs back at shutdown.
const SHUTDOWN_ATTEMPTS: u32 = 3;

/// Puts stale backlog entries back until shutdown (`release_all` does the rest then).
pub async fn run_spills(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    // Entries taken out of a backlog whose release failed: retried on the next tick
    // (meanwhile the claim ledger covers them).
    let mut pending: Vec<(u32, String)> = Vec::new();
    let mut reported: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { break },
        }
        pending.extend(app.waiters.stale_backlog());
        report_lengths(&app, &mut reported);
        if pending.is_empty() {
            continue;
        }
        match app.store.release(&pending).await {
            Ok(_) => pending.clear(),
            Err(e) => tracing::warn!(error = %e, n = pending.len(), "could not put backlog tasks back; retrying"),
        }
    }
    // `release_all` puts these back with the rest, before the claim ledger goes.
    app.waiters.keep_unreleased(pending);
}

/// Sets the backlog gauge of every queue with a backlog, and zero for queues reported
/// before that this process forgot since, so no stale count stays on /metrics.
fn report_lengths(app: &App, reported: &mut HashSet<String>) {
    let lengths = app.waiters.backlog_lengths();
    let now: HashSet<String> = lengths.iter().map(|(q, _)| q.clone()).collect();
    for gone in reported.difference(&now) {
        crate::metrics::backlog_tasks(gone, 0);
    }
    for (queue, kept) in &lengths {
        crate::metrics::backlog_tasks(queue, *kept);
    }
    *reported = now;
}

/// Puts every backlog entry back on its queue (shutdown, once the shard loops ended);
/// false if some could not be, and the claim ledger must then stay for recovery.
pub async fn release_all(app: &App) -> bool {
    let all = app.waiters.drain_backlog();
    all.is_empty() || release_logged(app, &all).await
}

/// Puts `tokens` back, with a few attempts, and says how it went.
async fn release_logged(app: &App, all: &[(u32, String)]) -> bool {
    for attempt in 1..=SHUTDOWN_ATTEMPTS {
        match app.store.release(all).await {
            Ok(n) => {
                tracing::info!(n, "put the backlog back on the queues");
                return true;
            }
            Err(e) if attempt < SHUTDOWN_ATTEMPTS => {
                tracing::warn!(error = %e, "could not put the backlog back; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => tracing::error!(
                error = %e,
                n = all.len(),
                "could not put the backlog back; the claim ledger stays, so that a coordinator's claim recovery puts it back"
            ),
        }
    }
    false
}
