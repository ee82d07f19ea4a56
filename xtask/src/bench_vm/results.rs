//! The guest's raw output: `relay-bench: <round> <scheduler> <metric>
//! <value>` lines (or `... error <message>`), parsed into [`Results`].

use super::{LINE_PREFIX, SCHEDULERS};

/// One measurement from the guest.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sample {
    /// The round, from 1.
    pub(super) round: u32,
    /// The scheduler's short name (see `SCHEDULERS`).
    pub(super) scheduler: String,
    /// The raw metric's name.
    pub(super) metric: String,
    /// The value (finite).
    pub(super) value: f64,
}

/// What one console line says.
#[derive(Debug, PartialEq)]
enum Parsed {
    /// A measurement.
    Sample(Sample),
    /// An error the guest reported, or an unreadable measurement.
    Error(String),
    /// Not a measurement line.
    Other,
}

/// What `line` says: a measurement, an error, or nothing for us.
fn parse_line(line: &str) -> Parsed {
    let Some(rest) = line.strip_prefix(LINE_PREFIX) else { return Parsed::Other };
    let mut words = rest.split_whitespace();
    let (Some(round), Some(scheduler), Some(metric)) = (words.next(), words.next(), words.next()) else {
        return Parsed::Other;
    };
    let Ok(round) = round.parse() else { return Parsed::Other };
    if metric == "error" {
        return Parsed::Error(format!("round {round}, {scheduler}: {}", words.collect::<Vec<_>>().join(" ")));
    }
    match words.next().map(str::parse::<f64>) {
        Some(Ok(value)) if value.is_finite() => {
            Parsed::Sample(Sample { round, scheduler: scheduler.to_owned(), metric: metric.to_owned(), value })
        }
        _ => Parsed::Error(format!("round {round}, {scheduler}: unreadable {metric} in `{line}`")),
    }
}

/// Everything the guest reported.
#[derive(Debug, Default)]
pub(super) struct Results {
    /// The measurements, in the order reported.
    pub(super) samples: Vec<Sample>,
    /// The errors, in the order reported.
    pub(super) errors: Vec<String>,
}

impl Results {
    /// The measurements and errors among `lines`.
    pub(super) fn parse<'a>(lines: impl Iterator<Item = &'a str>) -> Self {
        let mut results = Self::default();
        for line in lines {
            match parse_line(line) {
                Parsed::Sample(s) => results.samples.push(s),
                Parsed::Error(e) => results.errors.push(e),
                Parsed::Other => {}
            }
        }
        results
    }

    /// Schedulers that reported something, in table order.
    pub(super) fn schedulers(&self) -> Vec<&'static str> {
        SCHEDULERS.iter().copied().filter(|s| self.samples.iter().any(|x| x.scheduler == *s)).collect()
    }

    /// `metric` of `scheduler` in `round`, if reported.
    pub(super) fn raw(&self, scheduler: &str, round: u32, metric: &str) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.scheduler == scheduler && s.round == round && s.metric == metric)
            .map(|s| s.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Measurement and error lines are read; anything else is ignored.
    #[test]
    fn lines_are_parsed() {
        assert_eq!(
            parse_line("relay-bench: 2 deadline hackbench_s 3.25"),
            Parsed::Sample(Sample {
                round: 2,
                scheduler: "deadline".into(),
                metric: "hackbench_s".into(),
                value: 3.25
            })
        );
        assert_eq!(
            parse_line("relay-bench: 1 rustland error not enabled (state disabled)"),
            Parsed::Error("round 1, rustland: not enabled (state disabled)".into())
        );
        assert!(matches!(parse_line("relay-bench: 1 fifo lat_p99_us x"), Parsed::Error(_)));
        assert_eq!(parse_line("relay-bench: done"), Parsed::Other);
        assert_eq!(parse_line("[ 1.0] sched_ext: enabled"), Parsed::Other);
    }
}
