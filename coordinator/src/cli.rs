//! The `stepline` command line: `validate`, `run` and `conformance run`.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use asl::definition::StateMachine;
use asl::simulate::{ExecutionStatus, SimulationOptions, TaskRequest, TaskResult, simulate_with_clock};
use chrono::Utc;
use clap::{Args, Parser, Subcommand};
use coordinator::conformance::{self, RunOptions, report::Summary};
use coordinator::mock_config::MockConfig;
use serde_json::Value;

/// Step Functions' limit on a definition's size (1 MiB); larger files are refused
/// before parsing.
pub const MAX_DEFINITION_BYTES: u64 = 1024 * 1024;
/// Input files above this size are refused (AWS caps payloads at 256 KiB; we are lenient).
const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Error name given to a Task state that no mock answers.
const NO_MOCK_ERROR: &str = "Stepline.NoMockedResponse";

/// Stepline: an Amazon States Language engine.
#[derive(Debug, Parser)]
#[command(name = "stepline", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a state machine definition; prints each diagnostic, or OK.
    Validate {
        /// The definition (ASL JSON).
        definition: PathBuf,
    },
    /// Run a state machine in memory with a virtual clock and print its output.
    Run(RunArgs),
    /// Draw a state machine as a Mermaid or Graphviz DOT graph, optionally with an
    /// execution's path highlighted.
    Graph(GraphArgs),
    /// The AWS conformance corpus.
    #[command(subcommand)]
    Conformance(ConformanceCommand),
    /// Run the coordinator service: the AWS-compatible HTTP API and the gRPC worker
    /// service (starts a private redis-server when REDIS_URL is unset).
    Serve(Box<coordinator::serve::ServeArgs>),
    /// Run a worker with a built-in handler (echo, sleep, fail) against a coordinator.
    Worker(crate::worker_cmd::WorkerArgs),
}

#[derive(Debug, Args)]
struct GraphArgs {
    /// The definition (ASL JSON).
    definition: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "mermaid")]
    format: GraphFormat,
    /// An execution history (GetExecutionHistory output, or its `events` array) whose
    /// visited states are highlighted.
    #[arg(long)]
    history: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The definition (ASL JSON).
    definition: PathBuf,
    /// Execution input: JSON text, or @path to read it from a file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// A Step Functions Local MockConfigFile answering Task states.
    #[arg(long, requires = "test_case")]
    mock_config: Option<PathBuf>,
    /// The test case of the mock config to use.
    #[arg(long, requires = "mock_config")]
    test_case: Option<String>,
    /// The state machine name (in the mock config, ARNs and the context object);
    /// optional when the mock config has a single state machine.
    #[arg(long)]
    state_machine_name: Option<String>,
    /// Sleep through Wait states and retry delays instead of jumping the virtual clock.
    #[arg(long)]
    real_time: bool,
}

#[derive(Debug, Subcommand)]
enum ConformanceCommand {
    /// Run every case of a JSONL corpus and compare with AWS's recorded results.
    Run(ConformanceArgs),
}

#[derive(Debug, Args)]
struct ConformanceArgs {
    /// The corpus (cases.jsonl or lambda_cases.jsonl).
    cases: PathBuf,
    /// Write one JSON result line per case here.
    #[arg(long)]
    results: Option<PathBuf>,
    /// Fail (exit 1) when the deterministic pass percentage is below this.
    #[arg(long, value_parser = parse_percent)]
    min_pass_rate: Option<f64>,
    /// Run only cases whose id contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Per-case cap on state transitions.
    #[arg(long, default_value_t = 10_000)]
    max_transitions: u64,
    /// Print each failed case with its reason.
    #[arg(long, short)]
    verbose: bool,
    /// Run the cases through a running cluster at this AWS API URL (e.g.
    /// http://127.0.0.1:8083) instead of in memory; Task states are answered by in-process
    /// workers from the recorded Lambda calls.
    #[arg(long, value_name = "URL")]
    cluster: Option<String>,
    /// With --cluster: the cluster's gRPC worker URL (default: the API host, port 50051).
    #[arg(long, value_name = "URL", requires = "cluster")]
    grpc: Option<String>,
    /// With --cluster: cases running at once.
    #[arg(long, default_value_t = 16, requires = "cluster")]
    concurrency: usize,
    /// With --cluster: seconds a case may run (Waits take real time there) before it is
    /// stopped and reported as CLUSTER_TIMEOUT.
    #[arg(long, default_value_t = 60, requires = "cluster")]
    case_timeout: u64,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim_end_matches('%').parse().map_err(|_| format!("'{s}' is not a percentage"))?;
    if (0.0..=100.0).contains(&v) { Ok(v) } else { Err(format!("{v} is not between 0 and 100")) }
}

