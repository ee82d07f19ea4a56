//! Runnable weight per slot (a CPU, a routing group): the sum of the
//! weights of the tasks last seen there, a task counting until it is seen
//! elsewhere or, not seen for `away_ns`, is taken to sleep. A policy sees a
//! task only when it is enqueued, so "runnable" is what it can know: a task
//! that runs long alone on a CPU without coming back also stops counting,
//! until it does.
//!
//! [`Runnable::averaged`] counts each task at its weight times how much of
//! the recent past it was runnable (waiting or running, not asleep): an
//! average that halves every `half_life_ns`, as the fair class's PELT
//! averages a task's runnable time (half-life 32 ms) for its load balancer.
//! Without it a thread that wakes every 50 ms for 50 µs counts as much as a
//! hog: `local` then saw a CPU as carrying a nice-0 hog more than it did,
//! and balanced hogs around a load that was not there. [`Runnable::new`]
//! counts every task seen at its whole weight (routing's group weights).
//! What it cannot see: sleeps and wakeups between two sightings (the
//! dispatcher's idle fast path handles wakeups without a hand-off) count
//! as runnable time; and a task that woke is valued as it wakes, when its
//! average is lowest.

use std::collections::VecDeque;

use crate::pid_map::{Found, PidMap, TASK_TABLE_CAPACITY};

/// Tasks counted at once; past it the oldest stops counting.
const AWAY_CAPACITY: usize = 8_192;
/// A task runnable all along (fixed point).
const ALWAYS: u64 = 1 << 16;

/// Where a task counts.
#[derive(Clone, Copy, Debug, Default)]
struct Counted {
    slot: u32,
    /// Whether it counts in `slot` (not away).
    counting: bool,
    /// Its weight.
    weight: u64,
    /// How much of the recent past it was runnable, of [`ALWAYS`].
    runnable: u64,
    /// What it adds to `slot`'s sum.
    counted: u64,
    /// When it was last seen (ns).
    seen_ns: u64,
}

/// `v` after `dt` ns of halving every `half_life` ns (2^-x taken as
/// 1 - x/2 between halvings: exact at each, at most 0.043 over between).
fn decay(v: u64, dt: u64, half_life: u64) -> u64 {
    let halvings = dt / half_life.max(1);
    if halvings >= 64 {
        return 0;
    }
    let v = v >> halvings;
    let rem = u128::from(dt % half_life.max(1));
    v - (u128::from(v) * rem / (2 * u128::from(half_life.max(1)))) as u64
}

/// What `weight`, runnable `runnable` of the time, adds to a sum
/// (`half_life` `None`: whole weights).
fn counted(half_life: Option<u64>, weight: u64, runnable: u64) -> u64 {
    match half_life {
        None => weight.max(1),
        Some(_) => (u128::from(weight.max(1)) * u128::from(runnable) / u128::from(ALWAYS)) as u64,
    }
}

/// `runnable` after `dt` ns runnable all along.
fn runnable_for(half_life: Option<u64>, runnable: u64, dt: u64) -> u64 {
    half_life.map_or(ALWAYS, |h| ALWAYS - decay(ALWAYS - runnable.min(ALWAYS), dt, h))
}

/// Runnable weight per slot (see the module docs).
#[derive(Debug)]
pub(crate) struct Runnable {
    tasks: PidMap<Counted>,
    /// Counted tasks: (pid, when seen), oldest first.
    away: VecDeque<(i32, u64)>,
    sums: Vec<u64>,
    away_ns: u64,
    /// The runnable average's half-life; `None`: whole weights.
    half_life_ns: Option<u64>,
}

impl Runnable {
    /// `slots` slots, all at 0; a task counts at its whole weight, and
    /// stops counting `away_ns` after it was last seen.
    pub(crate) fn new(slots: usize, away_ns: u64) -> Self {
        Self {
            tasks: PidMap::with_capacity(TASK_TABLE_CAPACITY),
            away: VecDeque::with_capacity(AWAY_CAPACITY),
            sums: vec![0; slots],
            away_ns,
            half_life_ns: None,
        }
    }

