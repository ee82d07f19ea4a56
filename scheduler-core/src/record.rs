//! The file `scx_relay record` writes: the scheduling events of a real
//! machine ([`Kind`]: a task becomes runnable, starts and stops running,
//! leaves the runqueue; a user decision is applied; the fast path did not
//! place a granted wakeup, or revoked a grant), compact, in the order
//! the dispatcher's `record` ring buffer gave them.
//!
//! Layout: [`MAGIC`], then unsigned LEB128 varints: the format version
//! ([`VERSION`]), the number of CPUs, the start (ns of CLOCK_MONOTONIC),
//! and, from version 3, the dispatcher's flags ([`HOG_RULE`]).
//! Then records, each led by a tag byte:
//! - [`TAG_TASK`]: a task's name: pid and tgid (zigzag varints), the
//!   name's length (one byte) and bytes. Written before a pid's first event
//!   and again whenever its name or thread group changes (an `exec`, a
//!   reused pid).
//! - [`TAG_SESSION`]: a scheduler session starts (the first, and each
//!   restart after CPU hotplug): its time (varint, ns). What was running
//!   or waiting at the end of one session does not carry into the next.
//! - `TAG_EVENT | kind`: an event: its time less the previous event's
//!   (zigzag: the ring buffer's order is the order events were reserved in,
//!   which across CPUs can differ from their timestamps' by a little), then
//!   cpu, pid, flags, arg, arg2 (`intf.h`'s `relay_record_event` says what
//!   each kind puts there).
//! - [`TAG_END`]: the totals: events written, events the dispatcher lost
//!   (its ring buffer was full), the end (ns). A file without it was cut
//!   short; [`read`] returns what it holds, with `end` empty.
//!
//! About 11 bytes an event; the dispatcher's own record is 56.

use std::{collections::HashMap, io::Write};

use thiserror::Error;

use crate::{wire::RawRecordEvent, TASK_COMM_LEN};

/// The file's first bytes.
pub const MAGIC: &[u8; 16] = b"SCX_RELAY RECORD";
/// The format version this module writes; it reads it and the older ones
/// down to [`OLDEST_VERSION`]. Version 4 (2026-12-07) adds the kinds
/// [`Kind::FastMiss`] and [`Kind::Revoke`] (a reader of version 3 stops at
/// the version, not at the first event of a kind it does not know).
/// Version 3 (2026-12-06) marks a `runnable`
/// that ran in interrupt context ([`RUNNABLE_IN_INTERRUPT`]); in older
/// files that bit is never set, whatever the context was. Version 2
/// (2026-12-05) gives `running` its `arg`, the task's vtime
/// ([`Kind::Running`]); version 1 has 0 there.
pub const VERSION: u64 = 4;
/// The first format version whose `runnable` events carry
/// [`RUNNABLE_IN_INTERRUPT`], and whose header the dispatcher's flags.
pub const INTERRUPT_MARK_VERSION: u64 = 3;
/// A dispatcher flag of the header: the user hand-off preempted CPU hogs
/// at once (the hog rule, on unless `--no-preempt-hogs`).
pub const HOG_RULE: u64 = 1;
/// A `runnable`'s flag (beside the low bits of `SCX_ENQ_*`, none of which
/// is this high): the call ran in interrupt context (a hard interrupt, an
/// NMI, or a softirq being served), so the task running on its CPU did not
/// wake the task: a timer did, or a device (`intf.h`'s
/// `RELAY_REC_IN_INTERRUPT`).
pub const RUNNABLE_IN_INTERRUPT: u32 = 1 << 30;
/// The oldest format version [`read`] reads.
pub const OLDEST_VERSION: u64 = 1;
/// A task's name follows.
pub const TAG_TASK: u8 = 0x01;
/// A session starts.
pub const TAG_SESSION: u8 = 0x02;
/// An event follows; the low bits are its [`Kind`].
pub const TAG_EVENT: u8 = 0x10;
/// The totals follow; nothing after them.
pub const TAG_END: u8 = 0xff;

