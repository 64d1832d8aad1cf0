//! The `stepline` command-line tool.

mod cli;
mod worker_cmd;

fn main() -> std::process::ExitCode {
    cli::main()
}
