//! `scx_relay ctl`: talk to the running scheduler over its control socket
//! (see `run::ctl` for the server): switch its policy live, load a routing
//! configuration, or ask what it runs. Root only (the socket is mode 0600).
//!
//! Every outcome is one line: the scheduler's answer on stdout (exit 0), or
//! what went wrong on stderr (exit 1): no scheduler running, permission
//! denied, a malformed configuration (checked here first, with the line and
//! field at fault), or the scheduler's refusal.

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
    /// Switch to a shipped policy (fifo, deadline, eevdf, interactive,
    /// local) without unloading: the tasks the old policy holds are handed
    /// to the new one.
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
    /// Print what the scheduler runs.
    Status,
}

/// How long to wait for the answer (the scheduler waits up to 10 s for its loop).
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `scx_relay ctl`; returns the exit code.
pub fn main(args: &CtlArgs) -> ExitCode {
    match request(args) {
        Ok(reply) => match reply.strip_prefix("ok: ") {
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

/// Sends the request and returns the scheduler's reply line.
fn request(args: &CtlArgs) -> Result<String, String> {
    let text = match &args.action {
        Action::Policy { name } => format!("policy {name}\n"),
        Action::Status => "status\n".to_owned(),
        Action::Config { file } => {
            let body = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            RoutingConfig::parse(&body).map_err(|e| format!("{}: {e}", file.display()))?;
            format!("config\n{body}")
        }
    };
    let mut stream = connect(&args.socket)?;
    let io = |e: std::io::Error| format!("talking to the scheduler on {}: {e}", args.socket.display());
    stream.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(io)?;
    stream.write_all(text.as_bytes()).map_err(io)?;
    stream.shutdown(std::net::Shutdown::Write).map_err(io)?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).map_err(io)?;
    let line = reply.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(format!("the scheduler on {} closed the connection without answering", args.socket.display()));
    }
    Ok(line.to_owned())
}

/// Connects, turning the usual failures into one line that says what to do.
fn connect(path: &Path) -> Result<UnixStream, String> {
    UnixStream::connect(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => {
            format!("no scheduler is running (no control socket at {}); start scx_relay first", path.display())
        }
        ErrorKind::ConnectionRefused => format!(
            "no scheduler is listening on {} (a stale socket: scx_relay removes it when it starts)",
            path.display()
        ),
        ErrorKind::PermissionDenied => {
            format!("permission denied on {}: scx_relay ctl needs root (e.g. sudo)", path.display())
        }
        _ => format!("cannot connect to {}: {e}", path.display()),
    })
}
