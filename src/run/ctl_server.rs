//! The server side of `scx_relay ctl`: live policy switches over a Unix
//! socket.
//!
//! **The socket.** `/run/scx_relay.sock` unless `--socket` says otherwise;
//! created with mode 0600 by the scheduler (which runs as root), and a
//! connection is served only if the peer's uid is 0 or the scheduler's own
//! (SO_PEERCRED): only root may switch policies. At start a socket file
//! left by a scheduler that died (nothing accepts on it) is removed; one
//! that answers means another scx_relay is running, and this one refuses to
//! start. The file is removed when the scheduler exits.
//!
//! **Requests** are text: one line `policy <name>`, `status`, or `config`
//! followed by a routing configuration (TOML); the client then shuts its
//! side. The reply is one line: `ok: ...` or `error: ...`. `status`'s is
//! `ok: ` and one JSON object ([`Status`]): what runs, the session's
//! [`Metrics`] (the totals `--stats` lines are the intervals of), and, while
//! the kernel counts them, its BPF programs' runs and run time, read on
//! this thread, never the loop's, from what the session attached
//! ([`Server::serve_metrics`]); `null` between sessions. A request larger
//! than [`MAX_REQUEST`] is refused whole (never cut and applied), and one
//! that has not arrived complete within [`REQUEST_DEADLINE`] of the server
//! starting to read it is refused: a client trickling bytes holds the
//! socket that long at most, then the next client is served.
//!
//! **Threads.** A thread created before the scheduler locks its memory
//! (mlockall) accepts connections, reads requests and builds the new policy
//! — file parsing, allocation and logging stay off the scheduling loop. The
//! loop only checks an atomic flag each round ([`Server::poll`]); when a
//! switch is waiting it calls [`Engine::switch_prepared`] (every held task is
//! handed to the new policy, through a list this thread allocated:
//! [`HANDOVER_CAPACITY`] tasks), stores what the switch left and wakes this
//! thread, which frees the old policy, logs `scx_relay: policy <old> ->
//! <new>, <n> tasks handed over` and answers. A request the loop does not
//! take within [`SWITCH_TIMEOUT`] (the scheduler is stopped) is withdrawn,
//! and the client told so.

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    os::unix::{
        fs::FileTypeExt,
        net::{UnixListener, UnixStream},
    },
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Condvar, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use nix::{
    sys::{
        socket::{getsockopt, sockopt::PeerCredentials},
        stat::{umask, Mode},
    },
    unistd::geteuid,
};
use policies::{PolicyConfig, RoutingConfig};
use scheduler_core::{Engine, Policy, PreparedSwitch, Retired};

use serde::{Deserialize, Serialize};

use super::{bpf_cost::ProgramCost, cgroup, metrics::Metrics, panic_guard::GuardedPolicy};

/// How long a switch request waits for the scheduling loop.
pub const SWITCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request accepted (bytes).
const MAX_REQUEST: usize = 1 << 20;
/// Longest a whole request may take to arrive, from the server's first read.
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);
/// Tasks a switch hands over without allocating on the loop: what the
/// policies' queues hold before they grow.
pub const HANDOVER_CAPACITY: usize = 4096;

/// What the scheduler runs, in a form that can be built again (a restart
/// after CPU hotplug rebuilds the policy running at the time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicySpec {
    /// A policy by name (`policies::by_name`, or the custom one).
    Named(String),
    /// A routing configuration.
    Routing(RoutingConfig),
}

/// Builds a policy from the tunables.
pub type MakePolicy = Box<dyn Fn(&PolicyConfig) -> Box<dyn Policy> + Send + Sync>;

/// A policy that is not shipped: `scx_relay::run_with_policy`'s.
pub struct CustomPolicy {
    /// Its name (it must also be what its `Policy::name` returns).
    pub name: String,
    /// Builds it.
    pub make: MakePolicy,
}

/// Builds policies from specs.
pub struct PolicyFactory {
    /// Tunables for every policy.
    pub cfg: PolicyConfig,
    /// Whether `policies::TEST_NAMES` are accepted.
    pub allow_test_policies: bool,
    /// The custom policy, if any.
    pub custom: Option<CustomPolicy>,
    /// Hand-offs routed with their task's cgroup unresolved, by every routing policy
    /// built here (`cgroup unresolved` in `--stats`, see `cgroup`).
    pub cgroup_unresolved: Arc<AtomicU64>,
}