/// What happened (`enum relay_record_kind` of `intf.h`, same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Kind {
    /// The task joined the runqueue. `arg`: its load weight; `arg2`: CPUs it
    /// may use; `flags`: `SCX_ENQ_*` (`ENQ_WAKEUP`: a wakeup); `cpu`: the
    /// CPU the wakeup ran on (the waker's, or an interrupt's; files
    /// recorded before this was so carry the task's CPU there), and
    /// [`RUNNABLE_IN_INTERRUPT`] when it ran in interrupt context.
    Runnable = 1,
    /// The task starts running on `cpu`. `flags` 1: the user scheduler;
    /// `arg`: its vtime then (`p->scx.dsq_vtime`: the key of the user
    /// decision that placed it, which the tick compares with what waits;
    /// 0 in files of format version 1).
    Running = 2,
    /// The task stops running on `cpu`. `flags` 1: it stays runnable.
    Stopping = 3,
    /// The task left the runqueue. `flags`: `SCX_DEQ_*`.
    Quiescent = 4,
    /// A user decision for the task was applied on `cpu`. `arg`: its slice
    /// (ns); `arg2`: the CPU it named (-1: any).
    Decision = 5,
    /// A wakeup of a task the policy had granted the fast path (a grant
    /// word for its pid), or whose grant was revoked with none found valid
    /// since, was not fast-placed: it went to user space (or, if the
    /// hand-off failed, was dispatched in the kernel). `flags`: why
    /// ([`FastMiss`]); `arg`: the grant word (the revoked one).
    FastMiss = 6,
    /// The dispatcher revoked the task's grant. `flags`: why
    /// ([`RevokeWhy`]); `arg`: the CPU time that went over (ns); `arg2`:
    /// the bound it went over (µs).
    Revoke = 7,
}

/// Why a granted wakeup was not fast-placed (a [`Kind::FastMiss`]'s
/// `flags`; `enum relay_fast_miss` of `intf.h`, same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum FastMiss {
    /// Its grant was revoked, and no valid grant was found at a wakeup
    /// since (the revoked one kept, or withdrawn: a policy grants again
    /// only after a while).
    Revoked = 1,
    /// Its weight is below nice 0's now.
    Niced = 2,
    /// No CPU it may take at once or be deferred on.
    NoCpu = 3,
    /// Another fast-placed task waits for the CPU chosen.
    SlotTaken = 4,
}

/// Why the dispatcher revoked a grant (a [`Kind::Revoke`]'s `flags`;
/// `enum relay_revoke_why` of `intf.h`, same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum RevokeWhy {
    /// A fast-placed wakeup's burst reached its budget.
    Budget = 1,
    /// Its fast-placed runs went over their share of a CPU in the window.
    Share = 2,
}

impl FastMiss {
    /// Every reason, in number order.
    pub const ALL: [FastMiss; 4] = [FastMiss::Revoked, FastMiss::Niced, FastMiss::NoCpu, FastMiss::SlotTaken];

    /// The reason numbered `n`.
    pub fn from_u32(n: u32) -> Option<FastMiss> {
        FastMiss::ALL.into_iter().find(|k| *k as u32 == n)
    }
}

impl RevokeWhy {
    /// The reason numbered `n`.
    pub fn from_u32(n: u32) -> Option<RevokeWhy> {
        [RevokeWhy::Budget, RevokeWhy::Share].into_iter().find(|k| *k as u32 == n)
    }
}

impl Kind {
    /// Every kind, in number order.
    pub const ALL: [Kind; 7] =
        [Kind::Runnable, Kind::Running, Kind::Stopping, Kind::Quiescent, Kind::Decision, Kind::FastMiss, Kind::Revoke];

    /// The kind numbered `n`.
    pub fn from_u32(n: u32) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u32 == n)
    }

    /// Its name, as summaries print it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Runnable => "runnable",
            Kind::Running => "running",
            Kind::Stopping => "stopping",
            Kind::Quiescent => "quiescent",
            Kind::Decision => "decision",
            Kind::FastMiss => "fast_miss",
            Kind::Revoke => "revoke",
        }
    }
}

/// One recorded event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// When (ns of CLOCK_MONOTONIC).
    pub ts_ns: u64,
    /// What.
    pub kind: Kind,
    /// The task (thread id).
    pub pid: i32,
    /// The CPU it happened on.
    pub cpu: i32,
    /// The kind's flags.
    pub flags: u32,
    /// The kind's first argument.
    pub arg: u64,
    /// The kind's second argument.
    pub arg2: i32,
}

