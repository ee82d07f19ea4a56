//! The running scheduler's log: scx_relay's own messages, those of
//! scx_utils and scx_stats (which use the `log` facade) and libbpf's
//! (routed here by [`libbpf_print`]) go through one [`log::Log`], one line
//! per record on stderr, filtered by `--log-level`.
//!
//! A line reads `<time> scx_relay: <tag><source: ><message>`:
//! - `<time>` is UTC, RFC 3339 with milliseconds (`2026-12-03T11:52:01.345Z`);
//!   under journald (stderr is the stream `JOURNAL_STREAM` names, as
//!   systemd's services have it) it is left out, and the line starts with
//!   the record's syslog priority instead (`<4>`), which journald takes
//!   as the entry's priority and strips.
//! - `<tag>` is `warning: `, `debug: ` or `trace: ` by level (none for
//!   errors and information: the exit status says an error ended it).
//! - `<source: >` names a record's crate when it is not scx_relay's:
//!   `libbpf: `, `scx_stats: `.
//!
//! The scheduling loop never logs: a write to stderr may wait for a lock
//! that a thread it schedules holds (Rust's stderr lock, the file's), and
//! that thread waits for the loop (the dispatcher's stall fallback would
//! end it, after `--stall-timeout-ms`).

use std::{
    fmt::Write as _,
    os::fd::AsFd,
    time::{SystemTime, UNIX_EPOCH},
};

use libbpf_rs::PrintLevel;
use log::{Level, LevelFilter, Log, Metadata, Record};

/// How lines are stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// A UTC time first (a terminal, a file).
    Time,
    /// The syslog priority first, no time (journald adds its own).
    Journald,
}

/// `--log-level`'s values: the least severe level shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// And what the scheduler does (start, switches, exit).
    Info,
    /// And details (libbpf's and the verifier's log among them).
    Debug,
    /// Everything.
    Trace,
}

impl From<LogLevel> for LevelFilter {
    fn from(l: LogLevel) -> Self {
        match l {
            LogLevel::Off => LevelFilter::Off,
            LogLevel::Error => LevelFilter::Error,
            LogLevel::Warn => LevelFilter::Warn,
            LogLevel::Info => LevelFilter::Info,
            LogLevel::Debug => LevelFilter::Debug,
            LogLevel::Trace => LevelFilter::Trace,
        }
    }
}