/// Parses the arguments and runs the command; the exit code tells success.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate { definition } => validate(&definition),
        Command::Run(args) => run(&args),
        Command::Graph(args) => graph(&args),
        Command::Conformance(ConformanceCommand::Run(args)) => conformance_run(&args),
        Command::Serve(args) => serve(*args),
        Command::Worker(args) => crate::worker_cmd::run(args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes to stdout; a closed pipe (`stepline ... | head`) is not an error.
fn print_out(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("cannot write to stdout"),
        _ => Ok(()),
    }
}

/// Reads a text file, refusing anything over `limit` bytes before reading it whole.
pub fn read_limited(path: &Path, limit: u64, what: &str) -> Result<String> {
    let file = fs::File::open(path).with_context(|| format!("cannot open {what} {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!(
            "{what} {} is larger than {limit} bytes (the Step Functions limit); refusing to parse it",
            path.display()
        );
    }
    String::from_utf8(bytes).with_context(|| format!("{what} {} is not UTF-8 text", path.display()))
}

/// Reads and validates a definition; diagnostics are returned, IO problems are errors.
fn load_definition(path: &Path) -> Result<Result<StateMachine, Vec<asl::diagnostic::Diagnostic>>> {
    let text = read_limited(path, MAX_DEFINITION_BYTES, "definition")?;
    conformance::guarded(|| StateMachine::from_json_str(&text))
        .map_err(|msg| anyhow::anyhow!("the engine panicked while parsing the definition: {msg}"))
}

/// Formats one diagnostic for the terminal.
pub fn format_diagnostic(d: &asl::diagnostic::Diagnostic) -> String {
    let location = if d.location.is_empty() { "/" } else { &d.location };
    format!("{}: {} (at {location})", d.code, d.message)
}

