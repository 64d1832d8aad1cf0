//! Retention of finished executions (`--execution-retention`, 90 days by default as on
//! AWS). The apply script sets a finished execution's hash and history to expire then;
//! this task drops the expired ones from the execution indexes that ListExecutions
//! reads, which Redis cannot expire entry by entry. One coordinator sweeps: the one that
//! holds shard 0's lease.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::serve::App;

/// Sweeps every quarter of the retention, within these bounds.
const MIN_SWEEP: Duration = Duration::from_secs(1);
const MAX_SWEEP: Duration = Duration::from_secs(600);

/// Runs index sweeps until shutdown.
pub async fn run_index_sweeps(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let every = sweep_interval(app.retention_ms);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            // A dropped sender means the coordinator is gone too.
            changed = shutdown.changed() => if changed.is_err() { return },
        }
        if *shutdown.borrow() {
            return;
        }
        if !app.owned.lock().unwrap_or_else(|e| e.into_inner()).contains(&0) {
            continue;
        }
        match sweep(&app).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "expired executions dropped from the execution indexes"),
            Err(e) => tracing::warn!(error = %e, "execution index sweep failed; retrying later"),
        }
    }
}

/// One pass over every index; returns how many entries it dropped.
pub async fn sweep(app: &App) -> crate::store::Result<u64> {
    // An execution expires `retention` after it finished, so never before it started
    // plus `retention`: only entries older than that can be gone.
    let cutoff = chrono::Utc::now().timestamp_millis().saturating_sub(app.retention_ms);
    let mut removed = 0;
    for index in app.store.execution_indexes().await? {
        removed += app.store.prune_index(&index, cutoff).await?;
    }
    Ok(removed)
}

fn sweep_interval(retention_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(retention_ms / 4).unwrap_or(0)).clamp(MIN_SWEEP, MAX_SWEEP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_follow_the_retention_within_bounds() {
        assert_eq!(sweep_interval(2_000), MIN_SWEEP);
        assert_eq!(sweep_interval(60_000), Duration::from_secs(15));
        assert_eq!(sweep_interval(90 * 86_400_000), MAX_SWEEP);
    }
}