struct Logger {
    stamp: Stamp,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        let level = record_level(record.level(), record.target(), record.args().as_str());
        if level > log::max_level() {
            return;
        }
        let line = format_line(self.stamp, SystemTime::now(), level, record.target(), record.args());
        write_stderr(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Writes `bytes` to stderr with write(2) itself, not through Rust's
/// stderr, whose lock a thread the loop schedules may hold while it waits
/// for a CPU (the loop logs its start-up line, after attaching). One call
/// per line unless the kernel takes less; a failed write has nowhere to be
/// reported.
fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match nix::unistd::write(std::io::stderr().as_fd(), bytes) {
            Ok(0) => return,
            Ok(n) => bytes = &bytes[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// A command line's one-line error (`scx_relay: <line>`), printed before
/// the logger is installed; under journald with the error priority, so
/// that a service refused for its options says why at `-p err`.
pub fn command_error(line: &str) {
    let priority = if under_journald() { "<3>" } else { "" };
    eprintln!("{priority}scx_relay: {line}");
}

/// Installs the logger (once per process; later calls only set the level)
/// and routes libbpf's messages to it.
pub fn init(level: LevelFilter) {
    let stamp = if under_journald() { Stamp::Journald } else { Stamp::Time };
    // Fails only if a logger is installed already (a second session of a
    // program built on the library): that one stays.
    let _ = log::set_logger(Box::leak(Box::new(Logger { stamp })));
    log::set_max_level(level);
    route_libbpf();
}

/// Sends libbpf's messages to the log (again, after something captured
/// them: the verifier report).
pub fn route_libbpf() {
    libbpf_rs::set_print(Some((PrintLevel::Debug, libbpf_print)));
}

/// libbpf's messages as records of source `libbpf`: its warnings as
/// warnings, its information as debug (libbpf says much while loading),
/// its debug output (the verifier's log among it) as trace. One warning
/// of every start is debug too: [`SKELETON_LINK_WARNING`].
fn libbpf_print(level: PrintLevel, msg: String) {
    // libbpf's own prefix and newline: the line has both already.
    let msg = msg.strip_prefix("libbpf: ").unwrap_or(&msg).trim_end();
    let level = libbpf_level(level, msg);
    log::log!(target: "libbpf", level, "{msg}");
}

/// The level of a libbpf message (`msg` without libbpf's prefix).
fn libbpf_level(level: PrintLevel, msg: &str) -> Level {
    match level {
        PrintLevel::Warn if msg.ends_with(SKELETON_LINK_WARNING) => Level::Debug,
        PrintLevel::Warn => Level::Warn,
        PrintLevel::Info => Level::Debug,
        PrintLevel::Debug => Level::Trace,
    }
}

/// The level a record of `target` with the fixed text `msg` is logged at:
/// its own, except scx_utils' [`NO_CAPACITY_WARNING`], which is debug.
fn record_level(level: Level, target: &str, msg: Option<&str>) -> Level {
    if level == Level::Warn && target == "scx_utils::topology" && msg == Some(NO_CAPACITY_WARNING) {
        return Level::Debug;
    }
    level
}

/// What `scx_utils::Topology::new()` warns, at every session's start (once
/// per NUMA node), where no CPU exports a capacity (no `cpu_capacity`,
/// cpufreq or CPPC files: a guest under QEMU without cpufreq, say): it then
/// takes every CPU as capacity 1024, which is what a machine without big
/// and little cores is (`src/run/topology.rs`).
const NO_CAPACITY_WARNING: &str = "CPU capacity information is not available under sysfs.";

/// What libbpf warns, on every start, of the struct_ops map: scx_utils'
/// `scx_ops_attach!` attaches the skeleton (`bpf_object__attach_skeleton`,
/// which warns for a struct_ops map whose link slot the skeleton left
/// empty) and then the map itself (`attach_struct_ops`): nothing is wrong.
const SKELETON_LINK_WARNING: &str = "BPF map skeleton link is uninitialized";

/// Whether stderr is the journal's stream: `JOURNAL_STREAM` is
/// `<device>:<inode>` of the stream systemd connected (systemd.exec(5)),
/// and still stderr's (a child whose stderr was redirected inherits the
/// variable, not the stream).
pub fn under_journald() -> bool {
    let Ok(var) = std::env::var("JOURNAL_STREAM") else { return false };
    let Ok(st) = nix::sys::stat::fstat(std::io::stderr().as_fd()) else { return false };
    journal_stream_matches(&var, st.st_dev, st.st_ino)
}

/// Whether `JOURNAL_STREAM`'s `<device>:<inode>` names this device and inode.
fn journal_stream_matches(var: &str, dev: u64, ino: u64) -> bool {
    var.split_once(':').is_some_and(|(d, i)| d.parse() == Ok(dev) && i.parse() == Ok(ino))
}

/// The syslog priority of a level (sd-daemon(3)'s `<N>` prefixes).
fn syslog_priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// One record as a line, newline included.
fn format_line(stamp: Stamp, now: SystemTime, level: Level, target: &str, args: &std::fmt::Arguments<'_>) -> String {
    let mut line = String::new();
    match stamp {
        Stamp::Time => {
            let _ = write!(line, "{} ", utc_rfc3339_ms(now));
        }
        Stamp::Journald => {
            let _ = write!(line, "<{}>", syslog_priority(level));
        }
    }
    line.push_str("scx_relay: ");
    line.push_str(match level {
        Level::Warn => "warning: ",
        Level::Debug => "debug: ",
        Level::Trace => "trace: ",
        Level::Error | Level::Info => "",
    });
    let source = target.split("::").next().unwrap_or(target);
    if source != "scx_relay" && !source.is_empty() {
        let _ = write!(line, "{source}: ");
    }
    let _ = writeln!(line, "{args}");
    if stamp == Stamp::Journald {
        // journald reads a priority per line: every line of a record of
        // several (a kernel dump, a verifier log) gets it.
        let prefix = format!("\n<{}>", syslog_priority(level));
        let body = &line[..line.len() - 1];
        line = format!("{}\n", body.replace('\n', &prefix));
    }
    line
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC); the epoch for a time before it.
fn utc_rfc3339_ms(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days(secs / 86_400);
    let s = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", s / 3600, s / 60 % 60, s % 60, since.subsec_millis())
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(secs: u64, ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms)
    }

    #[test]
    fn times_are_utc_rfc3339_with_milliseconds() {
        assert_eq!(utc_rfc3339_ms(at(0, 0)), "1970-01-01T00:00:00.000Z");
        // `date -u -d @1796298722` is Thu Dec  3 11:52:02 UTC 2026.
        assert_eq!(utc_rfc3339_ms(at(1_796_298_722, 345)), "2026-12-03T11:52:02.345Z");
        // A leap day, and the day after.
        assert_eq!(utc_rfc3339_ms(at(951_782_400, 0)), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc_rfc3339_ms(at(951_868_799, 999)), "2000-02-29T23:59:59.999Z");
        assert_eq!(utc_rfc3339_ms(at(951_868_800, 0)), "2000-03-01T00:00:00.000Z");
        assert_eq!(utc_rfc3339_ms(UNIX_EPOCH - Duration::from_secs(1)), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn lines_carry_time_or_priority_tag_and_source() {
        let t = at(1_796_298_722, 5);
        let line = |stamp, level, target: &str, msg: &str| format_line(stamp, t, level, target, &format_args!("{msg}"));
        assert_eq!(
            line(Stamp::Time, Level::Info, "scx_relay::run::scheduler", "scheduling"),
            "2026-12-03T11:52:02.005Z scx_relay: scheduling\n"
        );
        assert_eq!(
            line(Stamp::Time, Level::Warn, "scx_relay", "mlockall failed"),
            "2026-12-03T11:52:02.005Z scx_relay: warning: mlockall failed\n"
        );
        assert_eq!(line(Stamp::Journald, Level::Error, "scx_relay::run", "ejected"), "<3>scx_relay: ejected\n");
        assert_eq!(line(Stamp::Journald, Level::Warn, "libbpf", "x"), "<4>scx_relay: warning: libbpf: x\n");
        assert_eq!(line(Stamp::Journald, Level::Info, "scx_stats::server", "y"), "<6>scx_relay: scx_stats: y\n");
        assert_eq!(line(Stamp::Journald, Level::Debug, "scx_relay", "z"), "<7>scx_relay: debug: z\n");
        assert_eq!(line(Stamp::Journald, Level::Trace, "libbpf", "v"), "<7>scx_relay: trace: libbpf: v\n");
        // A record of several lines: every line keeps the priority under
        // journald; elsewhere only the first is stamped.
        assert_eq!(
            line(Stamp::Journald, Level::Error, "scx_relay", "dump:\na\nb"),
            "<3>scx_relay: dump:\n<3>a\n<3>b\n"
        );
        assert_eq!(
            line(Stamp::Time, Level::Error, "scx_relay", "dump:\na"),
            "2026-12-03T11:52:02.005Z scx_relay: dump:\na\n"
        );
    }

    /// scx_utils' missing-capacity warning is debug; any other record keeps its level.
    #[test]
    fn record_levels() {
        let topo = "scx_utils::topology";
        assert_eq!(record_level(Level::Warn, topo, Some(NO_CAPACITY_WARNING)), Level::Debug);
        assert_eq!(record_level(Level::Warn, topo, Some("other")), Level::Warn);
        assert_eq!(record_level(Level::Warn, topo, None), Level::Warn);
        assert_eq!(record_level(Level::Warn, "scx_relay", Some(NO_CAPACITY_WARNING)), Level::Warn);
        assert_eq!(record_level(Level::Error, topo, Some(NO_CAPACITY_WARNING)), Level::Error);
    }

    #[test]
    fn libbpf_levels_are_mapped() {
        let skeleton = "map 'relay_ops': BPF map skeleton link is uninitialized";
        assert_eq!(libbpf_level(PrintLevel::Warn, skeleton), Level::Debug);
        assert_eq!(libbpf_level(PrintLevel::Warn, "prog 'x': failed to load: -EACCES"), Level::Warn);
        assert_eq!(libbpf_level(PrintLevel::Info, "x"), Level::Debug);
        assert_eq!(libbpf_level(PrintLevel::Debug, "x"), Level::Trace);
    }

    #[test]
    fn journal_stream_must_name_stderr() {
        assert!(journal_stream_matches("8:1234", 8, 1234));
        assert!(!journal_stream_matches("8:1234", 8, 1235));
        assert!(!journal_stream_matches("9:1234", 8, 1234));
        assert!(!journal_stream_matches("", 8, 1234));
        assert!(!journal_stream_matches("8-1234", 8, 1234));
    }

    #[test]
    fn levels_map_to_filters() {
        assert_eq!(LevelFilter::from(LogLevel::Off), LevelFilter::Off);
        assert_eq!(LevelFilter::from(LogLevel::Warn), LevelFilter::Warn);
        assert_eq!(LevelFilter::from(LogLevel::Trace), LevelFilter::Trace);
    }
}
