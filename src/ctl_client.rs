//! `scx_relay ctl`: talk to the running scheduler over its control socket
//! (see `run::ctl_server` for the server): switch its policy live, load a routing
//! configuration, or ask what it runs. Root only (the socket is mode 0600).
//!
//! Every outcome is one line: the scheduler's answer on stdout (exit 0), or
//! what went wrong on stderr (exit 1): no scheduler running, permission
//! denied, a malformed configuration (checked here first, with the line and
//! field at fault), or the scheduler's refusal. `status`'s answer is one
//! JSON object, printed as it came (no `scx_relay: ` before it), for scripts.

use std::{
    io::{ErrorKind, Read, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use policies::RoutingConfig;

/// Where the running scheduler listens unless `--socket` says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/scx_relay.sock";

/// Options of `scx_relay ctl`.
#[derive(Debug, clap::Args)]
pub struct CtlArgs {
    /// The scheduler's control socket.
    #[arg(long, default_value = DEFAULT_SOCKET, value_name = "PATH")]
    pub socket: PathBuf,

    /// What to ask.
    #[command(subcommand)]
    pub action: Action,
}

/// A request to the running scheduler.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Switch to a shipped policy (`policies::NAMES`) without unloading: the
    /// tasks the old policy holds are handed to the new one.
    #[command(about = format!(
        "Switch to a shipped policy ({}) without unloading: the tasks the old policy holds are handed to the new one",
        policies::NAMES.join(", ")
    ))]
    Policy {
        /// The policy's name.
        name: String,
    },
    /// Switch to the routing policy of a configuration file (TOML); a
    /// malformed file is refused with the line and field at fault, and the
    /// running policy is kept.
    Config {
        /// The configuration file.
        file: PathBuf,
    },
    /// Print what the scheduler runs and its counters since its session
    /// started, as one line of JSON: `{"policy": "<name, or routing (...)>",
    /// "metrics": {"queued": N, ...}}`, the metrics `--help-stats` describes
    /// (`null` while the scheduler is between sessions).
    Status,
}

/// How long to wait for the answer (the scheduler waits up to 10 s for its loop).
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `scx_relay ctl`; returns the exit code.
pub fn main(args: &CtlArgs) -> ExitCode {
    match request(args) {
        Ok(reply) => match reply.strip_prefix("ok: ") {
            Some(json) if matches!(args.action, Action::Status) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Some(ok) => {
                println!("scx_relay: {ok}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("scx_relay: {}", reply.strip_prefix("error: ").unwrap_or(&reply));
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("scx_relay: {e}");
            ExitCode::from(1)
        }
    }
}

/// Why a request got no answer from the scheduler; each message is one
/// line that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// The configuration file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// The configuration file is malformed (checked before connecting).
    #[error("{}: {source}", path.display())]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// The line and field at fault.
        source: policies::ConfigError,
    },
    /// No control socket: no scheduler runs.
    #[error("no scheduler is running (no control socket at {}); start scx_relay first", .0.display())]
    NotRunning(PathBuf),
    /// A socket file nobody listens on.
    #[error("no scheduler is listening on {} (a stale socket: scx_relay removes it when it starts)", .0.display())]
    Stale(PathBuf),
    /// The socket is root's.
    #[error("permission denied on {}: scx_relay ctl needs root (e.g. sudo)", .0.display())]
    PermissionDenied(PathBuf),
    /// Any other failure to connect.
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Sending the request or reading the answer failed.
    #[error("talking to the scheduler on {}: {source}", path.display())]
    Io {
        /// The socket.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The scheduler closed the connection without a line.
    #[error("the scheduler on {} closed the connection without answering", .0.display())]
    NoAnswer(PathBuf),
}

/// Sends the request and returns the scheduler's reply line.
fn request(args: &CtlArgs) -> Result<String, CtlError> {
    let text = match &args.action {
        Action::Policy { name } => format!("policy {name}\n"),
        Action::Status => "status\n".to_owned(),
        Action::Config { file } => {
            let body =
                std::fs::read_to_string(file).map_err(|source| CtlError::ReadConfig { path: file.clone(), source })?;
            RoutingConfig::parse(&body).map_err(|source| CtlError::ParseConfig { path: file.clone(), source })?;
            format!("config\n{body}")
        }
    };
    let mut stream = connect(&args.socket)?;
    let io = |source: std::io::Error| CtlError::Io { path: args.socket.clone(), source };
    stream.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(io)?;
    stream.write_all(text.as_bytes()).map_err(io)?;
    stream.shutdown(std::net::Shutdown::Write).map_err(io)?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).map_err(io)?;
    let line = reply.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(CtlError::NoAnswer(args.socket.clone()));
    }
    Ok(line.to_owned())
}

/// Connects, turning the usual failures into one line that says what to do.
fn connect(path: &Path) -> Result<UnixStream, CtlError> {
    UnixStream::connect(path).map_err(|source| match source.kind() {
        ErrorKind::NotFound => CtlError::NotRunning(path.to_owned()),
        ErrorKind::ConnectionRefused => CtlError::Stale(path.to_owned()),
        ErrorKind::PermissionDenied => CtlError::PermissionDenied(path.to_owned()),
        _ => CtlError::Connect { path: path.to_owned(), source },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Each failure keeps the exact line it had when it was a `String`.
    #[test]
    fn messages_keep_their_exact_text() {
        let p = || PathBuf::from("/run/x.sock");
        let io = || std::io::Error::other("boom");
        for (e, text) in [
            (CtlError::ReadConfig { path: p(), source: io() }, "cannot read /run/x.sock: boom"),
            (
                CtlError::NotRunning(p()),
                "no scheduler is running (no control socket at /run/x.sock); start scx_relay first",
            ),
            (
                CtlError::Stale(p()),
                "no scheduler is listening on /run/x.sock (a stale socket: scx_relay removes it when it starts)",
            ),
            (CtlError::PermissionDenied(p()), "permission denied on /run/x.sock: scx_relay ctl needs root (e.g. sudo)"),
            (CtlError::Connect { path: p(), source: io() }, "cannot connect to /run/x.sock: boom"),
            (CtlError::Io { path: p(), source: io() }, "talking to the scheduler on /run/x.sock: boom"),
            (CtlError::NoAnswer(p()), "the scheduler on /run/x.sock closed the connection without answering"),
        ] {
            assert_eq!(e.to_string(), text);
        }
    }

    /// A missing socket is `NotRunning`; a malformed file is refused first.
    #[test]
    fn request_errors_are_typed() {
        let socket = PathBuf::from("/nonexistent/scx_relay.sock");
        let e = request(&CtlArgs { socket: socket.clone(), action: Action::Status }).unwrap_err();
        assert!(matches!(&e, CtlError::NotRunning(p) if *p == socket), "{e}");
        let file = std::env::temp_dir().join(format!("scx_relay-ctl-unit-{}.toml", std::process::id()));
        std::fs::write(&file, "[[route]]\nshare = \"lots\"\n").unwrap();
        let e = request(&CtlArgs { socket, action: Action::Config { file: file.clone() } }).unwrap_err();
        std::fs::remove_file(&file).unwrap();
        assert!(matches!(e, CtlError::ParseConfig { .. }), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