impl Event {
    /// A `runnable` that is a wakeup (`SCX_ENQ_WAKEUP`).
    pub fn is_wakeup(&self) -> bool {
        self.kind == Kind::Runnable && self.flags & crate::task::ENQ_WAKEUP as u32 != 0
    }

    /// A `runnable` that ran in interrupt context ([`RUNNABLE_IN_INTERRUPT`]).
    pub fn in_interrupt(&self) -> bool {
        self.kind == Kind::Runnable && self.flags & RUNNABLE_IN_INTERRUPT != 0
    }
}

/// A task's name from some point of the recording on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskName {
    /// Thread id.
    pub pid: i32,
    /// Thread-group id.
    pub tgid: i32,
    /// Command name.
    pub comm: String,
    /// The index in [`Recording::events`] of the first event under this name.
    pub from_event: usize,
}

/// A scheduler session's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    /// When (ns).
    pub ts_ns: u64,
    /// The index in [`Recording::events`] of its first event.
    pub from_event: usize,
}

/// The totals the recorder wrote last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct End {
    /// Events written.
    pub events: u64,
    /// Events the dispatcher lost: its ring buffer was full.
    pub dropped: u64,
    /// When recording stopped (ns).
    pub end_ns: u64,
}

/// Why a file is no recording.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    /// It does not start with [`MAGIC`].
    #[error("not a scx_relay recording (it does not start with {:?})", String::from_utf8_lossy(MAGIC))]
    BadMagic,
    /// A format version this build does not read.
    #[error("recording format version {0}, this scx_relay reads versions {OLDEST_VERSION} to {VERSION}")]
    Version(u64),
    /// The header is cut short.
    #[error("the recording's header is cut short")]
    ShortHeader,
    /// A record's tag is none of the known ones.
    #[error("unknown record tag {tag:#04x} at byte {at}")]
    UnknownTag {
        /// The tag.
        tag: u8,
        /// Where.
        at: usize,
    },
    /// A value is out of its range.
    #[error("a value out of range at byte {0}")]
    OutOfRange(usize),
    /// Bytes follow the totals.
    #[error("{0} bytes after the end record")]
    TrailingBytes(usize),
    /// The totals count other events than the file holds.
    #[error("the end record counts {said} events, the file holds {read}")]
    Count {
        /// What the totals say.
        said: u64,
        /// What was read.
        read: u64,
    },
}

/// Writes a recording: [`Writer::event`] per event from the dispatcher,
/// [`Writer::finish`] at the end.
pub struct Writer<W: Write> {
    out: W,
    prev_ts: u64,
    /// Each pid's thread group and name as last written.
    names: HashMap<i32, (i32, [u8; TASK_COMM_LEN])>,
    events: u64,
    buf: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// Starts a recording of a machine with `nr_cpus` CPUs at `start_ns`,
    /// whose dispatcher ran with `dispatcher_flags` ([`HOG_RULE`]).
    pub fn new(mut out: W, nr_cpus: u32, start_ns: u64, dispatcher_flags: u64) -> std::io::Result<Self> {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(MAGIC);
        put_u(&mut buf, VERSION);
        put_u(&mut buf, u64::from(nr_cpus));
        put_u(&mut buf, start_ns);
        put_u(&mut buf, dispatcher_flags);
        out.write_all(&buf)?;
        buf.clear();
        Ok(Self { out, prev_ts: start_ns, names: HashMap::new(), events: 0, buf })
    }

    /// Writes one event as the dispatcher gave it (and its task's name
    /// first, if new or changed). An unknown kind is skipped: `Ok(false)`.
    pub fn event(&mut self, e: &RawRecordEvent) -> std::io::Result<bool> {
        let Some(kind) = Kind::from_u32(e.kind) else { return Ok(false) };
        self.buf.clear();
        // The name up to its first NUL: what follows is not the name.
        let len = e.comm.iter().position(|&b| b == 0).unwrap_or(TASK_COMM_LEN);
        let mut comm = [0u8; TASK_COMM_LEN];
        comm[..len].copy_from_slice(&e.comm[..len]);
        if self.names.get(&e.pid) != Some(&(e.tgid, comm)) {
            self.names.insert(e.pid, (e.tgid, comm));
            self.buf.push(TAG_TASK);
            put_i(&mut self.buf, i64::from(e.pid));
            put_i(&mut self.buf, i64::from(e.tgid));
            self.buf.push(len as u8);
            self.buf.extend_from_slice(&comm[..len]);
        }
        self.buf.push(TAG_EVENT | kind as u8);
        put_i(&mut self.buf, e.ts.wrapping_sub(self.prev_ts) as i64);
        self.prev_ts = e.ts;
        put_i(&mut self.buf, i64::from(e.cpu));
        put_i(&mut self.buf, i64::from(e.pid));
        put_u(&mut self.buf, u64::from(e.flags));
        put_u(&mut self.buf, e.arg);
        put_i(&mut self.buf, i64::from(e.arg2));
        self.out.write_all(&self.buf)?;
        self.events += 1;
        Ok(true)
    }