    /// As [`Runnable::new`], but a task counts at its weight times its
    /// runnable average, which halves every `half_life_ns` (module docs).
    pub(crate) fn averaged(slots: usize, away_ns: u64, half_life_ns: u64) -> Self {
        Self { half_life_ns: Some(half_life_ns.max(1)), ..Self::new(slots, away_ns) }
    }

    /// Grows to at least `slots` slots (allocates once, at the first call).
    pub(crate) fn ensure(&mut self, slots: usize) {
        if self.sums.len() < slots {
            self.sums.resize(slots, 0);
        }
    }

    fn uncount(&mut self, c: Counted) {
        if !c.counting {
            return;
        }
        if let Some(s) = self.sums.get_mut(c.slot as usize) {
            *s = s.saturating_sub(c.counted);
        }
    }

    /// Stops counting the tasks not seen for `away_ns` at `now`.
    pub(crate) fn expire(&mut self, now: u64) {
        while let Some(&(pid, seen)) = self.away.front() {
            if seen.saturating_add(self.away_ns) > now && self.away.len() < AWAY_CAPACITY {
                break;
            }
            self.away.pop_front();
            let Some(c) = self.tasks.get_mut(pid) else { continue };
            if c.seen_ns == seen && c.counting {
                let old = *c;
                c.counting = false;
                self.uncount(old);
            }
        }
    }

    /// `pid`, of `weight`, is seen at `now` in `slot`, runnable since it
    /// was last seen: it counts there (and no longer where it counted
    /// before).
    pub(crate) fn count(&mut self, pid: i32, slot: usize, weight: u64, now: u64) {
        self.see(pid, slot, weight, now, None);
    }

    /// As [`Runnable::count`], for a task that woke up: it was asleep from
    /// `slept_at` (when its last run stopped) until `now`.
    pub(crate) fn count_woken(&mut self, pid: i32, slot: usize, weight: u64, now: u64, slept_at: u64) {
        self.see(pid, slot, weight, now, Some(slept_at));
    }

    fn see(&mut self, pid: i32, slot: usize, weight: u64, now: u64, slept_at: Option<u64>) {
        self.expire(now);
        self.ensure(slot + 1);
        let half_life = self.half_life_ns;
        let (c, evicted, first) = match self.tasks.entry(pid) {
            Found::Old(c) => (c, None, false),
            Found::New(c, evicted) => (c, evicted.map(|(_, e)| e), true),
        };
        let old = *c;
        // A task first seen counts whole, as the fair class starts a new
        // task's average at its weight.
        let runnable = match half_life {
            Some(h) if !first => {
                let since = old.seen_ns.min(now);
                let slept_at = slept_at.map_or(now, |s| s.clamp(since, now));
                decay(runnable_for(half_life, old.runnable, slept_at - since), now - slept_at, h)
            }
            _ => ALWAYS,
        };
        *c = Counted {
            slot: slot as u32,
            counting: true,
            weight,
            runnable,
            counted: counted(half_life, weight, runnable),
            seen_ns: now,
        };
        let added = c.counted;
        for gone in [evicted, (!first).then_some(old)].into_iter().flatten() {
            self.uncount(gone);
        }
        self.sums[slot] += added;
        self.away.push_back((pid, now));
    }

    /// `pid` is still seen where it counts (running there, say): it keeps
    /// counting, runnable all along. Cheap when repeated: its time is
    /// renewed at most twice per `away_ns`.
    pub(crate) fn touch(&mut self, pid: i32, now: u64) {
        let half_life = self.half_life_ns;
        let away_ns = self.away_ns;
        let Some(c) = self.tasks.get_mut(pid) else { return };
        if !c.counting || now.saturating_sub(c.seen_ns) < away_ns / 2 {
            return;
        }
        let old = *c;
        c.runnable = runnable_for(half_life, old.runnable, now.saturating_sub(old.seen_ns));
        c.counted = counted(half_life, old.weight, c.runnable);
        c.seen_ns = now;
        let added = c.counted;
        if let Some(s) = self.sums.get_mut(old.slot as usize) {
            *s = s.saturating_sub(old.counted) + added;
        }
        self.away.push_back((pid, now));
    }

