//! Charts drawn with plotters, as PNG or SVG. Each has a title, labelled axes
//! with units and, where there are several series, a legend. Text uses the
//! bundled DejaVu Sans (assets/fonts), so charts look the same on a machine
//! without system fonts.

use std::path::Path;
use std::sync::Once;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;

use crate::metrics::RunResult;
use crate::workload::Workload;

/// Output format of a chart, from the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartFormat {
    Png,
    Svg,
}

/// Chart size, in pixels.
pub const SIZE: (u32, u32) = (960, 540);

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        // The font is compiled in; failing to parse it is a build defect.
        plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../../assets/fonts/DejaVuSans.ttf"),
        )
        .map_err(|_| ())
        .expect("the bundled DejaVu Sans font parses");
    });
}

/// A chart that could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot draw chart: {message}", path.display())]
pub struct PlotError {
    pub path: std::path::PathBuf,
    pub message: String,
}

fn err(path: &Path, e: impl std::fmt::Display) -> PlotError {
    PlotError {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn format_of(path: &Path) -> ChartFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => ChartFormat::Svg,
        _ => ChartFormat::Png,
    }
}

/// Draws `draw` onto a PNG or SVG file at `path` (by extension), writing
/// through a temporary file and a rename.
fn render(
    path: &Path,
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<(), String> + Copy,
    draw_png: impl FnOnce(DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<(), String>,
) -> Result<(), PlotError> {
    register_font();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| err(path, e))?;
    match format_of(path) {
        ChartFormat::Svg => {
            let svg = render_svg(draw).map_err(|e| err(path, e))?;
            super::write_atomic(dir, &file_name(path), svg.as_bytes()).map_err(|e| err(path, e))
        }
        ChartFormat::Png => {
            let tmp = dir.join(format!(".{}.tmp.png", file_name(path)));
            {
                let area = BitMapBackend::new(&tmp, SIZE).into_drawing_area();
                draw_png(area).map_err(|e| err(path, e))?;
            }
            std::fs::rename(&tmp, path).map_err(|e| err(path, e))
        }
    }
}

/// Draws `draw` into an SVG document held in memory.
fn render_svg(
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<(), String>,
) -> Result<String, String> {
    register_font();
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(area)?;
    }
    Ok(svg)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "chart".into())
}

/// A bar chart of labelled values.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub bars: Vec<(String, f64)>,
}

/// One named line of a line chart: (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line chart of one or more series.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

/// Where the legend of a line chart goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegendPosition {
    #[default]
    LowerRight,
    UpperRight,
    UpperLeft,
    LowerLeft,
}

/// How a [`LineChart`] is drawn beyond its data. The default is what
/// [`LineChart::write`] uses: linear axes, y from 0 to 5% above the largest
/// value, legend at the lower right.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ChartOptions {
    /// Logarithmic x axis (base 10). Points at x ≤ 0 cannot be shown on it:
    /// callers floor them first (see [`cdf_points`]).
    pub log_x: bool,
    /// Fixed top of the y axis (e.g. 100 for percentages) instead of 5% above
    /// the largest value.
    pub y_max: Option<f64>,
    pub legend: LegendPosition,
}

/// Colours of successive series: the colour-blind friendly Okabe–Ito palette,
/// then black, grey and dark red so ten series stay distinct.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
    RGBColor(128, 128, 128),
    RGBColor(139, 0, 0),
];

fn draw_bars<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    c: &BarChart,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = c.bars.len().max(1);
    let top = c
        .bars
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.1;
    let labels: Vec<String> = c.bars.iter().map(|(l, _)| l.clone()).collect();
    let mut chart = ChartBuilder::on(&area)
        .caption(&c.title, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..top)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(&c.x_label)
        .y_desc(&c.y_label)
        .x_labels(n)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_label_formatter(&|v| compact(*v))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(c.bars.iter().enumerate().map(|(i, (_, v))| {
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                PALETTE[0].filled(),
            );
            bar.set_margin(0, 0, 6, 6);
            bar
        }))
        .map_err(|e| e.to_string())?;
    area.present().map_err(|e| e.to_string())
}