    /// Marks the start of a scheduler session at `ts_ns`.
    pub fn session(&mut self, ts_ns: u64) -> std::io::Result<()> {
        self.buf.clear();
        self.buf.push(TAG_SESSION);
        put_u(&mut self.buf, ts_ns);
        self.out.write_all(&self.buf)
    }

    /// Events written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Writes the totals (`dropped`: events the dispatcher lost) and
    /// returns the output, flushed.
    pub fn finish(mut self, dropped: u64, end_ns: u64) -> std::io::Result<W> {
        self.buf.clear();
        self.buf.push(TAG_END);
        put_u(&mut self.buf, self.events);
        put_u(&mut self.buf, dropped);
        put_u(&mut self.buf, end_ns);
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One event of [`synthetic`]: `(ts_ns, kind, pid, cpu, flags, arg, arg2)`.
pub type SyntheticEvent = (u64, Kind, i32, i32, u32, u64, i32);

/// The bytes of a recording of `events` on `nr_cpus` CPUs, from time 0 to
/// `end_ns`, each task named `task<pid>` in thread group `pid`: for tests
/// and examples that need a recording without a kernel.
pub fn synthetic(nr_cpus: u32, end_ns: u64, events: &[SyntheticEvent]) -> std::io::Result<Vec<u8>> {
    let mut w = Writer::new(Vec::new(), nr_cpus, 0, HOG_RULE)?;
    for &(ts, kind, pid, cpu, flags, arg, arg2) in events {
        let mut comm = [0u8; TASK_COMM_LEN];
        let name = format!("task{pid}");
        let len = name.len().min(TASK_COMM_LEN - 1);
        comm[..len].copy_from_slice(&name.as_bytes()[..len]);
        w.event(&RawRecordEvent { ts, arg, pid, tgid: pid, cpu, kind: kind as u32, flags, arg2, comm })?;
    }
    w.finish(0, end_ns)
}

/// A recording, read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recording {
    /// Its format version ([`VERSION`]; what it holds depends on it).
    pub version: u64,
    /// CPUs of the recorded machine.
    pub nr_cpus: u32,
    /// When recording started (ns).
    pub start_ns: u64,
    /// The dispatcher's flags ([`HOG_RULE`]); `None` before format
    /// version 3, which does not say.
    pub dispatcher_flags: Option<u64>,
    /// The events, in file order.
    pub events: Vec<Event>,
    /// The tasks' names, in file order (a pid again when its name changed).
    pub names: Vec<TaskName>,
    /// The scheduler sessions, in order.
    pub sessions: Vec<Session>,
    /// The totals; `None` when the file was cut short.
    pub end: Option<End>,
}

/// Reads a recording. A file cut short (no totals, or a last record cut in
/// the middle) gives what it holds up to its last whole record.
pub fn read(bytes: &[u8]) -> Result<Recording, RecordError> {
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or(RecordError::BadMagic)?;
    let mut r = Reader { bytes: rest, at: 0, base: MAGIC.len(), error: None };
    let version = r.u().ok_or(RecordError::ShortHeader)?;
    if !(OLDEST_VERSION..=VERSION).contains(&version) {
        return Err(RecordError::Version(version));
    }
    let nr_cpus = r.u().ok_or(RecordError::ShortHeader)?;
    let start_ns = r.u().ok_or(RecordError::ShortHeader)?;
    let dispatcher_flags = match version >= INTERRUPT_MARK_VERSION {
        true => Some(r.u().ok_or(RecordError::ShortHeader)?),
        false => None,
    };
    let mut rec = Recording {
        dispatcher_flags,
        version,
        nr_cpus: u32::try_from(nr_cpus)
            .ok()
            .filter(|n| (1..=crate::wire::MAX_CPUS).contains(n))
            .ok_or(RecordError::OutOfRange(r.pos()))?,
        start_ns,
        ..Recording::default()
    };
    let mut ts = start_ns;
    while r.at < r.bytes.len() {
        let more = r.record(&mut rec, &mut ts);
        if let Some(err) = r.error.take() {
            return Err(err);
        }
        match more {
            Ok(true) => {}
            // The totals: nothing may follow.
            Ok(false) if r.at < r.bytes.len() => return Err(RecordError::TrailingBytes(r.bytes.len() - r.at)),
            Ok(false) => {
                let read = rec.events.len() as u64;
                if let Some(end) = rec.end.filter(|end| end.events != read) {
                    return Err(RecordError::Count { said: end.events, read });
                }
            }
            // A last record cut in the middle: the file was cut short.
            Err(Cut) => break,
        }
    }
    Ok(rec)
}

/// The bytes ran out inside a record.
struct Cut;

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Where `bytes` starts in the file.
    base: usize,
    /// What made the last record malformed (not merely cut short).
    error: Option<RecordError>,
}