impl PolicyFactory {
    /// The policy `spec` describes.
    ///
    /// Fails when a policy it names (or a route of its configuration
    /// names) is not one this scheduler may run.
    pub fn build(&self, spec: &PolicySpec) -> Result<Box<dyn Policy>, policies::UnknownPolicy> {
        match spec {
            PolicySpec::Named(name) => match &self.custom {
                Some(c) if c.name == *name => Ok((c.make)(&self.cfg)),
                _ if self.allow_test_policies => policies::by_name_allowing_tests(name, &self.cfg),
                _ => policies::by_name(name, &self.cfg),
            },
            PolicySpec::Routing(config) => {
                // Off the loop: the cgroup2 mount is walked here, and the
                // resolver thread started (see `cgroup`).
                let cgroups = config.uses_cgroups().then(|| cgroup::start(config, self.cgroup_unresolved.clone()));
                let router = policies::Router::new(config, &self.cfg, cgroups)?;
                Ok(Box::new(router))
            }
        }
    }
}

/// A built policy waiting for the loop.
struct Switch {
    prepared: PreparedSwitch,
    spec: PolicySpec,
}

/// What the two threads exchange, under one lock.
struct Slot {
    request: Option<Switch>,
    /// What the loop's switch left: the replaced policy and memory, and the
    /// replaced spec. Freed by the accepting thread: memory that thread
    /// allocated is freed there, never on the loop (its allocator arena's
    /// lock could be held by it while it waits for a CPU).
    done: Option<(Retired, PolicySpec)>,
    /// A switch was made and its log line is not written yet.
    unlogged: bool,
    /// What the scheduler runs.
    current: PolicySpec,
}

/// What a running session answers `status` with.
pub struct SessionStatus {
    /// Its totals since it started.
    pub metrics: Metrics,
    /// Its BPF programs' totals since they were loaded, by program name;
    /// empty while the kernel does not count them (`bpf_cost::Programs::read`).
    pub bpf_programs: BTreeMap<String, ProgramCost>,
}

/// Makes the running session's status (on the accepting thread).
type ReadMetrics = Box<dyn Fn() -> SessionStatus + Send>;

/// State shared by the accepting thread and the loop.
struct Shared {
    pending: AtomicBool,
    slot: Mutex<Slot>,
    answered: Condvar,
    /// The running session's metrics, if a session runs. Never locked by the
    /// loop; the accepting thread holds it while it reads, so a session
    /// that detaches waits for a read under way.
    metrics: Mutex<Option<ReadMetrics>>,
}

/// `status`'s answer, after `ok: `: one JSON object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// What runs: a policy's name, or `routing (<group>: <policy>, ...)`.
    pub policy: String,
    /// The session's totals since it started (`--help-stats` describes
    /// them); `null` while no session runs (starting, or restarting after
    /// a CPU hotplug).
    pub metrics: Option<Metrics>,
    /// The session's BPF programs: each one's runs and run time (ns) since
    /// it was loaded, by name; left out while the kernel does not count
    /// them (`--bpf-stats`, or the `kernel.bpf_stats_enabled` sysctl) and
    /// between sessions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bpf_programs: BTreeMap<String, ProgramCost>,
}

/// While it lives, `status` answers with the metrics its reader makes
/// ([`Server::serve_metrics`]).
pub struct MetricsAttached<'a> {
    shared: &'a Shared,
}

impl Drop for MetricsAttached<'_> {
    fn drop(&mut self) {
        let mut slot = self.shared.metrics.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = None;
    }
}

/// The control socket and its thread.
pub struct Server {
    shared: Arc<Shared>,
    path: PathBuf,
}

/// Why the server did not start.
#[derive(Debug)]
pub enum StartError {
    /// Another scheduler answers on the socket.
    Busy(PathBuf),
    /// Anything else (the scheduler can run without live control).
    Other(anyhow::Error),
}