fn draw_lines<DB: DrawingBackend>(
    area: DrawingArea<DB, plotters::coord::Shift>,
    c: &LineChart,
    o: &ChartOptions,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(|e| e.to_string())?;
    let pts = c.series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0_f64);
    for &(x, y) in pts {
        // A log axis cannot hold x ≤ 0; such points are left out of the range
        // (and clipped by plotters when drawn).
        if o.log_x && x <= 0.0 {
            continue;
        }
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (x0, x1) = (if o.log_x { 1.0 } else { 0.0 }, 1.0);
    }
    if x1 <= x0 {
        x1 = if o.log_x { x0 * 10.0 } else { x0 + 1.0 };
    }
    let y1 = match o.y_max {
        Some(top) if top > 0.0 => top,
        _ if y1 <= 0.0 => 1.0,
        _ => y1 * 1.05,
    };
    let mut builder = ChartBuilder::on(&area);
    builder
        .caption(&c.title, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80);
    if o.log_x {
        use plotters::coord::combinators::IntoLogRange;
        let chart = builder
            .build_cartesian_2d((x0..x1).log_scale(), 0.0..y1)
            .map_err(|e| e.to_string())?;
        draw_line_series(chart, c, o)?;
    } else {
        let chart = builder
            .build_cartesian_2d(x0..x1, 0.0..y1)
            .map_err(|e| e.to_string())?;
        draw_line_series(chart, c, o)?;
    }
    area.present().map_err(|e| e.to_string())
}

/// The mesh, lines and legend of a line chart, for a linear or a log x axis.
fn draw_line_series<'a, DB, X>(
    mut chart: ChartContext<'a, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    c: &LineChart,
    o: &ChartOptions,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(&c.x_label)
        .y_desc(&c.y_label)
        .x_label_formatter(&|v| compact(*v))
        .y_label_formatter(&|v| compact(*v))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, s) in c.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                s.points
                    .iter()
                    .copied()
                    .filter(|&(x, _)| !o.log_x || x > 0.0),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(&s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
    }
    if c.series.len() > 1 || c.series.first().is_some_and(|s| !s.name.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .position(match o.legend {
                LegendPosition::LowerRight => SeriesLabelPosition::LowerRight,
                LegendPosition::UpperRight => SeriesLabelPosition::UpperRight,
                LegendPosition::UpperLeft => SeriesLabelPosition::UpperLeft,
                LegendPosition::LowerLeft => SeriesLabelPosition::LowerLeft,
            })
            .draw()
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Axis numbers without noise: `80000` → `80k`, `2.5` → `2.5`, `3.0` → `3`.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{suffix}")
}

impl BarChart {
    /// Writes the chart to `path` (`.png` or `.svg`).
    pub fn write(&self, path: &Path) -> Result<(), PlotError> {
        render(path, |a| draw_bars(a, self), |a| draw_bars(a, self))
    }
}

impl LineChart {
    /// Writes the chart to `path` (`.png` or `.svg`).
    pub fn write(&self, path: &Path) -> Result<(), PlotError> {
        self.write_with(path, &ChartOptions::default())
    }

    /// Writes the chart to `path` (`.png` or `.svg`), drawn with `options`.
    pub fn write_with(&self, path: &Path, options: &ChartOptions) -> Result<(), PlotError> {
        render(
            path,
            |a| draw_lines(a, self, options),
            |a| draw_lines(a, self, options),
        )
    }

    /// The chart as an SVG document (bytes for a file or an HTML page; the
    /// same data always gives the same text).
    pub fn to_svg(&self, options: &ChartOptions) -> Result<String, PlotError> {
        render_svg(|a| draw_lines(a, self, options)).map_err(|message| PlotError {
            path: format!("<svg of {:?}>", self.title).into(),
            message,
        })
    }
}

