//! `stepline-loadtest`: load a running Stepline cluster and report what it sustains.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use stepline_loadtest::{Amount, Pace, Progress, Report, RunConfig, Scenario, WorkerSettings, run};

/// mimalloc, as in the coordinator: cheaper than glibc malloc for many small allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "stepline-loadtest",
    version,
    about = "Load a running Stepline cluster: throughput, latency, Redis cost"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one or more scenarios and report.
    Run(RunArgs),
    /// Run the mix at half its peak rate for a long time, sampling coordinator memory.
    Soak(SoakArgs),
}

#[derive(clap::Args, Clone)]
struct Target {
    /// The coordinator's AWS JSON API.
    #[arg(long, env = "STEPLINE_HTTP_ADDR", default_value = "127.0.0.1:8083")]
    api: SocketAddr,
    /// The coordinator's gRPC URL (for in-process workers).
    #[arg(long, env = "STEPLINE_COORDINATOR", default_value = "http://127.0.0.1:50051")]
    grpc: String,
    /// The coordinator's Redis, for INFO commandstats (no Redis figures when unset).
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// Queue the Task states use (external workers must poll it).
    #[arg(long, default_value = "loadtest")]
    queue: String,
    /// In-process workers (0: rely on external `stepline-worker --handler echo`).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Tasks each in-process worker runs at once.
    #[arg(long, default_value_t = 512)]
    worker_concurrency: usize,
    /// Most tasks per poll.
    #[arg(long, default_value_t = 256)]
    batch_size: u32,
    /// Workers take tasks with a PollTasks call each time instead of over a Work stream
    /// (to compare the two).
    #[arg(long)]
    unary_workers: bool,
    /// The coordinator's pid, to sample its resident memory (same machine only).
    #[arg(long)]
    coordinator_pid: Option<u32>,
    /// One execution may take this long before it counts as failed (e.g. 60s).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    timeout: Duration,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    target: Target,
    /// Scenarios to run, in order (comma separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "single")]
    scenario: Vec<Scenario>,
    /// Executions per scenario (default 10000, or 20 for map).
    #[arg(short = 'n', long, conflicts_with = "duration")]
    executions: Option<u64>,
    /// Start executions for this long instead (e.g. 30s, 2m).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Open loop: start this many executions per second.
    #[arg(long, conflicts_with = "concurrency")]
    rate: Option<f64>,
    /// Closed loop: keep this many executions in flight (default 64, or 2 for map).
    #[arg(short = 'c', long)]
    concurrency: Option<usize>,
    /// Open loop: start executions with the coordinator's gRPC `StartExecutions`, up to
    /// 200 per call, instead of one AWS API StartExecution call each.
    #[arg(long)]
    bulk_starts: bool,
    /// Open loop: most executions in flight before starts wait.
    #[arg(long, default_value_t = 20_000)]
    max_inflight: usize,
    /// Unmeasured executions first (default: 200, or 2 for map).
    #[arg(long)]
    warmup: Option<u64>,
    /// A few seconds of every scenario, small: a quick end-to-end check.
    #[arg(long)]
    smoke: bool,
    /// Also write the reports as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SoakArgs {
    #[command(flatten)]
    target: Target,
    /// How long to soak.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    duration: Duration,
    /// Rate to soak at; default half the peak measured first (10 s, closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Memory sampling period.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    sample_every: Duration,
    /// Also write the reports as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s:?} (e.g. 500ms, 30s, 5m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit in {s:?} (ms, s, m, h)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn base_config(t: &Target, scenario: Scenario) -> RunConfig {
    RunConfig {
        http_addr: t.api,
        bulk_starts: false,
        redis_url: t.redis_url.clone(),
        scenario,
        amount: Amount::Executions(10_000),
        pace: Pace::Concurrency(64),
        workers: WorkerSettings {
            coordinator: t.grpc.clone(),
            queue: t.queue.clone(),
            workers: t.workers,
            concurrency: t.worker_concurrency,
            batch_size: t.batch_size,
            work_stream: !t.unary_workers,
        },
        warmup: 200,
        execution_timeout: t.timeout,
        coordinator_pid: t.coordinator_pid,
        memory_every: Duration::from_secs(1),
    }
}

fn main() -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run_cmd(args).await,
            Command::Soak(args) => soak_cmd(args).await,
        }
    })
}

async fn run_cmd(args: RunArgs) -> Result<()> {
    let mut configs = Vec::new();
    let scenarios = if args.smoke {
        vec![Scenario::Single, Scenario::Chain, Scenario::Parallel, Scenario::Pass, Scenario::Mix, Scenario::Map]
    } else {
        args.scenario.clone()
    };
    for s in scenarios {
        let mut c = base_config(&args.target, s);
        c.bulk_starts = args.bulk_starts;
        let map = s == Scenario::Map;
        if args.smoke {
            c.amount = if map { Amount::Executions(2) } else { Amount::Duration(Duration::from_secs(1)) };
            c.pace = Pace::Concurrency(if map { 1 } else { 16 });
            c.warmup = if map { 0 } else { 10 };
        } else {
            c.amount = match (args.executions, args.duration) {
                (_, Some(d)) => Amount::Duration(d),
                (Some(n), None) => Amount::Executions(n),
                (None, None) => Amount::Executions(if map { 20 } else { 10_000 }),
            };
            c.pace = match (args.rate, args.concurrency) {
                (Some(r), _) => Pace::Rate { per_second: r, max_inflight: args.max_inflight },
                (None, Some(n)) => Pace::Concurrency(n),
                (None, None) => Pace::Concurrency(if map { 2 } else { 64 }),
            };
            c.warmup = args.warmup.unwrap_or(if map { 2 } else { 200 });
        }
        configs.push(c);
    }
    let mut reports = Vec::new();
    for c in &configs {
        let report = run_with_progress(c, args.target.quiet).await?;
        print_report(&report);
        reports.push(report);
    }
    finish(&reports, args.json.as_ref())
}

