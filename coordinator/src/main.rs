//! The `stepline` command-line tool.

/// mimalloc: under load, glibc's malloc/free took about a third of the coordinator's
/// CPU (many short-lived strings and JSON values per task).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod worker_cmd;

fn main() -> std::process::ExitCode {
    cli::main()
}