/// Points of an empirical CDF of `values` (any unit): (smallest value, 0 %),
/// then (value, % of values ≤ it) in increasing order, one per value when there are at most
/// `max_points` of them, otherwise at `max_points` evenly spaced ranks (the
/// first and last always kept) so a chart of 100k jobs stays small. Values
/// below `floor` are drawn at `floor` (a log axis cannot show 0: waits of 0 s
/// appear at 1 s with `floor = 1.0`). Empty input → no points.
pub fn cdf_points(values: &[f64], floor: f64, max_points: usize) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().map(|&x| x.max(floor)).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let pct = |rank: usize| (rank + 1) as f64 * 100.0 / n as f64;
    let keep = max_points.max(2);
    // The curve rises from 0 % at the smallest value.
    let mut points = vec![(v[0], 0.0)];
    if n <= keep {
        points.extend(v.iter().enumerate().map(|(i, &x)| (x, pct(i))));
    } else {
        points.extend((0..keep).map(|k| {
            let rank = k * (n - 1) / (keep - 1);
            (v[rank], pct(rank))
        }));
    }
    points
}

/// At most `max_points` points of a time series: consecutive points are
/// averaged in equal buckets (both coordinates) when there are more. Keeps a
/// long timeline's chart small without dropping short spikes entirely.
pub fn thin_mean(points: &[(f64, f64)], max_points: usize) -> Vec<(f64, f64)> {
    let keep = max_points.max(1);
    if points.len() <= keep {
        return points.to_vec();
    }
    let bucket = points.len().div_ceil(keep);
    points
        .chunks(bucket)
        .map(|c| {
            let n = c.len() as f64;
            (
                c.iter().map(|p| p.0).sum::<f64>() / n,
                c.iter().map(|p| p.1).sum::<f64>() / n,
            )
        })
        .collect()
}

/// Most points a chart series gets (see [`cdf_points`], [`thin_mean`]).
pub const MAX_SERIES_POINTS: usize = 600;

/// Series of one run, ready for a chart: JCTs (s) of finished jobs.
pub fn jct_values_s(workload: &Workload, run: &RunResult) -> Vec<f64> {
    run.outcomes
        .iter()
        .filter_map(|o| o.end.map(|e| e.since(workload.job(o.job).submit)))
        .map(|ms| ms as f64 / 1000.0)
        .collect()
}

/// Waits (s) of jobs that started.
pub fn wait_values_s(workload: &Workload, run: &RunResult) -> Vec<f64> {
    run.outcomes
        .iter()
        .filter_map(|o| o.start.map(|s| s.since(workload.job(o.job).submit)))
        .map(|ms| ms as f64 / 1000.0)
        .collect()
}

/// (time in hours, allocated GPUs as % of the ready GPUs) per timeline sample.
pub fn gpu_allocation_points(run: &RunResult) -> Vec<(f64, f64)> {
    run.timeline
        .iter()
        .map(|s| {
            let pct = if s.gpu_milli_capacity == 0 {
                0.0
            } else {
                s.gpu_milli_used as f64 * 100.0 / s.gpu_milli_capacity as f64
            };
            (s.time.as_secs_f64() / 3600.0, pct)
        })
        .collect()
}

/// (time in hours, jobs pending) per timeline sample.
pub fn pending_points(run: &RunResult) -> Vec<(f64, f64)> {
    run.timeline
        .iter()
        .map(|s| (s.time.as_secs_f64() / 3600.0, f64::from(s.pending_jobs)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_points_rank_floor_and_thin() {
        let p = cdf_points(&[30.0, 0.0, 10.0, 20.0], 1.0, 10);
        assert_eq!(
            p,
            vec![
                (1.0, 0.0),
                (1.0, 25.0),
                (10.0, 50.0),
                (20.0, 75.0),
                (30.0, 100.0)
            ]
        );
        let many: Vec<f64> = (1..=1000).map(f64::from).collect();
        let p = cdf_points(&many, 0.0, 11);
        assert_eq!(p.len(), 12);
        assert_eq!(p[1], (1.0, 0.1));
        assert_eq!(p[11], (1000.0, 100.0));
        assert!(cdf_points(&[], 1.0, 10).is_empty());
    }

    #[test]
    fn thin_mean_averages_buckets() {
        let pts: Vec<(f64, f64)> = (0..6).map(|i| (f64::from(i), f64::from(i * 10))).collect();
        assert_eq!(
            thin_mean(&pts, 3),
            vec![(0.5, 5.0), (2.5, 25.0), (4.5, 45.0)]
        );
        assert_eq!(thin_mean(&pts, 6), pts);
    }
}
