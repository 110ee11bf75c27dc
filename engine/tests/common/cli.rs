//! Runs the `toonstore` CLI natively or as `toonstore.wasm` under a WASI runtime, so one CLI
//! test suite checks every build. Paths given to the CLI are relative to a fresh working
//! directory, which the wasm runtimes preopen as the guest's `.`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Where the CLI runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// The native binary cargo built for this test.
    Native,
    /// `toonstore.wasm` under the stock `wasmtime` CLI.
    Wasmtime,
    /// `toonstore.wasm` under Node's `node:wasi`.
    NodeWasi,
}

/// The workspace's directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("engine/ has a parent").to_path_buf()
}

/// The release build of `toonstore.wasm` (`TOONSTORE_WASM` overrides); it must exist: the
/// README's test command builds it before the tests.
pub fn wasm_module() -> PathBuf {
    let module = std::env::var_os("TOONSTORE_WASM").map(PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target"));
        target.join("wasm32-wasip1/release/toonstore.wasm")
    });
    assert!(
        module.exists(),
        "{} is missing: build it with `cargo build -p toonstore --release --target wasm32-wasip1`",
        module.display()
    );
    module
}

/// A fresh working directory for one test on one runtime.
pub struct Cli {
    pub runtime: Runtime,
    pub root: PathBuf,
}

impl Cli {
    pub fn new(runtime: Runtime, name: &str) -> Cli {
        let root = std::env::temp_dir()
            .join(format!("toonstore-cli-{name}-{runtime:?}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Cli { runtime, root }
    }

    /// The host path of `relative` inside the working directory.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// The command that runs the CLI with `args`, in the working directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = match self.runtime {
            Runtime::Native => Command::new(env!("CARGO_BIN_EXE_toonstore")),
            Runtime::Wasmtime => {
                let mut command = Command::new("wasmtime");
                command.arg("run").arg("--dir").arg(format!("{}::.", self.root.display()));
                command.arg(wasm_module());
                command
            }
            Runtime::NodeWasi => {
                let mut command = Command::new("node");
                command.arg("--no-warnings").arg(workspace().join("tests/wasi/node-wasi.mjs"));
                command.arg("--dir").arg(format!("{}::.", self.root.display()));
                command.arg(wasm_module());
                command
            }
        };
        command.args(args).current_dir(&self.root);
        command
    }

    /// Runs the CLI with `stdin` piped in.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the CLI on {:?}: {e}", self.runtime));
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs the CLI, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str], stdin: &str) -> String {
        let output = self.run(args, stdin);
        assert!(
            output.status.success(),
            "{:?} {args:?}: {}",
            self.runtime,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs the CLI, which must fail with exit code 1; its stderr.
    pub fn failure(&self, args: &[&str], stdin: &str) -> String {
        let output = self.run(args, stdin);
        assert_eq!(output.status.code(), Some(1), "{:?} {args:?} should fail", self.runtime);
        String::from_utf8(output.stderr).unwrap()
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// One `#[test]` per runtime for each listed test function (which takes a [`Runtime`]).
#[macro_export]
macro_rules! on_every_runtime {
    ($($test:ident),* $(,)?) => {
        mod native {
            $( #[test] fn $test() { super::$test($crate::common::cli::Runtime::Native) } )*
        }
        mod wasmtime {
            $( #[test] fn $test() { super::$test($crate::common::cli::Runtime::Wasmtime) } )*
        }
        mod node_wasi {
            $( #[test] fn $test() { super::$test($crate::common::cli::Runtime::NodeWasi) } )*
        }
    };
}
