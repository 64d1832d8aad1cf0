//! `stepline serve`: the coordinator runtime. Wires Redis (given or private), shard
//! leases and engine loops, the gRPC worker service and the HTTP API together.

pub mod config;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use asl::definition::StateMachine;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{LogFormat, ServeArgs};

use crate::dispatch::Waiters;
use crate::embedded_redis::EmbeddedRedis;
use crate::machine_heads::MachineHeads;
use crate::shard_door::ShardDoor;
use crate::store::{Store, StoreError};
use crate::tokens::TokenKey;

/// Parsed definitions by SHA-256, so the hot path never parses twice.
#[derive(Default)]
pub struct MachineCache {
    machines: Mutex<HashMap<String, Arc<StateMachine>>>,
}

impl MachineCache {
    /// Caches an already parsed definition.
    pub fn insert(&self, sha: &str, machine: Arc<StateMachine>) {
        self.machines.lock().unwrap_or_else(|e| e.into_inner()).insert(sha.to_string(), machine);
    }

    /// The machine with definition `sha`, loading and parsing it on first use.
    pub async fn get(&self, store: &Store, sha: &str) -> Result<Arc<StateMachine>, StoreError> {
        if let Some(m) = self.machines.lock().unwrap_or_else(|e| e.into_inner()).get(sha) {
            return Ok(m.clone());
        }
        let text =
            store.definition(sha).await?.ok_or_else(|| StoreError::Corrupt(format!("definition {sha} is missing")))?;
        let parsed = std::panic::catch_unwind(|| StateMachine::from_json_str(&text))
            .map_err(|_| StoreError::Corrupt(format!("the parser panicked on stored definition {sha}")))?;
        let machine = parsed.map(Arc::new).map_err(|d| {
            StoreError::Corrupt(format!("stored definition {sha} no longer validates: {} problems", d.len()))
        })?;
        self.insert(sha, machine.clone());
        Ok(machine)
    }
}

/// Everything the coordinator's tasks share.
pub struct App {
    /// Redis.
    pub store: Store,
    /// This replica's id (lease owner).
    pub owner: String,
    /// Signs task tokens.
    pub tokens: TokenKey,
    /// Parsed definitions.
    pub machines: MachineCache,
    /// Each state machine's current definition, for in-process starts.
    pub machine_heads: MachineHeads,
    /// Long-poll wake-ups.
    pub waiters: Waiters,
    /// The engine loops' doors, one per shard (wake-ups and in-process results).
    pub doors: Vec<ShardDoor>,
    /// Shards this replica leases now.
    pub owned: Mutex<HashSet<u32>>,
    /// ARN region.
    pub region: String,
    /// ARN account.
    pub account_id: String,
    /// Payload limit in bytes.
    pub max_payload_bytes: usize,
    /// How long a finished execution is kept, in ms.
    pub retention_ms: i64,
    /// The Prometheus handle for /metrics.
    pub metrics: Option<PrometheusHandle>,
}

/// A running coordinator.
pub struct Server {
    /// Where the HTTP API listens.
    pub http_addr: SocketAddr,
    /// Where the gRPC service listens.
    pub grpc_addr: SocketAddr,
    /// Shared state.
    pub app: Arc<App>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    redis: Option<EmbeddedRedis>,
}

/// Pending connections a listener queues before the kernel drops new SYNs. tokio's
/// `TcpListener::bind` asks for 128 here: a burst of more new clients than that (a load
/// generator's pool, a fleet of workers restarting) lost SYNs and waited out the
/// 1-second SYN retransmit.
const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `addr` with a deep accept queue (the kernel caps it at somaxconn).
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Sets up logging once (later calls, e.g. from tests, are no-ops).
pub fn init_logging(format: LogFormat) {
    crate::telemetry::init(matches!(format, LogFormat::Json));
}

