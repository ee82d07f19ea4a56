//! Cgroup matches by cgroup id, for routes with `cgroup` matchers: a
//! fixed-capacity table that the scheduling loop reads with a few atomic
//! loads (no lock, no system call, no allocation), written by a *resolver*
//! off the loop.
//!
//! Each task record carries the id of the task's cgroup on the default (v2)
//! hierarchy at that hand-off ([`QueuedTask::cgid`]). The table maps a
//! cgroup id to its *match bits*: bit `i` set = route `i`'s `cgroup`
//! pattern matches the cgroup's path, or [`NO_PATH`] when the resolver
//! found no path for that id. The path and the pattern matching stay with
//! the resolver ([`CgroupWriter::bits_of`]); the loop only looks ids up.
//!
//! - **The loop's side** ([`CgroupReader`], held by the [`Router`]): a
//!   lookup walks at most [`MAX_PROBE`] slots. An id without an entry (a
//!   cgroup created after the resolver's last walk) matches no cgroup route,
//!   is counted ([`CgroupReader::route_bits`]) and posted to the resolver
//!   through a fixed ring of [`REQUEST_CAPACITY`] ids, which never blocks
//!   (a full ring drops the post; the id is posted again by a later task).
//! - **The resolver's side** ([`CgroupWriter`], one owner: the only writer
//!   of the table): takes posted ids, finds paths (the binary walks the
//!   cgroup2 mount: `src/run/cgroup.rs`), inserts and removes entries. It
//!   is woken by a post ([`std::thread::Thread::unpark`]: a futex wake when
//!   it sleeps, nothing else).
//!
//! **Bounds.** At most [`CGROUP_CAPACITY`] cgroups (ids with or without a
//! path) over twice as many slots; an id that finds no room is not entered,
//! so its tasks keep being counted and match no cgroup route.
//!
//! **Consistency.** Each slot is a seqlock (a sequence, odd while the
//! resolver rewrites the slot): the loop never waits for a slot the
//! resolver is writing, it reads it as "no entry" this once, and otherwise
//! reads an entry whole. A cgroup's path, hence its bits, never changes (a
//! cgroup v2 directory cannot be renamed or moved); an entry changes only
//! from [`NO_PATH`] to bits, if a later walk finds the cgroup.
//!
//! [`QueuedTask::cgid`]: scheduler_core::QueuedTask::cgid
//! [`Router`]: super::Router

use std::{
    sync::{
        atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, OnceLock,
    },
    thread::Thread,
    time::Duration,
};

use super::{Glob, RoutingConfig, MAX_ROUTES};

/// Most cgroups one table holds.
pub const CGROUP_CAPACITY: usize = 4096;
/// Slots: twice the capacity, a power of two, so probe chains stay short.
const SLOTS: usize = 2 * CGROUP_CAPACITY;
/// Longest probe chain: a lookup reads at most this many slots, and an id
/// whose chain has no free slot within it is not entered.
pub const MAX_PROBE: usize = 32;
/// Ids the loop can post before the resolver takes them.
pub const REQUEST_CAPACITY: usize = 256;
/// Ids the loop remembers having posted: not posted again while remembered.
const RECENT: usize = 16;
/// The match bits of a cgroup the resolver found no path for (outside the
/// cgroup2 mount it walked, or gone before the walk): no cgroup route
/// matches, and its tasks count as unresolved. Bit 63: routes use bits
/// `0..MAX_ROUTES`.
pub const NO_PATH: u64 = 1 << 63;
const _: () = assert!(MAX_ROUTES <= 63);

/// A free slot never used.
const EMPTY: u64 = 0;
/// A free slot whose entry was removed: lookups probe past it.
const DELETED: u64 = u64::MAX;

/// One entry: `seq` is odd while the resolver rewrites it.
#[derive(Debug, Default)]
struct Slot {
    seq: AtomicU64,
    cgid: AtomicU64,
    bits: AtomicU64,
}

