//! The `stepline` command-line tool.

/// mimalloc: under load, glibc's malloc/free took about a third of the coordinator's
/// CPU (many short-lived strings and JSON values per task). Built without transparent
/// huge pages (`no_thp` in the workspace): with them, memory mimalloc had given back
/// came back as 2 MiB pages zeroed on first touch, a third of the CPU under a burst.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod worker_cmd;

fn main() -> std::process::ExitCode {
    cli::main()
}
