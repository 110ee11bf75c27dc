//! The `toonstore` command line: `toonstore toon encode|decode|check`.
//!
//! Input comes on stdin, output goes to stdout; failures print `error: ...` on stderr and
//! exit 1 (`check` prints `line:column: message [rule]`).

use std::io::{self, Read, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::toon::{self, DecodeOptions, Delimiter, EncodeOptions, Value};

#[derive(Parser, Debug)]
#[command(name = "toonstore", version, about = "A storage engine for TOON documents")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Convert between JSON and TOON, or check TOON text.
    #[command(subcommand)]
    Toon(ToonCommand),
}

#[derive(Subcommand, Debug)]
enum ToonCommand {
    /// JSON on stdin, canonical TOON on stdout.
    Encode {
        /// Delimiter of inline arrays and table rows.
        #[arg(long, value_enum, default_value = ",")]
        delimiter: DelimiterArg,
        /// Spaces per indentation level.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=16))]
        indent: u8,
    },
    /// TOON on stdin, compact JSON on stdout.
    Decode {
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Check TOON on stdin: exit 0, or print `line:column: message` and exit 1.
    Check {
        #[command(flatten)]
        read: ReadArgs,
    },
}

#[derive(clap::Args, Debug)]
struct ReadArgs {
    /// Accept length mismatches, duplicate keys, blank lines in arrays and loose indentation.
    #[arg(long)]
    no_strict: bool,
    /// Spaces per indentation level.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=16))]
    indent: u8,
}

impl ReadArgs {
    fn options(&self) -> DecodeOptions {
        DecodeOptions { strict: !self.no_strict, indent: usize::from(self.indent) }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum DelimiterArg {
    #[value(name = ",")]
    Comma,
    #[value(name = "|")]
    Pipe,
    #[value(name = "tab")]
    Tab,
}

/// Runs the command line with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let Command::Toon(command) = cli.command;
    let input = read_stdin()?;
    match command {
        ToonCommand::Encode { delimiter, indent } => {
            let json: serde_json::Value =
                serde_json::from_str(&input).map_err(|e| format!("invalid JSON: {e}"))?;
            let value = Value::try_from(json).map_err(|e| e.to_string())?;
            let delimiter = match delimiter {
                DelimiterArg::Comma => Delimiter::Comma,
                DelimiterArg::Pipe => Delimiter::Pipe,
                DelimiterArg::Tab => Delimiter::Tab,
            };
            let options = EncodeOptions { delimiter, indent: usize::from(indent) };
            write_stdout(&toon::encode_with(&value, &options))?;
        }
        ToonCommand::Decode { read } => {
            let value = toon::decode_with(&input, &read.options()).map_err(|e| e.to_string())?;
            let json = serde_json::to_string(&value).map_err(|e| e.to_string())?;
            write_stdout(&json)?;
        }
        ToonCommand::Check { read } => {
            if let Err(e) = toon::validate_with(&input, &read.options()) {
                eprintln!("{e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_stdin() -> Result<String, String> {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).map_err(|e| format!("reading stdin: {e}"))?;
    Ok(input)
}

fn write_stdout(text: &str) -> Result<(), String> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).map_err(|e| format!("writing stdout: {e}"))
}