impl Server {
    /// Binds `path` (mode 0600, stale socket removed) and starts the
    /// accepting thread; `initial` is what the scheduler starts with.
    pub fn start(path: &Path, factory: Arc<PolicyFactory>, initial: PolicySpec) -> Result<Self, StartError> {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(StartError::Other(anyhow::anyhow!("{} exists and is not a socket", path.display())));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(StartError::Busy(path.to_owned()));
            }
            std::fs::remove_file(path)
                .with_context(|| format!("removing the stale socket {}", path.display()))
                .map_err(StartError::Other)?;
        }
        // Created 0600 by the umask: no moment where others could connect,
        // and no chmod afterwards (which would follow a symlink put in the
        // socket's place).
        // The umask is the process's: two servers starting at once (tests)
        // must not interleave their set and restore.
        static UMASK: Mutex<()> = Mutex::new(());
        let guard = UMASK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let old = umask(Mode::from_bits_truncate(0o177));
        let bound = UnixListener::bind(path);
        umask(old);
        drop(guard);
        let listener = bound.with_context(|| format!("binding {}", path.display())).map_err(StartError::Other)?;
        let shared = Arc::new(Shared {
            pending: AtomicBool::new(false),
            slot: Mutex::new(Slot { request: None, done: None, unlogged: false, current: initial }),
            answered: Condvar::new(),
            metrics: Mutex::new(None),
        });
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("scx_relay-ctl".into())
            .stack_size(256 * 1024)
            .spawn(move || accept_loop(&listener, &thread_shared, &factory))
            .context("starting the control thread")
            .map_err(StartError::Other)?;
        Ok(Self { shared, path: path.to_owned() })
    }

    /// What the scheduler runs now (the last switch's spec). Blocks on the
    /// accepting thread: call it outside the scheduling loop.
    pub fn current(&self) -> Option<PolicySpec> {
        self.shared.slot.lock().ok().map(|s| s.current.clone())
    }

    /// `status` answers with what `read` makes (on the accepting thread)
    /// until the returned guard is dropped; dropping it waits for a read
    /// under way, so what `read` reads may go right after.
    pub fn serve_metrics(&self, read: impl Fn() -> SessionStatus + Send + 'static) -> MetricsAttached<'_> {
        let mut slot = self.shared.metrics.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Some(Box::new(read));
        MetricsAttached { shared: &self.shared }
    }

    /// Called by the scheduling loop every round: one atomic load unless a
    /// switch waits; then switches `engine`'s policy (allocating nothing,
    /// see [`Engine::switch_prepared`]) and wakes the accepting thread,
    /// which logs and answers.
    ///
    /// It never waits for the accepting thread: that thread is scheduled by
    /// this loop, so a lock it holds while waiting for a CPU would stall the
    /// loop until the dispatcher's stall fallback ran it. A busy lock means
    /// "next round".
    pub fn poll(&self, engine: &mut Engine, now_ns: u64) {
        if !self.shared.pending.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut slot) = self.shared.slot.try_lock() else { return };
        self.shared.pending.store(false, Ordering::Release);
        let Some(sw) = slot.request.take() else { return };
        let retired = engine.switch_prepared(sw.prepared, now_ns);
        let old_spec = std::mem::replace(&mut slot.current, sw.spec);
        slot.done = Some((retired, old_spec));
        slot.unlogged = true;
        self.shared.answered.notify_all();
    }

    /// Waits up to `timeout` for the accepting thread to log and answer a
    /// switch the loop made (call it once the loop ended: a session ending
    /// right after a switch would otherwise lose the line and the answer).
    pub fn settle(&self, timeout: Duration) {
        if let Ok(slot) = self.shared.slot.lock() {
            let _ = self.shared.answered.wait_timeout_while(slot, timeout, |s| s.unlogged);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The accepting thread: one request per connection, answered in one line.
fn accept_loop(listener: &UnixListener, shared: &Shared, factory: &PolicyFactory) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let reply = match peer_is_root(&stream) {
            true => serve(&mut stream, shared, factory).unwrap_or_else(|e| format!("error: {e:#}")),
            false => "error: permission denied: scx_relay ctl needs root".to_owned(),
        };
        let _ = stream.write_all(reply.as_bytes());
        let _ = stream.write_all(b"\n");
    }
}