    /// The runnable weight of `slot`.
    pub(crate) fn of(&self, slot: usize) -> u64 {
        self.sums.get(slot).copied().unwrap_or(0)
    }

    /// Every slot's runnable weight.
    pub(crate) fn all(&self) -> &[u64] {
        &self.sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task counts where it was last seen, once, until it is away.
    #[test]
    fn counts_move_and_expire() {
        let mut r = Runnable::new(2, 100);
        r.count(1, 0, 100, 0);
        r.count(2, 0, 11, 10);
        assert_eq!(r.all(), &[111, 0]);
        r.count(1, 1, 100, 50);
        assert_eq!(r.all(), &[11, 100]);
        r.count(1, 1, 50, 60);
        assert_eq!(r.all(), &[11, 50], "a new weight replaces the old");
        r.expire(115);
        assert_eq!(r.all(), &[0, 50], "task 2 not seen for 100 ns");
        r.count(3, 4, 7, 120);
        assert_eq!((r.of(4), r.all().len()), (7, 5));
        r.touch(3, 180);
        r.expire(230);
        assert_eq!(r.of(4), 7, "touched at 180: counts until 280");
        r.expire(280);
        assert_eq!(r.of(4), 0);
    }

    const MS: u64 = 1_000_000;

    /// The average halves every half-life (exactly at each), and a task
    /// runnable all along stays whole.
    #[test]
    fn decay_halves_per_half_life() {
        assert_eq!(decay(ALWAYS, 0, 32), ALWAYS);
        assert_eq!(decay(ALWAYS, 32, 32), ALWAYS / 2);
        assert_eq!(decay(ALWAYS, 96, 32), ALWAYS / 8);
        let between = decay(ALWAYS, 16, 32);
        assert!(between > ALWAYS / 2 && between < ALWAYS, "{between}");
        assert_eq!(decay(ALWAYS, 64 * 32, 32), 0);
        assert_eq!(runnable_for(Some(32), ALWAYS, 1_000), ALWAYS);
    }

    /// Averaged, a hog counts its whole weight; a thread that wakes every
    /// 50 ms for 50 µs (a server polling its channel) next to nothing; one
    /// runnable half the time, seen as it wakes (when its average is
    /// lowest), a third to a half of its weight.
    #[test]
    fn averaged_counts_the_time_runnable() {
        let mut r = Runnable::averaged(3, 250 * MS, 32 * MS);
        r.count(1, 0, 1024, 0);
        r.count_woken(2, 1, 1024, 0, 0);
        r.count_woken(3, 2, 1024, 0, 0);
        assert_eq!(r.all(), &[1024, 1024, 1024], "first seen: whole weights");
        for k in 1..=20 {
            let t = k * 50 * MS;
            r.count(1, 0, 1024, t);
            r.count_woken(2, 1, 1024, t, t - 50 * MS + 50_000);
            // Runnable 25 ms, asleep 25 ms.
            r.count_woken(3, 2, 1024, t, t - 25 * MS);
        }
        let [hog, poller, half] = [r.of(0), r.of(1), r.of(2)];
        assert_eq!(hog, 1024);
        assert!(poller <= 10, "{poller}");
        assert!((1024 / 3..=512).contains(&half), "{half}");
    }

    /// A task that runs on where it counts (touched) stays whole; the sums
    /// follow each task's new average, and a move takes it along.
    #[test]
    fn averaged_sums_follow_the_tasks() {
        let mut r = Runnable::averaged(2, 250 * MS, 32 * MS);
        r.count_woken(1, 0, 1000, 0, 0);
        r.count_woken(1, 0, 1000, 64 * MS, 0);
        assert_eq!(r.of(0), 250, "asleep two half-lives");
        r.touch(1, 64 * MS + 200 * MS);
        assert!(r.of(0) > 950, "{}", r.of(0));
        r.count(1, 1, 1000, 300 * MS);
        assert_eq!(r.of(0), 0);
        assert!(r.of(1) > 950, "{}", r.of(1));
    }
}
