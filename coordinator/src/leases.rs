//! Shard leases: each coordinator holds about `shards / live coordinators` leases
//! (SET NX PX, renewed every second) and runs one engine loop per leased shard. A dead
//! replica's leases expire within `LEASE_TTL` and live replicas pick the shards up.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::engine_loop::run_shard;
use crate::serve::App;

/// How long a lease lives without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(5);
/// How often leases are renewed and rebalanced.
const TICK: Duration = Duration::from_millis(1000);
/// A coordinator that has not checked in for this long is considered dead (shorter
/// than the lease TTL, so survivors raise their share by the time its leases expire).
pub const LIVENESS_MS: i64 = 4_000;

/// How long a shard loop may take to finish its batch at shutdown before it is aborted.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Keeps this coordinator's share of leases until `shutdown` turns true, then gives
/// them all back.
pub async fn run_leases(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut owned: HashMap<u32, JoinHandle<()>> = HashMap::new();
    let ttl = LEASE_TTL.as_millis() as u64;
    loop {
        if let Err(e) = tick(&app, &mut owned, ttl).await {
            tracing::warn!(error = %e, "lease upkeep failed");
        }
        let set: HashSet<u32> = owned.keys().copied().collect();
        *app.owned.lock().unwrap_or_else(|e| e.into_inner()) = set;
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => break,
        }
        if *shutdown.borrow() {
            break;
        }
    }
    // Loops end between batches, so a written batch's hand-offs and backlog entries are
    // delivered; then the backlogs go back to the Redis queues, before the claim ledger
    // that covers them is dropped.
    for shard in owned.keys() {
        app.doors[*shard as usize].stop();
    }
    for (shard, mut handle) in owned.drain() {
        if tokio::time::timeout(STOP_WAIT, &mut handle).await.is_err() {
            handle.abort();
        }
        let _ = app.store.release_lease(shard, &app.owner).await;
    }
    let released = crate::backlog::release_all(&app).await;
    let _ = app.store.unregister_coordinator(&app.owner, released).await;
    app.owned.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

async fn tick(app: &Arc<App>, owned: &mut HashMap<u32, JoinHandle<()>>, ttl: u64) -> crate::store::Result<()> {
    let store = &app.store;
    let now_ms = Utc::now().timestamp_millis();
    let live = store.register_coordinator(&app.owner, now_ms, LIVENESS_MS).await?.max(1);
    let recovered = store.recover_claims(now_ms, LIVENESS_MS).await?;
    if recovered > 0 {
        tracing::warn!(recovered, "put back tasks that a dead coordinator claimed and may not have delivered");
    }
    let target = store.shards.div_ceil(live as u32) as usize;
    // Renew, dropping shards whose loop stopped or whose lease we lost.
    let shards: Vec<u32> = owned.keys().copied().collect();
    for shard in shards {
        let finished = owned.get(&shard).is_some_and(|h| h.is_finished());
        let kept = !finished && store.renew_lease(shard, &app.owner, ttl).await?;
        if !kept {
            if let Some(h) = owned.remove(&shard) {
                h.abort();
            }
            let _ = store.release_lease(shard, &app.owner).await;
            tracing::info!(shard, "shard lease dropped");
        }
    }
    // Give extras back so newcomers get their share.
    while owned.len() > target {
        let Some(&shard) = owned.keys().max() else { break };
        if let Some(h) = owned.remove(&shard) {
            h.abort();
        }
        store.release_lease(shard, &app.owner).await?;
        tracing::info!(shard, "shard lease handed back for rebalancing");
    }
    // Take free shards up to our share, starting from a per-replica offset so replicas
    // do not all race for the same ones.
    if owned.len() < target {
        let offset = crate::store::shard_of(&app.owner, store.shards);
        for i in 0..store.shards {
            if owned.len() >= target {
                break;
            }
            let shard = (offset + i) % store.shards;
            if owned.contains_key(&shard) {
                continue;
            }
            if store.acquire_lease(shard, &app.owner, ttl).await? {
                tracing::info!(shard, "shard lease acquired");
                owned.insert(shard, tokio::spawn(run_shard(app.clone(), shard)));
                // New events may already wait in its inbox.
                app.doors[shard as usize].wake();
            }
        }
    }
    Ok(())
}

/// Wakes the engine loops of owned shards when another process rings their inbox bell.
pub async fn run_shard_bells(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut conn = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let owned: Vec<u32> = app.owned.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
        if owned.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        }
        if conn.is_none() {
            match app.store.blocking_connection().await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open the bell connection");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let keys: HashMap<String, u32> = owned.iter().map(|s| (app.store.keys.inbox_bell(*s), *s)).collect();
        let names: Vec<&String> = keys.keys().collect();
        let mut blpop = redis::cmd("BLPOP");
        blpop.arg(&names).arg(0.5);
        let popped: redis::RedisResult<Option<(String, String)>> = tokio::select! {
            r = blpop.query_async(c) => r,
            _ = shutdown.changed() => return,
        };
        match popped {
            Ok(Some((key, _))) => {
                if let Some(s) = keys.get(&key) {
                    app.doors[*s as usize].wake();
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "shard bell wait failed");
                conn = None;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
