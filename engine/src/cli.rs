//! The `toonstore` command line.
//!
//! `toonstore toon encode|decode|check` converts and checks TOON on stdin and stdout;
//! `toonstore --db DIR <command>` works on a store (`put`, `get`, `delete`, `append`, `scan`,
//! `import`, `export`, `compact`, `stats`). Failures print `error: ...` on stderr and exit 1
//! (`toon check` prints `line:column: message [rule]`). Import, export and compact show a
//! progress bar on a terminal and print plainly when piped. The same code runs natively and
//! as `toonstore.wasm` under WASI (no threads are used).

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::ops::Bound;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::store::{Batch, Options, ScanRequest, Store};
use crate::toon::{self, DecodeOptions, Delimiter, EncodeOptions, Map, Value};

#[derive(Parser, Debug)]
#[command(name = "toonstore", version, about = "A storage engine for TOON documents")]
struct Cli {
    /// The store's directory (created if missing); needed by every command but `toon`.
    #[arg(long, global = true, value_name = "DIR")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Convert between JSON and TOON, or check TOON text.
    #[command(subcommand)]
    Toon(ToonCommand),
    /// Store a document under KEY: TOON text (or JSON with --json) as DOC or on stdin.
    Put {
        key: String,
        /// The document; `-` or nothing reads stdin.
        doc: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print the document under KEY (TOON, or JSON with --json).
    Get {
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete KEY.
    Delete { key: String },
    /// Append a document as the next row and print its row id.
    Append {
        /// The document; `-` or nothing reads stdin.
        doc: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print documents in key order: one TOON object keyed by key, or JSON Lines.
    Scan {
        #[arg(long)]
        prefix: Option<String>,
        /// First key (inclusive).
        #[arg(long)]
        from: Option<String>,
        /// Last key (exclusive).
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Import JSON Lines (keyed by --key-field, or appended as rows) or a TOON array.
    Import {
        file: PathBuf,
        /// Use this field of each record as its key; without it records become rows.
        #[arg(long)]
        key_field: Option<String>,
    },
    /// Export documents: one TOON document (uniform records as one table) or JSON Lines.
    Export {
        #[arg(long)]
        prefix: Option<String>,
        /// Export the rows (in id order) instead of the keys.
        #[arg(long)]
        rows: bool,
        #[arg(long, value_enum, default_value = "toon")]
        format: ExportFormat,
    },
    /// Rewrite live documents into new segments and reclaim the space of the rest.
    Compact,
    /// Print figures about the store.
    Stats {
        #[arg(long)]
        json: bool,
    },
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

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ExportFormat {
    Toon,
    Jsonl,
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

type Outcome = Result<ExitCode, String>;

fn run(cli: Cli) -> Outcome {
    if let Command::Toon(command) = cli.command {
        return toon_command(command);
    }
    let dir = cli.db.ok_or("this command needs --db DIR")?;
    // Commands that only read open the store read-only: they run beside a writer, on
    // read-only media, and leave every file as it was.
    let read_only = matches!(
        cli.command,
        Command::Get { .. } | Command::Scan { .. } | Command::Export { .. } | Command::Stats { .. }
    );
    let store = open_store(&dir, read_only)?;
    let outcome = store_command(&store, cli.command);
    let closed = store.close().map_err(|e| e.to_string());
    let code = outcome?;
    closed?;
    Ok(code)
}

#[cfg(not(target_arch = "wasm32"))]
type CliStore = Store<crate::io::MmapStorage>;
#[cfg(target_arch = "wasm32")]
type CliStore = Store<crate::io::StdStorage>;

fn open_store(dir: &std::path::Path, read_only: bool) -> Result<CliStore, String> {
    #[cfg(not(target_arch = "wasm32"))]
    let storage = crate::io::MmapStorage::open_dir(dir);
    #[cfg(target_arch = "wasm32")]
    let storage = crate::io::StdStorage::open_dir(dir);
    let storage = storage.map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
    let options = Options { read_only, ..Options::default() };
    Store::open(storage, options).map_err(|e| format!("cannot open {}: {e}", dir.display()))
}

fn toon_command(command: ToonCommand) -> Outcome {
    let input = read_stdin()?;
    match command {
        ToonCommand::Encode { delimiter, indent } => {
            let value = json_to_value(&input)?;
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
            write_stdout(&to_json(&value))?;
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

fn store_command(store: &CliStore, command: Command) -> Outcome {
    let error = |e: crate::store::Error| e.to_string();
    match command {
        Command::Toon(_) => unreachable!("handled before the store opens"),
        Command::Put { key, doc, json } => {
            let text = document_text(doc, json)?;
            store.put(&key, &text).map_err(error)?;
        }
        Command::Get { key, json } => {
            let text =
                store.get(&key).map_err(error)?.ok_or(format!("no document under {key:?}"))?;
            if json {
                let value = toon::decode(&text).map_err(|e| e.to_string())?;
                write_stdout(&to_json(&value))?;
            } else {
                write_stdout(&text)?;
            }
        }
        Command::Delete { key } => {
            if !store.delete(&key).map_err(error)? {
                return Err(format!("no document under {key:?}"));
            }
        }
        Command::Append { doc, json } => {
            let text = document_text(doc, json)?;
            let id = store.append(&text).map_err(error)?;
            write_stdout(&id.to_string())?;
        }
        Command::Scan { prefix, from, to, limit, json } => {
            let mut request = ScanRequest::all();
            request.prefix = prefix;
            request.start = from.map_or(Bound::Unbounded, Bound::Included);
            request.end = to.map_or(Bound::Unbounded, Bound::Excluded);
            let mut records = Map::new();
            let mut out = io::stdout().lock();
            for entry in store.scan_request(&request).take(limit.unwrap_or(usize::MAX)) {
                let (key, text) = entry.map_err(error)?;
                let value = toon::decode(&text).map_err(|e| e.to_string())?;
                if json {
                    let line = serde_json::json!({ "key": key.as_str(), "value": value });
                    writeln!(out, "{line}").map_err(write_error)?;
                } else {
                    records.insert(key, value);
                }
            }
            if !json && !records.is_empty() {
                writeln!(out, "{}", toon::encode(&Value::Object(records))).map_err(write_error)?;
            }
        }
        Command::Import { file, key_field } => import(store, &file, key_field.as_deref())?,
        Command::Export { prefix, rows, format } => export(store, prefix.as_deref(), rows, format)?,
        Command::Compact => {
            let bar = spinner("compacting");
            let report = store.compact().map_err(error)?;
            bar.finish_and_clear();
            write_stdout(&format!(
                "reclaimed {} bytes ({} -> {})",
                report.reclaimed_bytes, report.disk_bytes_before, report.disk_bytes_after
            ))?;
        }
        Command::Stats { json } => {
            let stats = store.stats();
            let value: Value = [
                ("keys", stats.keys),
                ("rows", stats.rows),
                ("segments", stats.segments),
                ("disk_bytes", stats.disk_bytes),
                ("live_bytes", stats.live_bytes),
                ("garbage_bytes", stats.garbage_bytes),
                ("cache_hits", stats.cache_hits),
                ("cache_misses", stats.cache_misses),
                ("recovered_tail_bytes", stats.recovered_tail_bytes),
            ]
            .into_iter()
            .map(|(name, n)| (name, Value::from(n as i64)))
            .collect();
            write_stdout(&if json { to_json(&value) } else { toon::encode(&value) })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Records go in as batches of this many: each batch is one atomic record in the log.
const IMPORT_BATCH: usize = 500;

fn import(store: &CliStore, file: &std::path::Path, key_field: Option<&str>) -> Result<(), String> {
    let open_error = |e: io::Error| format!("cannot read {}: {e}", file.display());
    let size = std::fs::metadata(file).map_err(open_error)?.len();
    let bar = progress(size, "importing");
    // Bytes of the file read so far, for the progress bar.
    let read = std::cell::Cell::new(0u64);
    let records: Box<dyn Iterator<Item = Result<Value, String>>> =
        if file.extension().is_some_and(|e| e == "toon") {
            let text = std::fs::read_to_string(file).map_err(open_error)?;
            read.set(size);
            let Value::Array(records) =
                toon::decode(&text).map_err(|e| format!("{}: {e}", file.display()))?
            else {
                return Err(format!("{} is not a TOON array", file.display()));
            };
            Box::new(records.into_iter().map(Ok))
        } else {
            let reader = io::BufReader::new(std::fs::File::open(file).map_err(open_error)?);
            Box::new(reader.lines().enumerate().filter_map(|(number, line)| {
                let line = match line {
                    Ok(line) => line,
                    Err(e) => return Some(Err(open_error(e))),
                };
                read.set(read.get() + line.len() as u64 + 1);
                (!line.trim().is_empty())
                    .then(|| json_to_value(&line).map_err(|e| format!("line {}: {e}", number + 1)))
            }))
        };
    let mut imported = 0u64;
    let mut batch = Batch::new();
    let mut rows = Vec::new();
    let flush = |batch: &mut Batch, rows: &mut Vec<String>| -> Result<(), String> {
        store.batch(batch).map_err(|e| e.to_string())?;
        for row in rows.drain(..) {
            store.append(&row).map_err(|e| e.to_string())?;
        }
        *batch = Batch::new();
        bar.set_position(read.get().min(size));
        Ok(())
    };
    for record in records {
        let record = record?;
        let text = toon::encode(&record);
        match key_field {
            Some(field) => {
                let key = match record.get(field) {
                    Some(Value::String(s)) => s.to_string(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => {
                        return Err(format!(
                            "record {} has no string or number field {field:?}",
                            imported + 1
                        ));
                    }
                };
                batch.put(key, text);
            }
            None => rows.push(text),
        }
        imported += 1;
        if batch.len() + rows.len() >= IMPORT_BATCH {
            flush(&mut batch, &mut rows)?;
        }
    }
    flush(&mut batch, &mut rows)?;
    bar.finish_and_clear();
    write_stdout(&format!("imported {imported} records"))
}

fn export(
    store: &CliStore,
    prefix: Option<&str>,
    rows: bool,
    format: ExportFormat,
) -> Result<(), String> {
    let stats = store.stats();
    let bar = progress(if rows { stats.rows } else { stats.keys }, "exporting");
    let mut out = io::stdout().lock();
    let mut documents = Vec::new();
    let mut keyed = Map::new();
    if rows {
        for entry in store.scan_rows() {
            let (id, text) = entry.map_err(|e| e.to_string())?;
            let value = toon::decode(&text).map_err(|e| e.to_string())?;
            bar.inc(1);
            match format {
                ExportFormat::Jsonl => {
                    let line = serde_json::json!({ "row": id, "value": value });
                    writeln!(out, "{line}").map_err(write_error)?;
                }
                ExportFormat::Toon => documents.push(value),
            }
        }
    } else {
        let scan = match prefix {
            Some(prefix) => store.scan_prefix(prefix),
            None => store.scan(),
        };
        for entry in scan {
            let (key, text) = entry.map_err(|e| e.to_string())?;
            let value = toon::decode(&text).map_err(|e| e.to_string())?;
            bar.inc(1);
            match format {
                ExportFormat::Jsonl => {
                    let line = serde_json::json!({ "key": key.as_str(), "value": value });
                    writeln!(out, "{line}").map_err(write_error)?;
                }
                ExportFormat::Toon => {
                    keyed.insert(key, value);
                }
            }
        }
    }
    bar.finish_and_clear();
    if format == ExportFormat::Toon {
        // Uniform records come out as one table: `[N]{fields}:` for rows, `[N:]{fields}:` keyed.
        let document = if rows { Value::Array(documents) } else { Value::Object(keyed) };
        writeln!(out, "{}", toon::encode(&document)).map_err(write_error)?;
    }
    Ok(())
}

/// A progress bar on a terminal's stderr; hidden when stderr is not a terminal.
fn progress(length: u64, message: &'static str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(message);
    bar
}

/// A spinner drawn once (no ticking thread, so it also runs under WASI).
fn spinner(message: &'static str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_message(message);
    bar.tick();
    bar
}

/// The document given on the command line or on stdin, as TOON text.
fn document_text(doc: Option<String>, json: bool) -> Result<String, String> {
    let text = match doc {
        Some(doc) if doc != "-" => doc,
        _ => read_stdin()?,
    };
    if json { Ok(toon::encode(&json_to_value(&text)?)) } else { Ok(text) }
}

fn json_to_value(text: &str) -> Result<Value, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    Value::try_from(json).map_err(|e| e.to_string())
}

fn to_json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn read_stdin() -> Result<String, String> {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).map_err(|e| format!("reading stdin: {e}"))?;
    Ok(input)
}

fn write_error(e: io::Error) -> String {
    format!("writing stdout: {e}")
}

fn write_stdout(text: &str) -> Result<(), String> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}").and_then(|()| out.flush()).map_err(write_error)
}