impl Reader<'_> {
    fn pos(&self) -> usize {
        self.base + self.at
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// An unsigned LEB128 varint; `None` when the bytes run out (or, with
    /// `error` set, when it is longer than a u64 holds).
    fn u(&mut self) -> Option<u64> {
        let at = self.pos();
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                break;
            }
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        self.error = Some(RecordError::OutOfRange(at));
        None
    }

    fn i(&mut self) -> Option<i64> {
        self.u().map(|z| (z >> 1) as i64 ^ -((z & 1) as i64))
    }
}

impl Reader<'_> {
    /// Reads one record into `rec`: `Ok(false)` after the totals.
    fn record(&mut self, rec: &mut Recording, ts: &mut u64) -> Result<bool, Cut> {
        let at = self.pos();
        let tag = self.byte().ok_or(Cut)?;
        match tag {
            TAG_TASK => {
                let pid = self.i32()?;
                let tgid = self.i32()?;
                let len = usize::from(self.byte().ok_or(Cut)?);
                let name = self.bytes.get(self.at..self.at + len).ok_or(Cut)?;
                self.at += len;
                rec.names.push(TaskName {
                    pid,
                    tgid,
                    comm: String::from_utf8_lossy(name).into_owned(),
                    from_event: rec.events.len(),
                });
                Ok(true)
            }
            TAG_SESSION => {
                let ts_ns = self.u().ok_or(Cut)?;
                rec.sessions.push(Session { ts_ns, from_event: rec.events.len() });
                Ok(true)
            }
            TAG_END => {
                let events = self.u().ok_or(Cut)?;
                let dropped = self.u().ok_or(Cut)?;
                let end_ns = self.u().ok_or(Cut)?;
                rec.end = Some(End { events, dropped, end_ns });
                Ok(false)
            }
            t if t & 0xf0 == TAG_EVENT => {
                let Some(kind) = Kind::from_u32(u32::from(t & 0x0f)) else {
                    self.error = Some(RecordError::UnknownTag { tag: t, at });
                    return Ok(true);
                };
                let delta = self.i().ok_or(Cut)?;
                let cpu = self.i32()?;
                let pid = self.i32()?;
                let flags = self.u().ok_or(Cut)?;
                let arg = self.u().ok_or(Cut)?;
                let arg2 = self.i32()?;
                *ts = ts.wrapping_add(delta as u64);
                let Ok(flags) = u32::try_from(flags) else {
                    self.error = Some(RecordError::OutOfRange(at));
                    return Ok(true);
                };
                rec.events.push(Event { ts_ns: *ts, kind, pid, cpu, flags, arg, arg2 });
                Ok(true)
            }
            t => {
                self.error = Some(RecordError::UnknownTag { tag: t, at });
                Ok(true)
            }
        }
    }

    fn i32(&mut self) -> Result<i32, Cut> {
        let at = self.pos();
        let v = self.i().ok_or(Cut)?;
        i32::try_from(v).or_else(|_| {
            self.error = Some(RecordError::OutOfRange(at));
            Ok(0)
        })
    }
}

