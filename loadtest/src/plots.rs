//! SVG plots of a [`Report`] (plotters, SVG backend, no font files needed):
//!
//! - `latency.svg`: p50 / p99 / max by scheduled second, chaos actions shaded;
//! - `throughput.svg`: offered and completed documents per second;
//! - `lag.svg`: consumer lag per stage (when stage metrics were scraped);
//! - `rss.svg`: RSS per stage process (when processes were watched);
//! - `ramp.svg`: p50 / p99 versus offered rate, with the SLO (ramp only).

use std::path::Path;

use plotters::prelude::*;

use crate::report::Report;

const SIZE: (u32, u32) = (960, 440);

/// A named series of (x, y) points.
type Series = (String, Vec<(f64, f64)>);

/// Writes every plot that has data; returns the file names.
pub fn write_all(r: &Report, dir: &Path) -> Result<Vec<String>, String> {
    let mut files = Vec::new();
    let spans: Vec<(f64, f64)> = r.chaos.iter().map(|e| (e.at_secs, e.end_secs.max(e.at_secs + 0.5))).collect();
    let t = |f: fn(&crate::report::TimelineRow) -> f64| r.timeline.iter().filter(|b| f(b) > 0.0).map(|b| (b.t, f(b))).collect::<Vec<_>>();
    if !r.timeline.is_empty() {
        let series = vec![("p50".to_string(), t(|b| b.p50_ms)), ("p99".to_string(), t(|b| b.p99_ms)), ("max".to_string(), t(|b| b.max_ms))];
        let title = format!("docflow {}: end-to-end latency by scheduled second", r.mode);
        lines(&dir.join("latency.svg"), &title, "seconds from start", "latency (ms)", &series, &spans, None)?;
        files.push("latency.svg".to_string());
        let series = vec![("offered".to_string(), r.timeline.iter().map(|b| (b.t, b.offered_per_s)).collect()), ("completed".to_string(), r.timeline.iter().map(|b| (b.t, b.completed_per_s)).collect())];
        let title = format!("docflow {}: throughput", r.mode);
        lines(&dir.join("throughput.svg"), &title, "seconds from start", "documents / s", &series, &spans, None)?;
        files.push("throughput.svg".to_string());
    }
    let mut lag: std::collections::BTreeMap<String, Vec<(f64, f64)>> = Default::default();
    let mut rss: std::collections::BTreeMap<String, Vec<(f64, f64)>> = Default::default();
    for s in &r.samples {
        for (name, p) in &s.processes {
            for (stage, v) in &p.lag {
                lag.entry(stage.clone()).or_default().push((s.t, *v));
            }
            if let Some(m) = p.rss_mb {
                rss.entry(name.clone()).or_default().push((s.t, m));
            }
        }
    }
    if !lag.is_empty() {
        let series: Vec<Series> = lag.into_iter().collect();
        lines(&dir.join("lag.svg"), &format!("docflow {}: consumer lag per stage", r.mode), "seconds from start", "records", &series, &spans, None)?;
        files.push("lag.svg".to_string());
    }
    if !rss.is_empty() {
        let series: Vec<Series> = rss.into_iter().collect();
        lines(&dir.join("rss.svg"), &format!("docflow {}: RSS per stage process", r.mode), "seconds from start", "MB", &series, &spans, None)?;
        files.push("rss.svg".to_string());
    }
    if let Some(ramp) = &r.ramp {
        let judged: Vec<_> = r.phases.iter().filter(|p| p.latency.samples > 0 && p.label != crate::run::WARMUP).collect();
        let series = vec![
            ("p50".to_string(), judged.iter().map(|p| (p.rate, p.latency.p50_ms)).collect()),
            ("p99".to_string(), judged.iter().map(|p| (p.rate, p.latency.p99_ms)).collect()),
        ];
        let title = format!("docflow ramp: latency vs offered load (max sustainable {:.0}/s)", ramp.max_sustainable_rate);
        lines(&dir.join("ramp.svg"), &title, "offered documents / s", "latency (ms)", &series, &[], Some(ramp.slo_p99_ms))?;
        files.push("ramp.svg".to_string());
    }
    Ok(files)
}

/// One line chart; `spans` are shaded (chaos), `hline` is a dashed limit (SLO).
fn lines(path: &Path, title: &str, x_desc: &str, y_desc: &str, series: &[Series], spans: &[(f64, f64)], hline: Option<f64>) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| format!("plotting {}: {e}", path.display());
    let xs = series.iter().flat_map(|s| s.1.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = if x0.is_finite() && x1 > x0 { (x0, x1) } else { (0.0, 1.0) };
    let ymax = series.iter().flat_map(|s| s.1.iter().map(|p| p.1)).chain(hline).fold(0.0f64, f64::max);
    let ymax = if ymax > 0.0 { ymax * 1.08 } else { 1.0 };

    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, 0.0..ymax)
        .map_err(|x| e(&x))?;
    chart.configure_mesh().x_desc(x_desc).y_desc(y_desc).draw().map_err(|x| e(&x))?;
    for (a, b) in spans {
        chart
            .draw_series(std::iter::once(Rectangle::new([(*a, 0.0), (*b, ymax)], RED.mix(0.12).filled())))
            .map_err(|x| e(&x))?;
    }
    if let Some(y) = hline {
        chart
            .draw_series(LineSeries::new(vec![(x0, y), (x1, y)], BLACK.stroke_width(1)))
            .map_err(|x| e(&x))?
            .label(format!("SLO {y:.0}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        if pts.len() < 30 {
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled()))).map_err(|x| e(&x))?;
        }
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw().map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}
