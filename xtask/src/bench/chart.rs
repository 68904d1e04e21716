//! SVG bar charts of a benchmark run (plotters): one per criterion group
//! (medians, ours in blue, raw engines in grey, native in orange) and one
//! of memory per idle instance, on log scales.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use super::{Run, groups};

const OURS: RGBColor = RGBColor(31, 119, 180);
const RAW: RGBColor = RGBColor(127, 127, 127);
const NATIVE: RGBColor = RGBColor(255, 127, 14);

/// Draws every chart into `dir`; returns `(group, file name)` for each.
pub(super) fn draw_all(run: &Run, dir: &Path) -> Result<Vec<(String, String)>> {
    let mut charts = Vec::new();
    for group in groups(&run.measurements) {
        let bars: Vec<(String, f64)> = run
            .measurements
            .iter()
            .filter(|m| m.group == group)
            .map(|m| (m.bench.clone(), m.median_ns))
            .collect();
        let file = format!("{group}.svg");
        bar_chart(
            &dir.join(&file),
            group,
            "median time (ns, log scale)",
            &bars,
        )?;
        charts.push((group.to_owned(), file));
    }
    if !run.density.is_empty() {
        let bars: Vec<(String, f64)> = run
            .density
            .iter()
            .map(|d| (d.subject.clone(), d.kib_per_instance()))
            .collect();
        let file = "density.svg".to_owned();
        bar_chart(
            &dir.join(&file),
            "memory per idle instance",
            "KiB per instance (resident set growth, log scale)",
            &bars,
        )?;
        charts.push(("density".into(), file));
    }
    Ok(charts)
}

fn color(name: &str) -> RGBColor {
    if name.starts_with("ours") {
        OURS
    } else if name.starts_with("native") {
        NATIVE
    } else {
        RAW
    }
}

/// A horizontal bar chart of `bars` (label, value) on a log scale: the
/// values of one chart span orders of magnitude.
fn bar_chart(path: &Path, title: &str, axis: &str, bars: &[(String, f64)]) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let n = bars.len() as u32;
    let root = SVGBackend::new(path, (820, 90 + 34 * n)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let max = bars.iter().map(|b| b.1).fold(f64::MIN_POSITIVE, f64::max);
    let min = bars.iter().map(|b| b.1).fold(f64::MAX, f64::min).max(1e-3);
    let labels: Vec<&str> = bars.iter().map(|b| b.0.as_str()).collect();
    let y_label = |v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(i) => labels.get(*i as usize).map_or("", |l| l).to_owned(),
        _ => String::new(),
    };
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(230);
    let rect = |i: u32, from: f64, to: f64, name: &str| {
        Rectangle::new(
            [
                (from, SegmentValue::Exact(i)),
                (to, SegmentValue::Exact(i + 1)),
            ],
            color(name).filled(),
        )
    };
    let floor = min / 2.0;
    let mut chart = builder
        .build_cartesian_2d((floor..max * 2.0).log_scale(), (0..n).into_segmented())
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(bars.len())
        .y_label_formatter(&y_label)
        .x_desc(axis)
        .draw()
        .map_err(|e| fail(&e))?;
    chart
        .draw_series(
            bars.iter()
                .enumerate()
                .map(|(i, (name, v))| rect(i as u32, floor, *v, name)),
        )
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Density, Measurement};
    use super::*;

    #[test]
    fn each_group_and_the_density_get_a_chart_with_their_bars() {
        let dir = std::env::temp_dir().join(format!("xtask-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let m = |bench: &str, ns: f64| Measurement {
            group: "call-add".into(),
            bench: bench.into(),
            median_ns: ns,
        };
        let run = Run {
            measurements: vec![
                m("native", 1.4),
                m("ours-typed", 290.0),
                m("raw-wasmi", 60.0),
            ],
            density: vec![Density {
                subject: "raw-wasmtime".into(),
                instances: 10,
                rss_growth_bytes: 81920,
            }],
        };
        let charts = draw_all(&run, &dir).unwrap();
        assert_eq!(
            charts,
            [
                ("call-add".to_owned(), "call-add.svg".to_owned()),
                ("density".to_owned(), "density.svg".to_owned())
            ]
        );
        let svg = std::fs::read_to_string(dir.join("call-add.svg")).unwrap();
        let density = std::fs::read_to_string(dir.join("density.svg")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        for label in ["native", "ours-typed", "raw-wasmi", "call-add"] {
            assert!(svg.contains(label), "no {label} in the chart");
        }
        // One filled bar per benchmark, in its colour.
        assert_eq!(svg.matches("fill=\"#1F77B4\"").count(), 1, "{svg}");
        assert_eq!(svg.matches("fill=\"#FF7F0E\"").count(), 1, "{svg}");
        assert!(density.contains("raw-wasmtime"));
    }
}