fn validate(path: &Path) -> Result<ExitCode> {
    match load_definition(path)? {
        Ok(_) => {
            print_out("OK\n")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(diags) => {
            let lines: String = diags.iter().map(|d| format_diagnostic(d) + "\n").collect();
            print_out(&lines)?;
            eprintln!("{} problem(s) in {}", diags.len(), path.display());
            Ok(ExitCode::from(1))
        }
    }
}

fn graph(args: &GraphArgs) -> Result<ExitCode> {
    let machine = match load_definition(&args.definition)? {
        Ok(m) => m,
        Err(diags) => {
            for d in &diags {
                eprintln!("{}", format_diagnostic(d));
            }
            return Ok(ExitCode::from(1));
        }
    };
    let visited = match &args.history {
        Some(path) => visited_states(&parse_input(&format!("@{}", path.display()))?),
        None => Default::default(),
    };
    let format = match args.format {
        GraphFormat::Mermaid => asl::graph::Format::Mermaid,
        GraphFormat::Dot => asl::graph::Format::Dot,
    };
    print_out(&asl::graph::render(&machine, format, &visited))?;
    Ok(ExitCode::SUCCESS)
}

/// Names of the states an execution entered, from its history events.
fn visited_states(history: &Value) -> std::collections::HashSet<String> {
    let events = history.get("events").unwrap_or(history);
    events
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e.get("stateEnteredEventDetails")?.get("name")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `--input` as JSON text or `@file`.
pub fn parse_input(arg: &str) -> Result<Value> {
    let (text, source) = match arg.strip_prefix('@') {
        Some(path) => (read_limited(Path::new(path), MAX_INPUT_BYTES, "input file")?, format!("input file {path}")),
        None => (arg.to_string(), "--input".to_string()),
    };
    serde_json::from_str(&text).with_context(|| format!("{source} is not valid JSON"))
}

fn run(args: &RunArgs) -> Result<ExitCode> {
    let machine = match load_definition(&args.definition)? {
        Ok(m) => m,
        Err(diags) => {
            for d in &diags {
                eprintln!("{}", format_diagnostic(d));
            }
            bail!("{} is not a valid definition ({} problem(s))", args.definition.display(), diags.len());
        }
    };
    let input = parse_input(&args.input)?;
    let mut mocks = match (&args.mock_config, &args.test_case) {
        (Some(path), Some(case)) => {
            let text = read_limited(path, MAX_INPUT_BYTES, "mock config")?;
            let config = MockConfig::from_json_str(&text).with_context(|| format!("in {}", path.display()))?;
            Some(config.test_case(args.state_machine_name.as_deref(), case)?)
        }
        _ => None,
    };
    let options = SimulationOptions {
        start_time: Utc::now(),
        execution_name: format!("local-{}", Utc::now().format("%Y%m%dT%H%M%S")),
        state_machine_name: args.state_machine_name.clone().unwrap_or_else(|| "local".into()),
        ..SimulationOptions::default()
    };
    let mut unmocked: Vec<String> = Vec::new();
    let mut handler = |req: &TaskRequest| {
        if let Some(answer) = mocks.as_mut().and_then(|m| m.respond(req)) {
            return answer;
        }
        unmocked.push(req.state_name.clone());
        let hint = if mocks.is_some() {
            "the test case has no mocked response for it"
        } else {
            "pass --mock-config and --test-case to answer Task states"
        };
        TaskResult::Failure {
            error: NO_MOCK_ERROR.into(),
            cause: format!("Task state '{}' ({}) cannot run locally: {hint}", req.state_name, req.resource),
        }
    };
    let real_time = args.real_time;
    let mut sleep = |d: std::time::Duration| {
        if real_time {
            std::thread::sleep(d);
        }
    };
    let outcome = conformance::guarded(|| simulate_with_clock(&machine, input, &options, &mut handler, &mut sleep))
        .map_err(|msg| anyhow::anyhow!("the engine panicked: {msg}"))?;
    unmocked.dedup();
    for state in &unmocked {
        eprintln!("warning: Task state '{state}' had no mocked response");
    }
    if outcome.status == ExecutionStatus::Succeeded {
        let output = outcome.output.unwrap_or(Value::Null);
        print_out(&(serde_json::to_string_pretty(&output)? + "\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("execution {}", conformance::status_name(outcome.status));
    eprintln!("error: {}", outcome.error.as_deref().unwrap_or("(none)"));
    eprintln!("cause: {}", outcome.cause.as_deref().unwrap_or("(none)"));
    Ok(ExitCode::from(1))
}

fn conformance_run(args: &ConformanceArgs) -> Result<ExitCode> {
    let text =
        fs::read_to_string(&args.cases).with_context(|| format!("cannot read corpus {}", args.cases.display()))?;
    let options = RunOptions { filter: args.filter.clone(), max_transitions: args.max_transitions };
    let mut out = match &args.results {
        Some(path) => Some(std::io::BufWriter::new(
            fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => None,
    };
    let mut write_error = None;
    // Engine panics are caught per case; keep the default hook from spamming stderr.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let on_result = |r: &conformance::report::CaseResult| {
        if let Some(w) = out.as_mut()
            && write_error.is_none()
            && let Err(e) = writeln!(w, "{}", r.to_json_line())
        {
            write_error = Some(e);
        }
    };
    let results = match &args.cluster {
        None => Ok(conformance::run_corpus(&text, &options, on_result)),
        Some(url) => run_on_cluster(args, url, &text, &options, on_result),
    };
    std::panic::set_hook(previous_hook);
    let results = results?;
    if let Some(e) = write_error {
        bail!("cannot write results: {e}");
    }
    if let Some(mut w) = out {
        w.flush().context("cannot write results")?;
    }
    if results.is_empty() {
        bail!("no cases to run in {}", args.cases.display());
    }
    let mut report = String::new();
    if args.verbose {
        for r in results.iter().filter(|r| !r.passed) {
            report.push_str(&format!("FAIL {} [{:?}]: {}\n", r.id, r.category, r.reason.as_deref().unwrap_or("")));
        }
        for r in results.iter().filter(|r| r.history_matched == Some(false)) {
            report.push_str(&format!("HISTORY {}: {}\n", r.id, r.history_difference.as_deref().unwrap_or("")));
        }
    }
    let summary = Summary::of(&results);
    report.push_str(&summary.table());
    report.push_str(&format!(
        "cause match rate: {:.1}% ({}/{} deterministic)\n",
        summary.total.cause_rate(),
        summary.total.cause_matched,
        summary.total.deterministic()
    ));
    let compared: Vec<bool> = results.iter().filter_map(|r| r.history_matched).collect();
    if !compared.is_empty() {
        let matched = compared.iter().filter(|m| **m).count();
        report.push_str(&format!(
            "history shape match rate: {:.1}% ({matched}/{} with a recorded history; event types and previousEventId)\n",
            matched as f64 * 100.0 / compared.len() as f64,
            compared.len()
        ));
    }
    report.push_str(&summary.final_line());
    report.push('\n');
    print_out(&report)?;
    if let Some(min) = args.min_pass_rate
        && summary.total.pass_rate() < min
    {
        eprintln!("pass rate {:.1}% is below the minimum {min:.1}%", summary.total.pass_rate());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The conformance corpus through a running cluster (see `conformance::cluster`).
fn run_on_cluster(
    args: &ConformanceArgs,
    url: &str,
    text: &str,
    options: &RunOptions,
    on_result: impl FnMut(&conformance::report::CaseResult),
) -> Result<Vec<conformance::report::CaseResult>> {
    let grpc_url = match &args.grpc {
        Some(g) => g.clone(),
        None => {
            let host = url.trim_start_matches("http://").split(['/', ':']).next().unwrap_or("127.0.0.1");
            format!("http://{host}:50051")
        }
    };
    let cluster = conformance::cluster::ClusterOptions {
        api_url: url.to_string(),
        grpc_url,
        concurrency: args.concurrency,
        case_timeout: std::time::Duration::from_secs(args.case_timeout),
    };
    // The in-process workers log each start and stop; only show that when asked to.
    if std::env::var_os("RUST_LOG").is_some() {
        coordinator::serve::init_logging(coordinator::serve::LogFormat::Text);
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(conformance::cluster::run_corpus(text, options, &cluster, on_result))
}

/// `stepline serve`: runs the coordinator until Ctrl-C or SIGTERM.
fn serve(args: coordinator::serve::ServeArgs) -> Result<ExitCode> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.runtime_threads {
        builder.worker_threads(n as usize);
    }
    let runtime = builder.enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(coordinator::serve::run(args))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn percent_parsing() {
        assert_eq!(parse_percent("95"), Ok(95.0));
        assert_eq!(parse_percent("99.5%"), Ok(99.5));
        assert!(parse_percent("101").is_err());
        assert!(parse_percent("-1").is_err());
        assert!(parse_percent("x").is_err());
    }

    #[test]
    fn inline_input() {
        assert_eq!(parse_input("{\"a\": 1}").ok(), Some(serde_json::json!({"a": 1})));
        assert!(parse_input("{").is_err());
        assert!(parse_input("@/nonexistent/stepline-input.json").is_err());
    }

    #[test]
    fn mock_flags_go_together() {
        let r = Cli::try_parse_from(["stepline", "run", "d.json", "--mock-config", "m.json"]);
        assert!(r.is_err());
        let r = Cli::try_parse_from(["stepline", "run", "d.json", "--mock-config", "m.json", "--test-case", "Happy"]);
        assert!(r.is_ok());
    }

    #[test]
    fn oversized_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("stepline-cli-test-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let path = dir.join("big.json");
        let written = fs::write(&path, "x".repeat(2048));
        assert!(written.is_ok());
        let err = read_limited(&path, 1024, "definition").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("larger than 1024 bytes"), "{err}");
        assert!(read_limited(&path, 4096, "definition").is_ok());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn diagnostic_format() {
        let d = asl::diagnostic::Diagnostic::new("MISSING_TRANSITION_TARGET", "no such state", "/States/A/Next");
        assert_eq!(format_diagnostic(&d), "MISSING_TRANSITION_TARGET: no such state (at /States/A/Next)");
    }
}
