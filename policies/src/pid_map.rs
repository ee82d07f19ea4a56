//! A fixed-capacity map from pid (or tgid) to per-task state, for policies
//! that remember tasks between their runs without allocating per task.
//!
//! Open addressing over a power-of-two table; a key lives within
//! [`PROBE`] slots of its hash. Nothing is ever removed explicitly (a policy
//! is not told when a task exits): when every slot of a key's window is
//! taken, the least recently used entry of the window is evicted. An
//! evicted task is simply seen as new the next time — policies must treat a
//! missing entry as "first sight", never as an error.

/// Slots searched per key.
const PROBE: usize = 16;

/// The capacity of the policies' per-task tables: tasks remembered before
/// the least recently seen are forgotten.
pub(crate) const TASK_TABLE_CAPACITY: usize = 16_384;

/// One slot: the key (0 = empty), when it was last used, the value.
#[derive(Clone, Copy, Debug)]
struct Slot<V> {
    key: i32,
    used: u64,
    value: V,
}

/// A fixed-capacity pid → `V` map with least-recently-used eviction.
#[derive(Debug)]
pub(crate) struct PidMap<V> {
    slots: Vec<Slot<V>>,
    mask: usize,
    clock: u64,
}

/// What [`PidMap::entry`] found.
pub(crate) enum Found<'a, V> {
    /// The key was there.
    Old(&'a mut V),
    /// The key was not there; it now is, with `V::default()`. If an entry
    /// had to go to make room, its key and value.
    New(&'a mut V, Option<(i32, V)>),
}

impl<V: Copy + Default> PidMap<V> {
    /// A map with room for `capacity` keys (rounded up to a power of two, at
    /// least [`PROBE`]); allocates once, here.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let n = capacity.max(PROBE).next_power_of_two();
        Self { slots: vec![Slot { key: 0, used: 0, value: V::default() }; n], mask: n - 1, clock: 0 }
    }

    fn home(&self, key: i32) -> usize {
        // Fibonacci hashing: consecutive pids spread over the table.
        ((key as u32 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    /// The value of `key`, if present (does not count as a use).
    pub(crate) fn get(&self, key: i32) -> Option<&V> {
        let home = self.home(key);
        (0..PROBE).map(|i| &self.slots[(home + i) & self.mask]).find(|s| s.key == key && key != 0).map(|s| &s.value)
    }

    /// The value of `key`, if present, mutable (does not count as a use).
    pub(crate) fn get_mut(&mut self, key: i32) -> Option<&mut V> {
        let home = self.home(key);
        let mask = self.mask;
        let idx = (0..PROBE).map(|i| (home + i) & mask).find(|&i| self.slots[i].key == key && key != 0)?;
        Some(&mut self.slots[idx].value)
    }

    /// The value of `key`, inserted with `V::default()` if absent (evicting
    /// the least recently used entry of its window if the window is full).
    /// Key 0 is not a valid pid: it gets a scratch slot that is never found.
    pub(crate) fn entry(&mut self, key: i32) -> Found<'_, V> {
        self.clock += 1;
        let clock = self.clock;
        let home = self.home(key);
        let mut free = None;
        let mut oldest = home;
        for i in 0..PROBE {
            let idx = (home + i) & self.mask;
            let s = &self.slots[idx];
            if s.key == key && key != 0 {
                let s = &mut self.slots[idx];
                s.used = clock;
                return Found::Old(&mut s.value);
            }
            if s.key == 0 && free.is_none() {
                free = Some(idx);
            }
            if s.used < self.slots[oldest].used {
                oldest = idx;
            }
        }
        let (idx, evicted) = match free {
            Some(idx) => (idx, None),
            None => {
                let s = self.slots[oldest];
                (oldest, Some((s.key, s.value)))
            }
        };
        let slot = &mut self.slots[idx];
        *slot = Slot { key: if key == 0 { 0 } else { key }, used: clock, value: V::default() };
        Found::New(&mut slot.value, evicted)
    }
}

impl<'a, V> Found<'a, V> {
    /// The value, old or new.
    pub(crate) fn value_mut(self) -> &'a mut V {
        match self {
            Found::Old(v) | Found::New(v, _) => v,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    /// A key inserted is found again with its value; others are not.
    #[test]
    fn insert_and_find() {
        let mut m: PidMap<u64> = PidMap::with_capacity(64);
        if let Found::New(v, _) = m.entry(42) {
            *v = 7;
        }
        assert!(matches!(m.entry(42), Found::Old(&mut 7)));
        assert_eq!(m.get(42), Some(&7));
        assert_eq!(m.get(43), None);
    }

    /// Many more keys than slots: the map never grows, recent keys survive,
    /// evictions report the evicted key and value.
    #[test]
    fn evicts_least_recently_used_without_growing() {
        let mut m: PidMap<i32> = PidMap::with_capacity(16);
        let mut evicted = 0;
        for pid in 1..=1000 {
            match m.entry(pid) {
                Found::New(v, gone) => {
                    *v = pid;
                    if let Some((k, val)) = gone {
                        assert_eq!(k, val, "the evicted value is the evicted key's");
                        evicted += 1;
                    }
                }
                Found::Old(_) => panic!("pid {pid} seen twice"),
            }
            assert_eq!(m.get(pid), Some(&pid), "the newest key is present");
        }
        assert_eq!(evicted, 1000 - 16);
        assert_eq!(m.slots.len(), 16);
        assert_eq!(m.slots.iter().filter(|s| s.key != 0).count(), 16);
    }

    /// A key used often survives a stream of new keys sharing its window.
    #[test]
    fn recently_used_key_survives() {
        let mut m: PidMap<u8> = PidMap::with_capacity(16);
        m.entry(1);
        for pid in 2..200 {
            m.entry(pid);
            m.entry(1);
        }
        assert!(m.get(1).is_some());
    }

    /// Pid 0 is never stored.
    #[test]
    fn zero_is_not_a_key() {
        let mut m: PidMap<u8> = PidMap::with_capacity(16);
        if let Found::New(v, _) = m.entry(0) {
            *v = 3;
        }
        assert_eq!(m.get(0), None);
        assert!(matches!(m.entry(0), Found::New(..)));
    }
}
