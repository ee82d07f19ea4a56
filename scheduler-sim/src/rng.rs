//! The simulator's only source of randomness: a SplitMix64 generator.
//!
//! Written out here (a dozen lines) so that a seed means the same stream on
//! every platform and every release of every dependency: the byte-identical
//! report guarantee rests on it.

/// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit state advanced by a fixed
/// odd constant, finalised by two xor-shift-multiply rounds.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose stream is fixed by `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (0 when `n` is 0), by multiply-shift (no modulo bias
    /// worth speaking of for the ranges used here).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// One of `samples`, at random; 0 without drawing when there are none
    /// (so that an empty pool leaves the stream as it was).
    pub(crate) fn pick(&mut self, samples: &[u64]) -> u64 {
        if samples.is_empty() {
            return 0;
        }
        samples[self.below(samples.len() as u64) as usize]
    }

    /// `base` scaled by a uniform factor in `[100 - pct, 100 + pct]` percent,
    /// at least 1.
    pub(crate) fn jitter(&mut self, base: u64, pct: u64) -> u64 {
        let pct = pct.min(100);
        let factor = 100 - pct + self.below(2 * pct + 1);
        (base.saturating_mul(factor) / 100).max(1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The stream is the published SplitMix64 stream (reference values for seed 1234567).
    #[test]
    fn matches_reference_stream() {
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
    }

    /// `below` stays in range and `jitter` stays within its band.
    #[test]
    fn ranges_hold() {
        let mut r = SplitMix64::new(7);
        for _ in 0..10_000 {
            assert!(r.below(10) < 10);
            let j = r.jitter(1000, 25);
            assert!((750..=1250).contains(&j));
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.jitter(0, 25), 1);
    }
}