/// Whether the peer runs as root or as this process's user (SO_PEERCRED).
fn peer_is_root(stream: &UnixStream) -> bool {
    getsockopt(stream, PeerCredentials).is_ok_and(|cred| cred.uid() == 0 || cred.uid() == geteuid().as_raw())
}

/// Reads one request and carries it out; the reply line.
fn serve(stream: &mut UnixStream, shared: &Shared, factory: &PolicyFactory) -> Result<String> {
    let text = read_request(stream, REQUEST_DEADLINE)?;
    let (first, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    let mut words = first.split_whitespace();
    let spec = match (words.next(), words.next(), words.next()) {
        (Some("status"), None, _) => return Ok(format!("ok: {}", status_json(shared)?)),
        (Some("policy"), Some(name), None) => PolicySpec::Named(name.to_owned()),
        (Some("config"), None, _) => match RoutingConfig::parse(body) {
            Ok(c) => PolicySpec::Routing(c),
            Err(e) => bail!("{e}; the running configuration is kept"),
        },
        _ => bail!("unknown request '{}' (expected: policy <name>, config, status)", first.trim()),
    };
    let policy: Box<dyn Policy> = Box::new(GuardedPolicy::new(factory.build(&spec)?));
    hand_over(shared, Switch { prepared: PreparedSwitch::new(policy, HANDOVER_CAPACITY), spec })
}

/// The whole request, up to the client's end of writing: refused when it
/// exceeds [`MAX_REQUEST`] bytes or has not arrived within `deadline` of
/// the first read (the server serves one connection at a time, so a client
/// queued behind a slow one waits up to that much longer).
fn read_request(stream: &mut UnixStream, deadline: Duration) -> Result<String> {
    let start = Instant::now();
    let mut request = Vec::new();
    let mut oversized = false;
    let mut chunk = [0u8; 4096];
    let too_slow = || anyhow::anyhow!("the request did not arrive within {} ms; refused", deadline.as_millis());
    loop {
        let left = deadline.checked_sub(start.elapsed()).filter(|d| !d.is_zero()).ok_or_else(too_slow)?;
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return Err(too_slow())
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading the request"),
        };
        if request.len() + n > MAX_REQUEST {
            oversized = true;
        } else if !oversized {
            request.extend_from_slice(&chunk[..n]);
        }
    }
    // Read to the end even when over the limit: a client whose bytes were
    // left unread would get a reset, not the reason.
    if oversized {
        bail!("the request is larger than {MAX_REQUEST} bytes; refused");
    }
    String::from_utf8(request).context("the request is not UTF-8")
}

/// `status`'s JSON (one line): what runs, and the running session's metrics.
fn status_json(shared: &Shared) -> Result<String> {
    let policy = shared.slot.lock().map(|s| describe(&s.current)).unwrap_or_default();
    let session = shared.metrics.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref().map(|read| read());
    let (metrics, bpf_programs) = match session {
        Some(s) => (Some(s.metrics), s.bpf_programs),
        None => (None, BTreeMap::new()),
    };
    Ok(serde_json::to_string(&Status { policy, metrics, bpf_programs })?)
}

/// A short description of what a spec runs.
fn describe(spec: &PolicySpec) -> String {
    match spec {
        PolicySpec::Named(n) => n.clone(),
        PolicySpec::Routing(c) => {
            let groups: Vec<String> = c
                .routes
                .iter()
                .map(|r| &r.group)
                .chain(std::iter::once(&c.default))
                .map(|g| format!("{}: {}", g.name, g.policy))
                .collect();
            format!("routing ({})", groups.join(", "))
        }
    }
}