async fn soak_cmd(args: SoakArgs) -> Result<()> {
    let mut reports = Vec::new();
    let rate = match args.rate {
        Some(r) => r,
        None => {
            let mut c = base_config(&args.target, Scenario::Mix);
            c.amount = Amount::Duration(Duration::from_secs(10));
            c.coordinator_pid = None;
            let peak = run_with_progress(&c, args.target.quiet).await?;
            print_report(&peak);
            let rate = (peak.executions_per_s / 2.0).max(1.0).round();
            println!(
                "soak: peak {:.0} executions/s, soaking at {rate}/s for {:?}",
                peak.executions_per_s, args.duration
            );
            reports.push(peak);
            rate
        }
    };
    let mut c = base_config(&args.target, Scenario::Mix);
    c.amount = Amount::Duration(args.duration);
    c.pace = Pace::Rate { per_second: rate, max_inflight: 20_000 };
    c.memory_every = args.sample_every;
    c.warmup = 0;
    let soak = run_with_progress(&c, args.target.quiet).await?;
    print_report(&soak);
    print_memory(&soak);
    reports.push(soak);
    finish(&reports, args.json.as_ref())
}

async fn run_with_progress(config: &RunConfig, quiet: bool) -> Result<Report> {
    let progress = Arc::new(Progress::default());
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {prefix} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(config.scenario.label().to_string());
    let ticker = {
        let (bar, progress) = (bar.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                let (s, f, x) = (
                    progress.started.load(Ordering::Relaxed),
                    progress.finished.load(Ordering::Relaxed),
                    progress.failed.load(Ordering::Relaxed),
                );
                let phase = if progress.measuring.load(Ordering::Relaxed) { "" } else { "warm-up " };
                bar.set_message(format!("{phase}started {s}  succeeded {f}  failed {x}"));
                bar.tick();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let result = run(config, progress).await;
    ticker.abort();
    bar.finish_and_clear();
    Ok(result?)
}

fn print_report(r: &Report) {
    println!("== {} — {}, workers: {}", r.scenario.label(), r.pace, r.workers);
    println!(
        "   executions {}  succeeded {}  failed {}  in {:.2}s{}",
        r.executions,
        r.succeeded,
        r.failed,
        r.elapsed_s,
        if r.lagged_starts > 0 { format!("  (lagged starts {})", r.lagged_starts) } else { String::new() }
    );
    println!(
        "   {:.0} executions/s   {:.0} tasks/s   {:.0} state transitions/s",
        r.executions_per_s, r.tasks_per_s, r.transitions_per_s
    );
    println!("   execution duration   {}", r.duration.line());
    println!("   client start→seen    {}", r.client_latency.line());
    println!("   task dispatch        {}", r.dispatch.line());
    if let Some(t) = &r.round_trips {
        println!(
            "   redis: {:.2} round trips/task (the coordinator's {} requests less {} DescribeExecution reads)",
            t.per_task, t.requests, t.describes
        );
    }
    if let Some(u) = &r.redis {
        println!("   redis: {:.2} commands/task, scripts' commands included", u.commands_per_task);
    }
    for f in &r.failure_samples {
        println!("   FAILED {f}");
    }
}

fn print_memory(r: &Report) {
    if r.memory_kib.is_empty() {
        println!("   memory: no samples (pass --coordinator-pid)");
        return;
    }
    for ((t, rss), (_, anon)) in r.memory_kib.iter().zip(&r.anon_kib) {
        println!("   memory t={t:>6.0}s rss={:.1} MiB anon={:.1} MiB", *rss as f64 / 1024.0, *anon as f64 / 1024.0);
    }
    print_growth("memory", &r.memory_kib);
    print_growth("anonymous memory (heap, stacks; not the executable's pages)", &r.anon_kib);
}

/// The average of the first fifth of `samples` against that of the last fifth.
fn print_growth(what: &str, samples: &[(f64, u64)]) {
    let n = samples.len();
    if n == 0 {
        return;
    }
    let fifth = (n / 5).max(1);
    let avg = |s: &[(f64, u64)]| s.iter().map(|x| x.1 as f64).sum::<f64>() / s.len().max(1) as f64;
    let (first, last) = (avg(&samples[..fifth]), avg(&samples[n - fifth..]));
    println!(
        "   {what}: first fifth avg {:.1} MiB, last fifth avg {:.1} MiB ({:+.1}%)",
        first / 1024.0,
        last / 1024.0,
        (last - first) / first.max(1.0) * 100.0
    );
}

fn finish(reports: &[Report], json: Option<&PathBuf>) -> Result<()> {
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(reports).context("serialising the reports")?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let failed: u64 = reports.iter().map(|r| r.failed).sum();
    let unfinished: u64 = reports.iter().map(|r| r.executions.saturating_sub(r.succeeded + r.failed)).sum();
    if failed > 0 || unfinished > 0 {
        bail!("{failed} executions did not succeed with the expected output ({unfinished} unaccounted)");
    }
    Ok(())
}
