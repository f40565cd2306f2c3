//! `rusty-sim scale --plot PATH.svg`: throughput against workers, the
//! sweep's curve (one per MTU) over the thesis's Rusty and Linux curves
//! ([`rusty_fixtures::thesis_curve`]: Rusty's workers are the cores less
//! one, Linux serves on every core, so its x is the cores); and, when the
//! sweep has several MTUs, throughput against MTU (one curve per worker
//! count) in a second file, [`mtu_path`] (`PATH-mtu.svg`).
//!
//! The SVG is drawn in memory (plotters' SVG backend, text as `<text>`
//! elements, no fonts needed) and then written, so a file is either whole
//! or absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::ScaleResult;

/// The size of each chart, in pixels.
pub const SIZE: (u32, u32) = (960, 600);

/// Legend name of the thesis stack's curve.
pub const THESIS_RUSTY: &str = "thesis: the thesis stack (TILE-Gx36)";
/// Legend name of the thesis's Linux curve.
pub const THESIS_LINUX: &str = "thesis: Linux SO_REUSEPORT (TILE-Gx36)";

// Legend names are plain text: no character that SVG must escape.

/// Why a plot could not be drawn or written.
#[derive(Debug)]
pub enum PlotError {
    /// plotters failed.
    Draw(String),
    /// The file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlotError::Draw(e) => write!(f, "cannot draw the plot: {e}"),
            PlotError::Write { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for PlotError {}

fn draw_err<E: std::fmt::Debug>(e: E) -> PlotError {
    PlotError::Draw(format!("{e:?}"))
}

/// The second chart's file: `PATH-mtu.svg` for `PATH.svg` (`PATH-mtu`
/// plus `PATH`'s extension, or `.svg` without one).
pub fn mtu_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "svg".into());
    path.with_file_name(format!("{stem}-mtu.{ext}"))
}

/// A series: legend name and points.
type Series = (String, Vec<(f64, f64)>);

/// Draws line charts of `series` as an SVG document.
fn chart(title: &str, x_label: &str, series: &[Series]) -> Result<String, PlotError> {
    let all = series.iter().flat_map(|(_, p)| p.iter());
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let x_min = all.clone().map(|p| p.0).fold(x_max, f64::min).min(0.0);
    let y_max = all.map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(60)
            .build_cartesian_2d(x_min..x_max * 1.02, 0.0..y_max)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc("throughput (Gbit/s)")
            .draw()
            .map_err(draw_err)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(draw_err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(draw_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// The thesis's two curves, x = workers (Rusty) and cores (Linux).
fn thesis_series() -> Vec<Series> {
    let points = rusty_fixtures::thesis_curve::thesis_scalability();
    let rusty = points
        .iter()
        .filter(|p| p.rusty_workers() > 0)
        .filter_map(|p| p.rusty_gbps.map(|g| (f64::from(p.rusty_workers()), g)))
        .collect();
    let linux = points
        .iter()
        .filter_map(|p| p.linux_gbps.map(|g| (f64::from(p.cores), g)))
        .collect();
    vec![(THESIS_RUSTY.into(), rusty), (THESIS_LINUX.into(), linux)]
}

/// The chart of throughput against workers, as SVG text.
pub fn workers_svg(results: &[ScaleResult]) -> Result<String, PlotError> {
    let mut by_mtu: BTreeMap<u16, Vec<(f64, f64)>> = BTreeMap::new();
    for r in results {
        by_mtu
            .entry(r.mtu)
            .or_default()
            .push((f64::from(r.workers), r.gbps));
    }
    let profile = results.first().map_or("", |r| r.profile.as_str());
    let mut series = thesis_series();
    for (mtu, mut points) in by_mtu {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        series.push((format!("rusty-sim scale: {profile}, MTU {mtu}"), points));
    }
    chart(
        "Throughput against workers (thesis benchmark)",
        "workers (thesis Linux: cores)",
        &series,
    )
}

/// The chart of throughput against MTU, one curve per worker count, as
/// SVG text.
pub fn mtu_svg(results: &[ScaleResult]) -> Result<String, PlotError> {
    let mut by_workers: BTreeMap<u32, Vec<(f64, f64)>> = BTreeMap::new();
    for r in results {
        by_workers
            .entry(r.workers)
            .or_default()
            .push((f64::from(r.mtu), r.gbps));
    }
    let profile = results.first().map_or("", |r| r.profile.as_str());
    let series: Vec<Series> = by_workers
        .into_iter()
        .map(|(workers, mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            (format!("{profile}, {workers} workers"), points)
        })
        .collect();
    chart(
        "Throughput against MTU (thesis benchmark)",
        "MTU (bytes)",
        &series,
    )
}

/// Writes the workers chart to `path`, and the MTU chart to
/// [`mtu_path`]`(path)` when the results have several MTUs; returns the
/// files written.
pub fn write(results: &[ScaleResult], path: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let write = |path: &Path, svg: String| {
        std::fs::write(path, svg).map_err(|source| PlotError::Write {
            path: path.to_path_buf(),
            source,
        })
    };
    write(path, workers_svg(results)?)?;
    let mut written = vec![path.to_path_buf()];
    let mut mtus: Vec<u16> = results.iter().map(|r| r.mtu).collect();
    mtus.sort_unstable();
    mtus.dedup();
    if mtus.len() > 1 {
        let second = mtu_path(path);
        write(&second, mtu_svg(results)?)?;
        written.push(second);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mtu_chart_sits_beside_the_first() {
        assert_eq!(
            mtu_path(Path::new("/a/b/x.svg")),
            Path::new("/a/b/x-mtu.svg")
        );
        assert_eq!(mtu_path(Path::new("x")), Path::new("x-mtu.svg"));
    }

    #[test]
    fn an_empty_sweep_still_draws_the_thesis() {
        let svg = workers_svg(&[]).unwrap();
        assert!(
            svg.starts_with("<svg") || svg.starts_with("<?xml"),
            "{svg:.80}"
        );
        assert!(svg.contains(THESIS_RUSTY) && svg.contains(THESIS_LINUX));
    }
}
