//! Statistics over [`Results`]: per-round values of raw and derived
//! metrics, their medians, and ratios of medians.

use super::results::Results;

/// A raw metric, or one computed per round from two raw ones.
#[derive(Clone, Copy)]
pub(super) enum Metric {
    /// A metric as the guest reported it.
    Raw(&'static str),
    /// numerator / denominator * scale, per round.
    Per(&'static str, &'static str, f64),
    /// numerator / (a - b), per round.
    PerDiff(&'static str, &'static str, &'static str),
    /// a - b, per round.
    Diff(&'static str, &'static str),
    /// (a + b) / denominator * scale, per round.
    SumPer(&'static str, &'static str, &'static str, f64),
}

/// The middle value (mean of the two middle ones for an even count).
pub(super) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 })
}

impl Results {
    /// The per-round values of `metric` for `scheduler`.
    pub(super) fn values(&self, scheduler: &str, metric: Metric) -> Vec<f64> {
        let mut rounds: Vec<u32> = self.samples.iter().filter(|s| s.scheduler == scheduler).map(|s| s.round).collect();
        rounds.sort_unstable();
        rounds.dedup();
        rounds
            .into_iter()
            .filter_map(|r| match metric {
                Metric::Raw(m) => self.raw(scheduler, r, m),
                Metric::Per(n, d, scale) => {
                    let (n, d) = (self.raw(scheduler, r, n)?, self.raw(scheduler, r, d)?);
                    (d > 0.0).then(|| n / d * scale)
                }
                Metric::PerDiff(n, a, b) => {
                    let d = self.raw(scheduler, r, a)? - self.raw(scheduler, r, b)?;
                    (d > 0.0).then(|| self.raw(scheduler, r, n).map(|n| n / d)).flatten()
                }
                Metric::Diff(a, b) => Some(self.raw(scheduler, r, a)? - self.raw(scheduler, r, b)?),
                Metric::SumPer(a, b, d, scale) => {
                    let (sum, d) =
                        (self.raw(scheduler, r, a)? + self.raw(scheduler, r, b)?, self.raw(scheduler, r, d)?);
                    (d > 0.0).then(|| sum / d * scale)
                }
            })
            .collect()
    }

    /// The median of `metric`'s per-round values for `scheduler`.
    pub(super) fn median(&self, scheduler: &str, metric: Metric) -> Option<f64> {
        median(&mut self.values(scheduler, metric))
    }

    /// `scheduler`'s median of `metric` over `baseline`'s, if both are measured.
    pub(super) fn ratio(&self, scheduler: &str, baseline: &str, metric: Metric) -> Option<f64> {
        let (a, b) = (self.median(scheduler, metric)?, self.median(baseline, metric)?);
        (b > 0.0).then_some(a / b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_vm::tests::lines;

    /// Medians take the middle value, or the mean of the two middle ones.
    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    /// Per-decision metrics are computed per round before the median, and
    /// ratios compare medians.
    #[test]
    fn derived_metrics_and_ratios() {
        let text = lines(&[
            (1, "rustland", "cost_cpu_ms", 100.0),
            (1, "rustland", "cost_decisions", 1000.0),
            (2, "rustland", "cost_cpu_ms", 300.0),
            (2, "rustland", "cost_decisions", 1000.0),
            (1, "deadline", "cost_cpu_ms", 50.0),
            (1, "deadline", "cost_decisions", 1000.0),
            (2, "deadline", "cost_cpu_ms", 50.0),
            (2, "deadline", "cost_decisions", 0.0),
        ]);
        let r = Results::parse(text.iter().map(String::as_str));
        let per_k = Metric::Per("cost_cpu_ms", "cost_decisions", 1000.0);
        assert_eq!(r.median("rustland", per_k), Some(200.0));
        // A round without decisions gives no value rather than infinity.
        assert_eq!(r.values("deadline", per_k), vec![50.0]);
        assert_eq!(r.ratio("deadline", "rustland", per_k), Some(0.25));
    }

    /// A sum per denominator is taken per round, and only in rounds that have
    /// all three.
    #[test]
    fn sums_per_round() {
        let text = lines(&[
            (1, "deadline", "cost_cpu_ms", 50.0),
            (1, "deadline", "cost_bpf_ms", 30.0),
            (1, "deadline", "cost_decisions", 400.0),
            (2, "deadline", "cost_cpu_ms", 70.0),
            (2, "deadline", "cost_decisions", 500.0),
            (3, "deadline", "cost_cpu_ms", 60.0),
            (3, "deadline", "cost_bpf_ms", 40.0),
            (3, "deadline", "cost_decisions", 0.0),
        ]);
        let r = Results::parse(text.iter().map(String::as_str));
        let total = Metric::SumPer("cost_cpu_ms", "cost_bpf_ms", "cost_decisions", 1000.0);
        assert_eq!(r.values("deadline", total), vec![200.0]);
    }

    /// A difference is taken per round, and only in rounds that have both.
    #[test]
    fn differences_per_round() {
        let text = lines(&[
            (1, "eevdf", "lat_avg_us", 9000.0),
            (1, "eevdf", "lat_wait_us", 1500.0),
            (2, "eevdf", "lat_avg_us", 7000.0),
            (2, "eevdf", "lat_wait_us", 500.0),
            (3, "eevdf", "lat_avg_us", 8000.0),
        ]);
        let r = Results::parse(text.iter().map(String::as_str));
        let rest = Metric::Diff("lat_avg_us", "lat_wait_us");
        assert_eq!(r.values("eevdf", rest), vec![7500.0, 6500.0]);
        assert_eq!(r.median("eevdf", rest), Some(7000.0));
    }
}
