//! `toonstore`: the command-line tool.

fn main() -> std::process::ExitCode {
    toonstore::cli::main()
}
