//! What a weighted-fair scheduler gives CPU-bound tasks, and how far a
//! measured split is from it. One home for the arithmetic that the guest's
//! `share_probe`, the simulator's report and `cargo xtask bench-vm`'s
//! simulator-fidelity table share.

/// Splits `cpus` CPUs (a whole number, or the CPU time some tasks had
/// between them over a period, in CPUs) in proportion to `weights`, no
/// task above one CPU, what a capped task cannot use going to the others
/// (water filling): the shares, in CPUs, that the kernel's fair class gives
/// always-runnable tasks free to run on all of them.
///
/// A nice -5 hog (3121) beside a nice 10 hog (110) on two CPUs gets one
/// CPU, not 3121/3231 of two; the other gets the other CPU.
///
/// Weights and `cpus` are finite and not negative (a debug build checks);
/// a NaN `cpus` gives no share.
pub fn water_fill(weights: &[f64], cpus: f64) -> Vec<f64> {
    debug_assert!(weights.iter().all(|w| w.is_finite() && *w >= 0.0), "weights {weights:?}");
    debug_assert!(cpus.is_nan() || cpus >= 0.0, "cpus {cpus}");
    let n = weights.len();
    if cpus.is_nan() {
        return vec![0.0; n];
    }
    let mut share = vec![0.0; n];
    let mut capped = vec![false; n];
    let mut left = cpus.max(0.0).min(n as f64);
    loop {
        let open: f64 = (0..n).filter(|&i| !capped[i]).map(|i| weights[i]).sum();
        if open <= 0.0 {
            return share;
        }
        let mut newly = false;
        for i in 0..n {
            if !capped[i] && left * weights[i] / open > 1.0 {
                capped[i] = true;
                share[i] = 1.0;
                left -= 1.0;
                newly = true;
            }
        }
        if !newly {
            for i in (0..n).filter(|&i| !capped[i]) {
                share[i] = left * weights[i] / open;
            }
            return share;
        }
    }
}

/// Jain's fairness index of `xs`: (Σx)² / (n·Σx²), in 1/n..=1; 1 when all
/// are equal. `None` for no values or all zero.
pub fn jain(xs: &[f64]) -> Option<f64> {
    let sum: f64 = xs.iter().sum();
    let sum_sq: f64 = xs.iter().map(|x| x * x).sum();
    (!xs.is_empty() && sum_sq > 0.0).then(|| sum * sum / (xs.len() as f64 * sum_sq))
}

/// Jain's index of each task's CPU share over its [`water_fill`] share of
/// what the tasks had between them: 1.0 when the CPU time follows the
/// weights as the fair class's would, lower as it strays. `cpu` is each
/// task's CPU time over the period in CPUs (0.5: half a CPU), `weights` its
/// weight. The split is judged against the CPU time the tasks had between
/// them, so CPU time that other load (the scheduler itself) took is not
/// counted against it. `None` when there is no task, no CPU time, or no
/// weight; a task of weight 0 that had CPU time counts as starved (ratio 0).
pub fn fair_share_index(cpu: &[f64], weights: &[f64]) -> Option<f64> {
    assert_eq!(cpu.len(), weights.len(), "one weight per task");
    let fair = water_fill(weights, cpu.iter().sum());
    let ratios: Vec<f64> = cpu.iter().zip(&fair).map(|(c, f)| if *f > 0.0 { c / f } else { 0.0 }).collect();
    jain(&ratios)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cpu_splits_by_weight() {
        let s = water_fill(&[1024.0, 110.0], 1.0);
        assert!((s[0] - 1024.0 / 1134.0).abs() < 1e-12 && (s[1] - 110.0 / 1134.0).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn no_task_gets_more_than_one_cpu() {
        let s = water_fill(&[3121.0, 110.0, 3.0], 2.0);
        assert_eq!(s[0], 1.0);
        assert!((s[1] - 110.0 / 113.0).abs() < 1e-12 && (s[2] - 3.0 / 113.0).abs() < 1e-12, "{s:?}");
        assert_eq!(water_fill(&[1024.0, 15.0], 4.0), vec![1.0, 1.0]);
        assert_eq!(water_fill(&[0.0, 0.0], 2.0), vec![0.0, 0.0]);
        // A fraction of the CPUs: 2.5 CPUs, the heavy task capped at one.
        let s = water_fill(&[3121.0, 1024.0, 1024.0], 2.5);
        assert_eq!(s, vec![1.0, 0.75, 0.75]);
    }

    #[test]
    fn jain_index_bounds() {
        assert_eq!(jain(&[2.0, 2.0, 2.0]), Some(1.0));
        assert_eq!(jain(&[1.0, 0.0, 0.0, 0.0]), Some(0.25));
        assert_eq!(jain(&[]), None);
        assert_eq!(jain(&[0.0]), None);
    }

    /// A split that follows the capped fair shares scores 1; one that
    /// ignores the weights scores lower, although its CPU time per weight
    /// would not be equal under a fair split either.
    #[test]
    fn fair_share_index_scores_the_capped_fair_split_one() {
        // Two CPUs: nice -5 capped at one CPU, nice 0 and nice 10 split the other 1024 : 110.
        let weights = [3121.0, 1024.0, 110.0];
        let fair = [1.0, 1024.0 / 1134.0, 110.0 / 1134.0];
        let index = fair_share_index(&fair, &weights).expect("CPU time");
        assert!((index - 1.0).abs() < 1e-12, "{index}");
        // With no cap in play, only the ratios count.
        let index = fair_share_index(&[0.5, 0.25], &[2048.0, 1024.0]).expect("CPU time");
        assert!((index - 1.0).abs() < 1e-12, "{index}");
        let blind = fair_share_index(&[2.0 / 3.0; 3], &weights).expect("CPU time");
        assert!(blind < 0.7, "{blind}");
        assert_eq!(fair_share_index(&[0.0, 0.0], &[1.0, 1.0]), None);
    }
}