fn put_u(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_i(out: &mut Vec<u8>, v: i64) {
    put_u(out, ((v << 1) ^ (v >> 63)) as u64);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn raw(ts: u64, kind: Kind, pid: i32, cpu: i32, comm: &str) -> RawRecordEvent {
        let mut name = [0u8; TASK_COMM_LEN];
        name[..comm.len()].copy_from_slice(comm.as_bytes());
        RawRecordEvent { ts, arg: 1024, pid, tgid: pid, cpu, kind: kind as u32, flags: 1, arg2: -1, comm: name }
    }

    fn sample() -> (Vec<RawRecordEvent>, Vec<u8>) {
        let events = vec![
            raw(1_000_500, Kind::Runnable, 40, 1, "hackbench"),
            raw(1_000_400, Kind::Decision, 40, 0, "hackbench"), // reserved later, stamped earlier
            raw(1_002_000, Kind::Running, 40, 2, "hackbench"),
            raw(1_009_000, Kind::Stopping, 40, 2, "hackbench"),
            raw(1_010_000, Kind::Runnable, 40, 3, "sh"), // an exec renamed it
            raw(u64::from(u32::MAX) * 9, Kind::Quiescent, i32::MAX, 1023, "a-name-15-bytes"),
        ];
        let mut w = Writer::new(Vec::new(), 4, 1_000_000, HOG_RULE).unwrap();
        w.session(1_000_001).unwrap();
        for e in &events {
            assert!(w.event(e).unwrap());
        }
        assert!(!w.event(&RawRecordEvent { kind: 9, ..events[0] }).unwrap(), "an unknown kind is skipped");
        assert_eq!(w.events(), 6);
        (events, w.finish(7, 2_000_000).unwrap())
    }

    /// What was written is read back: every field, times out of order
    /// included, the names when they change, the totals.
    #[test]
    fn round_trip() {
        let (events, bytes) = sample();
        let rec = read(&bytes).unwrap();
        assert_eq!((rec.nr_cpus, rec.start_ns), (4, 1_000_000));
        assert_eq!(rec.end, Some(End { events: 6, dropped: 7, end_ns: 2_000_000 }));
        assert_eq!(rec.events.len(), events.len());
        for (got, want) in rec.events.iter().zip(&events) {
            assert_eq!(
                (got.ts_ns, got.kind as u32, got.pid, got.cpu, got.flags, got.arg, got.arg2),
                (want.ts, want.kind, want.pid, want.cpu, want.flags, want.arg, want.arg2)
            );
        }
        let names: Vec<_> = rec.names.iter().map(|n| (n.pid, n.comm.as_str(), n.from_event)).collect();
        assert_eq!(names, [(40, "hackbench", 0), (40, "sh", 4), (i32::MAX, "a-name-15-bytes", 5)]);
        assert_eq!(rec.sessions, [Session { ts_ns: 1_000_001, from_event: 0 }]);
        assert!(bytes.len() < 6 * 20 + 64, "{} bytes for 6 events", bytes.len());
    }

    /// A file cut anywhere gives the whole records before the cut and no
    /// totals; a cut in the header is an error; nothing panics.
    #[test]
    fn cut_short() {
        let (_, bytes) = sample();
        let full = read(&bytes).unwrap();
        for len in 0..bytes.len() {
            match read(&bytes[..len]) {
                Ok(rec) => {
                    assert!(rec.end.is_none(), "cut at {len}");
                    assert_eq!(rec.events[..], full.events[..rec.events.len()], "cut at {len}");
                }
                // The header: version, CPUs, start (3 bytes), flags.
                Err(e) => assert!(len < MAGIC.len() + 6, "cut at {len}: {e}"),
            }
        }
        assert_eq!(read(&bytes[..MAGIC.len() - 1]), Err(RecordError::BadMagic));
        assert_eq!(read(&bytes[..MAGIC.len()]), Err(RecordError::ShortHeader));
    }

    /// Malformed files are refused with what is wrong and where.
    #[test]
    fn malformed() {
        let (_, bytes) = sample();
        assert_eq!(read(b"not a recording at all"), Err(RecordError::BadMagic));
        for version in [0, VERSION + 1] {
            let mut other = MAGIC.to_vec();
            other.extend_from_slice(&[version as u8, 4, 0]);
            assert_eq!(read(&other), Err(RecordError::Version(version)));
        }
        // Version 1 (no vtime on `running`) is still read, and has no
        // dispatcher flags; version 3 has them.
        let mut v1 = MAGIC.to_vec();
        v1.extend_from_slice(&[1, 4, 0]);
        assert_eq!(read(&v1).map(|r| (r.version, r.nr_cpus, r.dispatcher_flags)), Ok((1, 4, None)));
        let mut v3 = MAGIC.to_vec();
        v3.extend_from_slice(&[3, 4, 0]);
        assert_eq!(read(&v3), Err(RecordError::ShortHeader), "no flags");
        v3.push(HOG_RULE as u8);
        assert_eq!(read(&v3).map(|r| (r.version, r.dispatcher_flags)), Ok((3, Some(HOG_RULE))));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(read(&trailing), Err(RecordError::TrailingBytes(1)));
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&[1, 4, 0]);
        let mut bad = header.clone();
        bad.push(0x42);
        assert_eq!(read(&bad), Err(RecordError::UnknownTag { tag: 0x42, at: MAGIC.len() + 3 }));
        let mut bad_kind = header.clone();
        bad_kind.push(TAG_EVENT | 9);
        assert!(matches!(read(&bad_kind), Err(RecordError::UnknownTag { tag: 0x19, .. })));
        let mut big_pid = header;
        big_pid.extend_from_slice(&[TAG_EVENT | 1, 0, 0]);
        put_i(&mut big_pid, i64::from(i32::MAX) + 1);
        big_pid.extend_from_slice(&[0, 0, 0]);
        assert!(matches!(read(&big_pid), Err(RecordError::OutOfRange(_))));
    }

    /// A name is what precedes its first NUL (the bytes after it are not
    /// compared), and a pid reused by another thread group writes its name
    /// again, the same name included.
    #[test]
    fn names_are_up_to_the_nul_and_follow_pid_reuse() {
        let mut w = Writer::new(Vec::new(), 2, 0, 0).unwrap();
        let mut a = raw(1, Kind::Runnable, 5, 0, "sh");
        w.event(&a).unwrap();
        a.comm[5] = b'x'; // stale bytes after the NUL
        w.event(&a).unwrap();
        a.tgid = 99; // the pid reused by another process, also called sh
        w.event(&a).unwrap();
        let rec = read(&w.finish(0, 10).unwrap()).unwrap();
        let names: Vec<_> = rec.names.iter().map(|n| (n.pid, n.tgid, n.comm.as_str(), n.from_event)).collect();
        assert_eq!(names, [(5, 5, "sh", 0), (5, 99, "sh", 2)]);
    }

    /// Over-long varints, a CPU count no machine has, and totals that
    /// disagree with the events are refused, not read as a file cut short.
    #[test]
    fn garbage_is_refused() {
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&[1, 4, 0]);
        let mut overlong = header.clone();
        overlong.push(TAG_EVENT | 1);
        overlong.extend_from_slice(&[0x80; 11]);
        overlong.extend_from_slice(&[TAG_END, 0, 0, 0]);
        assert!(matches!(read(&overlong), Err(RecordError::OutOfRange(_))));
        let mut cpus = MAGIC.to_vec();
        cpus.extend_from_slice(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
        assert!(matches!(read(&cpus), Err(RecordError::OutOfRange(_))));
        let mut none = MAGIC.to_vec();
        none.extend_from_slice(&[1, 0, 0]);
        assert!(matches!(read(&none), Err(RecordError::OutOfRange(_))));
        let (_, mut bytes) = sample();
        let n = bytes.len();
        assert_eq!(bytes[n - 6], TAG_END);
        bytes[n - 5] = 5; // the totals' event count: 6 written
        assert_eq!(read(&bytes), Err(RecordError::Count { said: 5, read: 6 }));
    }

    #[test]
    fn varints() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut b = Vec::new();
            put_u(&mut b, v);
            let mut r = Reader { bytes: &b, at: 0, base: 0, error: None };
            assert_eq!(r.u(), Some(v));
        }
        for v in [0i64, -1, 1, -64, 64, i64::MIN, i64::MAX] {
            let mut b = Vec::new();
            put_i(&mut b, v);
            let mut r = Reader { bytes: &b, at: 0, base: 0, error: None };
            assert_eq!(r.i(), Some(v));
        }
    }
}