/// Gives `sw` to the loop, waits for it to switch, then logs and answers
/// (here, not on the loop).
fn hand_over(shared: &Shared, sw: Switch) -> Result<String> {
    let new = sw.prepared.name().to_owned();
    let routing = matches!(sw.spec, PolicySpec::Routing(_)).then(|| describe(&sw.spec));
    let poisoned = || anyhow::anyhow!("internal lock poisoned");
    let mut slot = shared.slot.lock().map_err(|_| poisoned())?;
    slot.done = None;
    slot.request = Some(sw);
    shared.pending.store(true, Ordering::Release);
    let (mut slot, _) =
        shared.answered.wait_timeout_while(slot, SWITCH_TIMEOUT, |s| s.done.is_none()).map_err(|_| poisoned())?;
    let done = match slot.done.take() {
        Some(done) => done,
        None => {
            slot.request = None;
            shared.pending.store(false, Ordering::Release);
            bail!("the scheduler did not take the switch within {} s; nothing changed", SWITCH_TIMEOUT.as_secs())
        }
    };
    drop(slot);
    let (retired, _old_spec) = done;
    let line = format!("policy {} -> {new}, {} tasks handed over", retired.policy.name(), retired.handed);
    log::info!("{line}");
    if let Some(r) = routing {
        log::info!("{r}");
    }
    if let Ok(mut slot) = shared.slot.lock() {
        slot.unlogged = false;
        shared.answered.notify_all();
    }
    Ok(format!("ok: {line}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn factory() -> Arc<PolicyFactory> {
        Arc::new(PolicyFactory {
            cfg: PolicyConfig::default(),
            allow_test_policies: false,
            custom: None,
            cgroup_unresolved: Arc::default(),
        })
    }

    fn request(path: &Path, text: &str) -> String {
        let mut s = UnixStream::connect(path).unwrap();
        s.write_all(text.as_bytes()).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
    }

    fn socket_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("scx_relay-test-{}-{name}.sock", std::process::id()))
    }

    /// The socket is 0600; a stale socket file is replaced; a live one makes
    /// a second server refuse to start; the file goes with the server.
    #[test]
    fn socket_lifecycle() {
        let path = socket_path("life");
        drop(UnixListener::bind(&path).unwrap()); // a stale socket: nothing accepts
        let server = Server::start(&path, factory(), PolicySpec::Named("fifo".into())).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(Server::start(&path, factory(), PolicySpec::Named("fifo".into())), Err(StartError::Busy(_))));
        assert_eq!(request(&path, "status\n"), "ok: {\"policy\":\"fifo\",\"metrics\":null}\n");
        drop(server);
        assert!(!path.exists());
    }

    /// A request over the size limit is refused whole, not cut and applied;
    /// a client that trickles its request is cut off at the deadline and
    /// the next client is served.
    #[test]
    fn oversized_and_slow_requests_are_refused() {
        let path = socket_path("limits");
        let _server = Server::start(&path, factory(), PolicySpec::Named("fifo".into())).unwrap();
        let mut big = String::from("status\n");
        big.push_str(&"#".repeat(MAX_REQUEST));
        let reply = request(&path, &big);
        assert!(reply.starts_with("error: the request is larger than 1048576 bytes"), "{reply}");

        let mut slow = UnixStream::connect(&path).unwrap();
        slow.write_all(b"sta").unwrap(); // and never the rest
        let next = {
            let path = path.clone();
            std::thread::spawn(move || request(&path, "status\n"))
        };
        let mut reply = String::new();
        slow.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("error: the request did not arrive within 2000 ms"), "{reply}");
        assert!(next.join().unwrap().starts_with("ok: {\"policy\":\"fifo\","));
    }

    /// `status` is `ok: ` and one line of JSON: the policy, and the metrics
    /// the attached session makes, read when asked; `null` when no session
    /// is attached (before, and after its guard went).
    #[test]
    fn status_is_json_with_the_sessions_metrics() {
        let path = socket_path("status");
        let routing = RoutingConfig::parse("[[route]]\nname = \"hogs\"\npolicy = \"fifo\"\ncomm = \"a*\"\n").unwrap();
        let server = Server::start(&path, factory(), PolicySpec::Routing(routing)).unwrap();
        let status = |path: &Path| {
            let reply = request(path, "status\n");
            assert_eq!(reply.lines().count(), 1, "{reply}");
            let json = reply.strip_prefix("ok: ").unwrap();
            (serde_json::from_str::<Status>(json).unwrap(), serde_json::from_str::<serde_json::Value>(json).unwrap())
        };
        let (before, _) = status(&path);
        assert_eq!(
            before,
            Status {
                policy: "routing (hogs: fifo, default: deadline)".into(),
                metrics: None,
                bpf_programs: BTreeMap::new()
            }
        );

        let reads = Arc::new(AtomicU64::new(0));
        let attached = {
            let reads = reads.clone();
            server.serve_metrics(move || SessionStatus {
                metrics: Metrics { queued: 10 + reads.fetch_add(1, Ordering::Relaxed), ..Metrics::default() },
                bpf_programs: BTreeMap::new(),
            })
        };
        let (first, json) = status(&path);
        assert_eq!(first.metrics, Some(Metrics { queued: 10, ..Metrics::default() }));
        // Every metric under its --help-stats name, as the scx_stats server serves them.
        let served = serde_json::to_value(Metrics::default()).unwrap();
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<std::collections::BTreeSet<_>>();
        assert_eq!(keys(&json["metrics"]), keys(&served));
        assert_eq!(json["metrics"]["loop_allocs"], 0);
        assert_eq!(keys(&json), ["metrics".to_owned(), "policy".to_owned()].into());
        assert_eq!(status(&path).0.metrics.unwrap().queued, 11, "read again for each request");

        drop(attached);
        assert_eq!(status(&path).0.metrics, None);

        // The BPF programs' counts, when the session has them, by name.
        let attached = server.serve_metrics(|| SessionStatus {
            metrics: Metrics::default(),
            bpf_programs: [("relay_dispatch".to_owned(), ProgramCost { runs: 3, run_ns: 180 })].into(),
        });
        let (with_bpf, json) = status(&path);
        assert_eq!(json["bpf_programs"]["relay_dispatch"]["run_ns"], 180);
        assert_eq!(with_bpf.bpf_programs["relay_dispatch"], ProgramCost { runs: 3, run_ns: 180 });
        drop(attached);
        assert!(status(&path).1.get("bpf_programs").is_none(), "none between sessions");
        drop(server);
    }

    /// A switch request is carried out by the loop's poll: the engine runs
    /// the new policy, the held tasks are handed over, the client gets the
    /// log line; bad requests get one error line and change nothing.
    #[test]
    fn switches_through_the_loop() {
        let path = socket_path("switch");
        let server = Server::start(&path, factory(), PolicySpec::Named("deadline".into())).unwrap();
        let topo = scheduler_core::Topology::uniform(2, 1, 2);
        let mut engine = Engine::new(
            policies::by_name("deadline", &PolicyConfig::default()).unwrap(),
            topo,
            scheduler_core::EngineConfig::default(),
        );
        let client = {
            let path = path.clone();
            std::thread::spawn(move || {
                [
                    request(&path, "policy eevdf\n"),
                    request(&path, "policy cfs\n"),
                    request(&path, "config\n[[route]]\npolicy = \"fifo\"\nshare = \"x\"\ncomm = \"a\"\n"),
                    request(&path, "config\n[[route]]\npolicy = \"fifo\"\ncomm = \"a*\"\n"),
                    request(&path, "frobnicate\n"),
                ]
            })
        };
        while !client.is_finished() {
            server.poll(&mut engine, 0);
            std::thread::sleep(Duration::from_millis(1));
        }
        let replies = client.join().unwrap();
        assert_eq!(replies[0], "ok: policy deadline -> eevdf, 0 tasks handed over\n");
        assert!(replies[1].starts_with("error: unknown policy 'cfs'"), "{}", replies[1]);
        assert!(replies[2].starts_with("error: line 3, field share:"), "{}", replies[2]);
        assert!(replies[2].contains("the running configuration is kept"));
        assert_eq!(replies[3], "ok: policy eevdf -> routing, 0 tasks handed over\n");
        assert!(replies[4].starts_with("error: unknown request 'frobnicate'"), "{}", replies[4]);
        assert!(replies.iter().all(|r| r.lines().count() == 1));
        assert_eq!(engine.policy_name(), "routing");
        assert!(matches!(server.current(), Some(PolicySpec::Routing(_))));
    }
}
