//! Runnable weight per slot (a CPU, a routing group): the sum of the
//! weights of the tasks last seen there, a task counting until it is seen
//! elsewhere or, not seen for `away_ns`, is taken to sleep. A policy sees a
//! task only when it is enqueued, so "runnable" is what it can know: a task
//! that runs long alone on a CPU without coming back also stops counting,
//! until it does.

use std::collections::VecDeque;

use crate::pid_map::{Found, PidMap, TASK_TABLE_CAPACITY};

/// Tasks counted at once; past it the oldest stops counting.
const AWAY_CAPACITY: usize = 8_192;

/// Where a task counts.
#[derive(Clone, Copy, Debug, Default)]
struct Counted {
    slot: u32,
    /// The weight it counts for (0 = none).
    weight: u64,
    /// When it was last seen (ns).
    seen_ns: u64,
}

/// Runnable weights per slot (see the module docs).
#[derive(Debug)]
pub(crate) struct Runnable {
    tasks: PidMap<Counted>,
    /// Counted tasks: (pid, when seen), oldest first.
    away: VecDeque<(i32, u64)>,
    sums: Vec<u64>,
    away_ns: u64,
}

impl Runnable {
    /// `slots` slots, all at 0; a task stops counting `away_ns` after it was last seen.
    pub(crate) fn new(slots: usize, away_ns: u64) -> Self {
        Self {
            tasks: PidMap::with_capacity(TASK_TABLE_CAPACITY),
            away: VecDeque::with_capacity(AWAY_CAPACITY),
            sums: vec![0; slots],
            away_ns,
        }
    }

    /// Grows to at least `slots` slots (allocates once, at the first call).
    pub(crate) fn ensure(&mut self, slots: usize) {
        if self.sums.len() < slots {
            self.sums.resize(slots, 0);
        }
    }

    fn uncount(&mut self, c: Counted) {
        if let Some(s) = self.sums.get_mut(c.slot as usize) {
            *s = s.saturating_sub(c.weight);
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
            if c.seen_ns == seen && c.weight > 0 {
                let old = *c;
                c.weight = 0;
                self.uncount(old);
            }
        }
    }

    /// `pid`, of `weight`, is seen at `now` in `slot`: it counts there (and
    /// no longer where it counted before).
    pub(crate) fn count(&mut self, pid: i32, slot: usize, weight: u64, now: u64) {
        self.expire(now);
        self.ensure(slot + 1);
        let (c, evicted) = match self.tasks.entry(pid) {
            Found::Old(c) => (c, None),
            Found::New(c, evicted) => (c, evicted.map(|(_, e)| e)),
        };
        let old = *c;
        *c = Counted { slot: slot as u32, weight: weight.max(1), seen_ns: now };
        for gone in [evicted, Some(old)].into_iter().flatten() {
            self.uncount(gone);
        }
        self.sums[slot] += weight.max(1);
        self.away.push_back((pid, now));
    }

    /// `pid` is still seen where it counts (running there, say): it keeps
    /// counting. Cheap when repeated: its time is renewed at most twice per
    /// `away_ns`.
    pub(crate) fn touch(&mut self, pid: i32, now: u64) {
        let Some(c) = self.tasks.get_mut(pid) else { return };
        if c.weight > 0 && now.saturating_sub(c.seen_ns) >= self.away_ns / 2 {
            c.seen_ns = now;
            self.away.push_back((pid, now));
        }
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
}