/// What the loop and the resolver share.
#[derive(Debug)]
struct Shared {
    slots: Box<[Slot]>,
    /// The request ring: the loop writes at `tail`, the resolver reads at `head`.
    requests: Box<[AtomicU64]>,
    head: AtomicUsize,
    tail: AtomicUsize,
    /// The resolver's thread, woken by a post or by the reader's end.
    resolver: OnceLock<Thread>,
    /// The reader is gone: the resolver may stop.
    closed: AtomicBool,
    /// A wake is on its way to the resolver, which clears this before it
    /// looks at the ring: posts meanwhile need no other (one futex wake
    /// per resolver round, however many hand-offs post).
    woken: AtomicBool,
    /// Hand-offs routed with their task's cgroup unresolved (see [`CgroupReader::route_bits`]).
    unresolved: Arc<AtomicU64>,
}

/// The slot an id's probe chain starts at (Fibonacci hashing: cgroup ids
/// are allocated in sequence).
fn home(cgid: u64) -> usize {
    (cgid.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// The slots of `cgid`'s probe chain, in order.
fn chain(cgid: u64) -> impl Iterator<Item = usize> {
    let start = home(cgid);
    (0..MAX_PROBE).map(move |i| (start + i) % SLOTS)
}

impl Shared {
    /// Wakes the resolver, unless a wake is on its way already.
    fn wake_resolver(&self) {
        if !self.woken.swap(true, Ordering::SeqCst) {
            self.unpark_resolver();
        }
    }

    fn unpark_resolver(&self) {
        if let Some(t) = self.resolver.get() {
            t.unpark();
        }
    }
}

/// The loop's side of a cgroup table (the [`Router`](super::Router) holds it).
#[derive(Debug)]
pub struct CgroupReader {
    shared: Arc<Shared>,
    /// Ids posted lately (0 = none), in a ring.
    recent: [u64; RECENT],
    next_recent: usize,
}

/// The resolver's side of a cgroup table: the only writer.
#[derive(Debug)]
pub struct CgroupWriter {
    shared: Arc<Shared>,
    /// Route index and pattern of each route with a `cgroup` matcher.
    patterns: Vec<(usize, Glob)>,
    /// Entries in the table.
    len: usize,
}

/// A table for `config`'s cgroup routes: the loop's reader and the
/// resolver's writer. `unresolved` counts the hand-offs routed with their task's
/// cgroup unresolved ([`CgroupReader::route_bits`]).
pub fn cgroup_table(config: &RoutingConfig, unresolved: Arc<AtomicU64>) -> (CgroupReader, CgroupWriter) {
    let shared = Arc::new(Shared {
        slots: (0..SLOTS).map(|_| Slot::default()).collect(),
        requests: (0..REQUEST_CAPACITY).map(|_| AtomicU64::new(0)).collect(),
        head: AtomicUsize::new(0),
        tail: AtomicUsize::new(0),
        resolver: OnceLock::new(),
        closed: AtomicBool::new(false),
        woken: AtomicBool::new(false),
        unresolved,
    });
    let patterns = config
        .routes
        .iter()
        .take(MAX_ROUTES)
        .enumerate()
        .filter_map(|(i, r)| r.matcher.cgroup.clone().map(|g| (i, g)))
        .collect();
    let reader = CgroupReader { shared: shared.clone(), recent: [0; RECENT], next_recent: 0 };
    (reader, CgroupWriter { shared, patterns, len: 0 })
}

impl CgroupReader {
    /// The match bits of cgroup `cgid` ([`NO_PATH`] included), or `None`
    /// when the table has no entry for it (or its slot is being written
    /// right now): at most [`MAX_PROBE`] slots read, each with three atomic
    /// loads and a fence; no system call, no allocation.
    pub fn bits(&self, cgid: u64) -> Option<u64> {
        if cgid == EMPTY || cgid == DELETED {
            return None;
        }
        for i in chain(cgid) {
            let slot = &self.shared.slots[i];
            let seq = slot.seq.load(Ordering::Acquire);
            let id = slot.cgid.load(Ordering::Relaxed);
            let bits = slot.bits.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if seq & 1 == 1 || slot.seq.load(Ordering::Relaxed) != seq {
                // Being rewritten: not an answer, and not the chain's end.
                continue;
            }
            if id == cgid {
                return Some(bits);
            }
            if id == EMPTY {
                return None;
            }
        }
        None
    }

    /// The route bits of a task in cgroup `cgid`, as the router uses them:
    /// its entry's bits; else 0 (no cgroup route matches), the task counted
    /// as unresolved, and the id posted to the resolver unless it is 0
    /// (unknown), has an entry without a path ([`NO_PATH`]: the resolver
    /// looked already), or was posted lately. The post never blocks: a full
    /// ring drops it.
    pub fn route_bits(&mut self, cgid: u64) -> u64 {
        let found = self.bits(cgid);
        if let Some(bits) = found.filter(|b| b & NO_PATH == 0) {
            return bits;
        }
        self.shared.unresolved.fetch_add(1, Ordering::Relaxed);
        if found.is_none() && cgid != EMPTY && !self.recent.contains(&cgid) && self.post(cgid) {
            self.recent[self.next_recent] = cgid;
            self.next_recent = (self.next_recent + 1) % RECENT;
            self.shared.wake_resolver();
        }
        0
    }

    /// Puts `cgid` in the request ring; false if it is full.
    fn post(&mut self, cgid: u64) -> bool {
        let s = &self.shared;
        let tail = s.tail.load(Ordering::Relaxed);
        if tail.wrapping_sub(s.head.load(Ordering::Acquire)) >= REQUEST_CAPACITY {
            return false;
        }
        s.requests[tail % REQUEST_CAPACITY].store(cgid, Ordering::Relaxed);
        s.tail.store(tail.wrapping_add(1), Ordering::Release);
        true
    }
}

impl Drop for CgroupReader {
    /// Tells the resolver to stop.
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.unpark_resolver();
    }
}

impl CgroupWriter {
    /// Makes the calling thread the one [`Self::wait`]s and is woken by posts.
    pub fn register_thread(&self) {
        let _ = self.shared.resolver.set(std::thread::current());
    }

    /// Whether the reader is gone (the router was dropped).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Sleeps until a post, the reader's end or `timeout` (or spuriously);
    /// returns at once if a request waits or the reader is gone.
    pub fn wait(&self, timeout: Duration) {
        let s = &self.shared;
        s.woken.store(false, Ordering::SeqCst);
        if !self.is_closed() && s.head.load(Ordering::SeqCst) == s.tail.load(Ordering::SeqCst) {
            std::thread::park_timeout(timeout);
        }
    }

    /// The next id the loop posted, if any.
    pub fn take_request(&mut self) -> Option<u64> {
        let s = &self.shared;
        let head = s.head.load(Ordering::Relaxed);
        if head == s.tail.load(Ordering::Acquire) {
            return None;
        }
        let cgid = s.requests[head % REQUEST_CAPACITY].load(Ordering::Relaxed);
        s.head.store(head.wrapping_add(1), Ordering::Release);
        Some(cgid)
    }

    /// The match bits of a cgroup whose path (from the hierarchy's root,
    /// `/` for the root cgroup) is `path`: bit `i` for each route `i` whose
    /// `cgroup` pattern matches it.
    pub fn bits_of(&self, path: &[u8]) -> u64 {
        self.patterns.iter().filter(|(_, g)| g.matches(path)).fold(0, |bits, (i, _)| bits | 1 << i)
    }

    /// Whether any route has a `cgroup` matcher.
    pub fn has_patterns(&self) -> bool {
        !self.patterns.is_empty()
    }

    /// The entry of `cgid`, if any (the writer's own view: no race).
    pub fn get(&self, cgid: u64) -> Option<u64> {
        self.find(cgid).map(|i| self.shared.slots[i].bits.load(Ordering::Relaxed))
    }

    /// Entries in the table.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table has no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Enters (or updates) `cgid` with `bits`; false when there is no room
    /// ([`CGROUP_CAPACITY`] entries, or no free slot within its probe
    /// chain), or for the ids 0 and `u64::MAX`.
    pub fn insert(&mut self, cgid: u64, bits: u64) -> bool {
        if cgid == EMPTY || cgid == DELETED {
            return false;
        }
        if let Some(i) = self.find(cgid) {
            self.write(i, cgid, bits);
            return true;
        }
        if self.len >= CGROUP_CAPACITY {
            return false;
        }
        let free = chain(cgid).find(|&i| matches!(self.shared.slots[i].cgid.load(Ordering::Relaxed), EMPTY | DELETED));
        let Some(i) = free else { return false };
        self.write(i, cgid, bits);
        self.len += 1;
        true
    }

    /// Removes the entry of `cgid`; false if it had none.
    pub fn remove(&mut self, cgid: u64) -> bool {
        let Some(i) = self.find(cgid) else { return false };
        self.write(i, DELETED, 0);
        self.len -= 1;
        true
    }

    /// The slot holding `cgid`.
    fn find(&self, cgid: u64) -> Option<usize> {
        if cgid == EMPTY || cgid == DELETED {
            return None;
        }
        for i in chain(cgid) {
            match self.shared.slots[i].cgid.load(Ordering::Relaxed) {
                id if id == cgid => return Some(i),
                EMPTY => return None,
                _ => {}
            }
        }
        None
    }

    /// Rewrites slot `i` under its seqlock.
    fn write(&self, i: usize, cgid: u64, bits: u64) {
        let slot = &self.shared.slots[i];
        let seq = slot.seq.load(Ordering::Relaxed);
        slot.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        slot.cgid.store(cgid, Ordering::Relaxed);
        slot.bits.store(bits, Ordering::Relaxed);
        slot.seq.store(seq.wrapping_add(2), Ordering::Release);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn table(text: &str) -> (CgroupReader, CgroupWriter, Arc<AtomicU64>) {
        let unresolved = Arc::new(AtomicU64::new(0));
        let (r, w) = cgroup_table(&RoutingConfig::parse(text).unwrap(), unresolved.clone());
        (r, w, unresolved)
    }

    const TWO: &str = "[[route]]\npolicy = \"fifo\"\ncomm = \"a\"\n[[route]]\npolicy = \"fifo\"\ncgroup = \"/sys/*\"\n\
                       [[route]]\npolicy = \"fifo\"\ncgroup = \"/sys/audio*\"\n";

    /// Patterns give one bit per route, at the route's index.
    #[test]
    fn bits_per_route() {
        let (_, w, _) = table(TWO);
        assert_eq!(w.bits_of(b"/sys/audio.service"), 0b110);
        assert_eq!(w.bits_of(b"/sys/x"), 0b010);
        assert_eq!(w.bits_of(b"/user"), 0);
        assert!(w.has_patterns());
    }

    /// What the writer enters the reader sees; removed entries are gone and
    /// their slots reused; an unknown id is counted and posted once while
    /// remembered; ids without a path count but are not posted again.
    #[test]
    fn entries_and_requests() {
        let (mut r, mut w, unresolved) = table(TWO);
        assert!(w.insert(7, 0b10));
        assert!(w.insert(8, NO_PATH));
        assert_eq!((r.bits(7), r.route_bits(7)), (Some(0b10), 0b10));
        assert_eq!(unresolved.load(Ordering::Relaxed), 0);
        assert_eq!(r.route_bits(8), 0, "no path: matches nothing");
        assert_eq!(r.route_bits(9), 0);
        assert_eq!(r.route_bits(9), 0);
        assert_eq!(r.route_bits(0), 0);
        assert_eq!(unresolved.load(Ordering::Relaxed), 4);
        assert_eq!((w.take_request(), w.take_request()), (Some(9), None), "9 posted once; 0 and 8 not");
        assert!(w.remove(7) && !w.remove(7));
        assert_eq!(r.bits(7), None);
        assert!(w.insert(9, 0b100));
        assert_eq!(r.route_bits(9), 0b100);
        assert_eq!(w.len(), 2);
        assert!(!w.insert(0, 1) && !w.insert(u64::MAX, 1));
    }

    /// The table holds [`CGROUP_CAPACITY`] entries, no more; every one is
    /// found, and ids never entered are not.
    #[test]
    fn capacity_is_bounded() {
        let (r, mut w, _) = table(TWO);
        let mut entered = 0;
        let mut id = 1u64;
        while entered < CGROUP_CAPACITY {
            if w.insert(id, id & 3) {
                entered += 1;
            }
            id += 1;
        }
        assert!(id < 2 * CGROUP_CAPACITY as u64, "sequential ids fit: {id}");
        assert!(!w.insert(id, 0), "full");
        for k in 1..id {
            if let Some(b) = w.get(k) {
                assert_eq!(r.bits(k), Some(b));
            }
        }
        assert_eq!((r.bits(id), r.bits(1 << 40)), (None, None));
        // Removing makes room again.
        assert!(w.remove(1));
        assert!(w.insert(id, 5));
        assert_eq!(r.bits(id), Some(5));
    }

    /// The ring holds [`REQUEST_CAPACITY`] posts; a full ring drops the
    /// post (not remembered: a later task posts the id again).
    #[test]
    fn full_ring_drops_posts() {
        let (mut r, mut w, _) = table(TWO);
        for id in 1..=REQUEST_CAPACITY as u64 + 5 {
            r.route_bits(id);
        }
        let taken: Vec<u64> = std::iter::from_fn(|| w.take_request()).collect();
        assert_eq!(taken, (1..=REQUEST_CAPACITY as u64).collect::<Vec<_>>());
        r.route_bits(REQUEST_CAPACITY as u64 + 5);
        assert_eq!(w.take_request(), Some(REQUEST_CAPACITY as u64 + 5), "dropped, so posted again");
    }

    /// A post wakes the registered resolver thread; the reader's end too.
    #[test]
    fn posts_wake_the_resolver() {
        let (mut r, mut w, _) = table(TWO);
        let resolver = std::thread::spawn(move || {
            w.register_thread();
            let mut got = Vec::new();
            while !w.is_closed() {
                got.extend(std::iter::from_fn(|| w.take_request()));
                w.wait(Duration::from_secs(60));
            }
            got.extend(std::iter::from_fn(|| w.take_request()));
            got
        });
        // Until registered, posts only wait in the ring.
        r.route_bits(42);
        std::thread::sleep(Duration::from_millis(20));
        r.route_bits(43);
        drop(r);
        assert_eq!(resolver.join().unwrap(), vec![42, 43]);
    }

    /// A reader racing with a writer that keeps rewriting slots sees, for
    /// each id, its bits or nothing, never another id's bits.
    #[test]
    fn lookups_race_with_rewrites() {
        let (r, mut w, _) = table(TWO);
        // Round 0's entries before the writer starts: on a loaded machine
        // the reader could finish before the writer ran at all (seen 0).
        for id in (2..=64u64).step_by(2) {
            w.insert(id, id * 3);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut round = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for id in 1..=64u64 {
                        if (id + round).is_multiple_of(2) {
                            w.insert(id, id * 3);
                        } else {
                            w.remove(id);
                        }
                    }
                    round += 1;
                }
            })
        };
        let mut seen = 0;
        for _ in 0..50_000 {
            for id in 1..=64u64 {
                if let Some(b) = r.bits(id) {
                    assert_eq!(b, id * 3, "id {id}");
                    seen += 1;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(seen > 0);
    }
}
