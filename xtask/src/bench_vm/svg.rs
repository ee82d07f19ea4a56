//! The latency chart: the cyclictest percentiles' medians per scheduler,
//! as a self-contained SVG.

use std::fmt::Write as _;

use super::{display_name, fmt_num, results::Results, stats::Metric};

/// Width of the chart (px).
const W: f64 = 640.0;
/// Height of the chart (px).
const H: f64 = 360.0;
/// Margin left of the plot, for the axis labels (px).
const LEFT: f64 = 70.0;
/// Margin right of the plot (px).
const RIGHT: f64 = 20.0;
/// Margin above the plot, for the title (px).
const TOP: f64 = 40.0;
/// Margin below the plot, for the scheduler names and the legend (px).
const BOTTOM: f64 = 60.0;
/// The bars of each scheduler: (metric, legend label, colour).
const SERIES: [(&str, &str, &str); 3] =
    [("lat_p50_us", "p50", "#4e79a7"), ("lat_p99_us", "p99", "#f28e2b"), ("lat_max_us", "max", "#e15759")];

/// The log-scale vertical axis: whole decades from below the smallest bar
/// to above the largest.
struct Scale {
    /// The exponent of the lowest decade.
    low: f64,
    /// Decades shown.
    decades: f64,
    /// Height of the plot (px).
    plot_h: f64,
}

impl Scale {
    /// The axis for `values` (none below 1, at least 10 at the top).
    fn of(values: &[Vec<Option<f64>>]) -> Self {
        let top = values.iter().flatten().flatten().copied().fold(10.0_f64, f64::max);
        let bottom = values.iter().flatten().flatten().copied().fold(top, f64::min).max(1.0);
        // Whole decades from below the smallest bar to above the largest.
        let low = (bottom.log10().floor() - 1.0).max(0.0);
        let decades = (top.log10().ceil() - low).max(1.0);
        Self { low, decades, plot_h: H - TOP - BOTTOM }
    }

    /// The y coordinate of `v`.
    fn y(&self, v: f64) -> f64 {
        TOP + self.plot_h * (1.0 - ((v.max(1.0).log10() - self.low) / self.decades).max(0.0))
    }
}

/// The document's opening, background and title.
fn write_head(svg: &mut String) {
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">cyclictest wakeup latency under CPU saturation (µs, log scale, medians)</text>"#,
        W / 2.0
    );
}

/// A grid line and its label at every decade of `scale`.
fn write_grid(svg: &mut String, scale: &Scale) {
    for d in 0..=scale.decades as u32 {
        let v = 10f64.powi(d as i32 + scale.low as i32);
        let yy = scale.y(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0
        );
    }
}

/// A group of labelled bars per scheduler in `scheds` (`values` in the same
/// order, one per [`SERIES`] entry), and the scheduler's name below.
fn write_bars(svg: &mut String, scale: &Scale, scheds: &[&str], values: &[Vec<Option<f64>>]) {
    let group_w = (W - LEFT - RIGHT) / scheds.len().max(1) as f64;
    let bar_w = group_w * 0.8 / SERIES.len() as f64;
    for (i, (sched, vals)) in scheds.iter().zip(values).enumerate() {
        let x0 = LEFT + group_w * i as f64 + group_w * 0.1;
        for (j, (v, (_, _, color))) in vals.iter().zip(SERIES.iter()).enumerate() {
            let Some(v) = v else { continue };
            let x = x0 + bar_w * j as f64;
            let yy = scale.y(*v);
            let _ = writeln!(
                svg,
                r#"<rect x="{x:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
                bar_w - 2.0,
                (TOP + scale.plot_h - yy).max(0.0),
                x + bar_w / 2.0 - 1.0,
                yy - 3.0,
                fmt_num(*v)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            LEFT + group_w * (i as f64 + 0.5),
            TOP + scale.plot_h + 18.0,
            display_name(sched)
        );
    }
}

/// The legend: a coloured box and label per [`SERIES`] entry.
fn write_legend(svg: &mut String) {
    for (j, (_, label, color)) in SERIES.iter().enumerate() {
        let x = LEFT + 10.0 + 70.0 * j as f64;
        let yy = H - 18.0;
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{color}"/><text x="{:.1}" y="{yy:.1}">{label}</text>"#,
            yy - 10.0,
            x + 16.0
        );
    }
}

impl Results {
    /// A bar chart (log scale) of the cyclictest p50 / p99 / max medians per
    /// scheduler, as a self-contained SVG.
    pub(super) fn latency_svg(&self) -> String {
        let scheds = self.schedulers();
        let values: Vec<Vec<Option<f64>>> =
            scheds.iter().map(|s| SERIES.iter().map(|(m, _, _)| self.median(s, Metric::Raw(m))).collect()).collect();
        let scale = Scale::of(&values);
        let mut svg = String::new();
        write_head(&mut svg);
        write_grid(&mut svg, &scale);
        write_bars(&mut svg, &scale, &scheds, &values);
        write_legend(&mut svg);
        svg.push_str("</svg>\n");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_vm::tests::lines;

    /// The chart is one SVG document with a bar per reported percentile.
    #[test]
    fn latency_chart() {
        let text = lines(&[
            (1, "eevdf", "lat_p50_us", 50.0),
            (1, "eevdf", "lat_p99_us", 500.0),
            (1, "eevdf", "lat_max_us", 5000.0),
            (1, "deadline", "lat_p50_us", 40.0),
        ]);
        let svg = Results::parse(text.iter().map(String::as_str)).latency_svg();
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<rect x=").count(), 4 + 3, "4 bars and 3 legend boxes");
        assert!(svg.contains("scx_relay deadline") && svg.contains(">EEVDF<"));
    }
}