/// Starts every part of the coordinator; returns once the listeners are bound.
pub async fn start(args: ServeArgs) -> Result<Server> {
    let mut redis = None;
    let url = match &args.redis_url {
        Some(url) => url.clone(),
        None => {
            let r = EmbeddedRedis::start(&args.redis_server, &args.data_dir).await?;
            tracing::info!(dir = %r.dir.display(), url = %r.url, "started a private redis-server; data lives in the data directory");
            let url = r.url.clone();
            redis = Some(r);
            url
        }
    };
    let store = Store::connect(&url, &args.redis_prefix, args.shards)
        .await
        .with_context(|| format!("cannot connect to Redis at {}", redact(&url)))?;
    store.ping().await.context("Redis does not answer PING")?;
    let stored = store.check_shard_count().await.context("cannot read the cluster config from Redis")?;
    anyhow::ensure!(
        stored == args.shards,
        "this Redis data was created with {stored} shards, not {}; start with --shards {stored}",
        args.shards
    );
    let key = match &args.token_key {
        Some(k) => k.clone(),
        None => match &redis {
            Some(r) => file_token_key(&r.dir)?,
            None => store.token_key(&TokenKey::generate_hex()).await.context("cannot read the token key from Redis")?,
        },
    };
    let app = Arc::new(App {
        store,
        owner: format!("c-{}", crate::tokens::hex(&rand::random::<[u8; 8]>())),
        tokens: TokenKey::new(key.into_bytes()),
        machines: MachineCache::default(),
        machine_heads: MachineHeads::default(),
        waiters: Waiters::default(),
        doors: (0..args.shards).map(|_| ShardDoor::default()).collect(),
        owned: Mutex::new(HashSet::new()),
        region: args.region.clone(),
        account_id: args.account_id.clone(),
        max_payload_bytes: args.max_payload_bytes,
        retention_ms: i64::try_from(args.execution_retention.as_millis()).unwrap_or(i64::MAX),
        metrics: crate::metrics::install(),
    });
    // Check in before serving: a claim made under an owner that is not checked in yet
    // would look like a dead coordinator's to the others' claim recovery.
    app.store
        .register_coordinator(&app.owner, chrono::Utc::now().timestamp_millis(), crate::leases::LIVENESS_MS)
        .await
        .context("cannot register the coordinator in Redis")?;
    let (shutdown, rx) = watch::channel(false);
    let http = listen(args.http_addr).with_context(|| format!("cannot listen for HTTP on {}", args.http_addr))?;
    let grpc = listen(args.grpc_addr).with_context(|| format!("cannot listen for gRPC on {}", args.grpc_addr))?;
    let (http_addr, grpc_addr) = (http.local_addr()?, grpc.local_addr()?);
    let mut tasks = vec![
        tokio::spawn(crate::leases::run_leases(app.clone(), rx.clone())),
        tokio::spawn(crate::leases::run_shard_bells(app.clone(), rx.clone())),
        tokio::spawn(queue_depth_gauge(app.clone(), rx.clone())),
        tokio::spawn(crate::backlog::run_spills(app.clone(), rx.clone())),
        tokio::spawn(crate::retention::run_index_sweeps(app.clone(), rx.clone())),
        tokio::spawn(crate::api::serve(app.clone(), http, rx.clone(), Duration::from_secs(args.http_idle_seconds))),
        tokio::spawn(crate::grpc::serve(app.clone(), grpc, rx.clone())),
    ];
    if let Some(handle) = app.metrics.clone() {
        tasks.push(tokio::spawn(crate::metrics::run_upkeep(handle, rx)));
    }
    tracing::info!(%http_addr, %grpc_addr, owner = %app.owner, shards = args.shards, "stepline coordinator running");
    Ok(Server { http_addr, grpc_addr, app, shutdown, tasks, redis })
}

impl Server {
    /// Stops serving, hands leases back, and stops the private Redis.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            if tokio::time::timeout(Duration::from_secs(10), t).await.is_err() {
                tracing::warn!("a coordinator task did not stop in time");
            }
        }
        if let Some(r) = self.redis {
            r.stop().await;
        }
    }
}

/// Runs until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<()> {
    init_logging(args.log_format);
    let server = start(args).await?;
    wait_for_signal().await;
    tracing::info!("shutting down");
    server.stop().await;
    crate::telemetry::shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The token key kept in the data directory, created on first start.
fn file_token_key(dir: &std::path::Path) -> Result<String> {
    let path = dir.join("token.key");
    if let Ok(k) = std::fs::read_to_string(&path) {
        let k = k.trim().to_string();
        if !k.is_empty() {
            return Ok(k);
        }
    }
    let key = TokenKey::generate_hex();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&path).with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut f, key.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(key)
}

/// A Redis URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

async fn queue_depth_gauge(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Ok(depths) = app.store.queue_depths().await {
            for (q, d) in depths {
                crate::metrics::queue_depth(&q, d);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = shutdown.changed() => return,
        }
    }
}
