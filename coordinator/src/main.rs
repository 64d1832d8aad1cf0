//! The `stepline` command-line tool.
fn main() {}
