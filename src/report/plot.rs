//! Charts drawn with plotters, as PNG or SVG. Each has a title, labelled axes
//! with units and, where there are several series, a legend. Text uses the
//! bundled DejaVu Sans (assets/fonts), so charts look the same on a machine
//! without system fonts.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

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
            let mut svg = String::new();
            {
                let area = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
                draw(area).map_err(|e| err(path, e))?;
            }
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
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(|e| e.to_string())?;
    let pts = c.series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0_f64);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let y1 = if y1 <= 0.0 { 1.0 } else { y1 * 1.05 };
    let mut chart = ChartBuilder::on(&area)
        .caption(&c.title, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, 0.0..y1)
        .map_err(|e| e.to_string())?;
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
                s.points.iter().copied(),
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
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    area.present().map_err(|e| e.to_string())
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
        render(path, |a| draw_lines(a, self), |a| draw_lines(a, self))
    }
}
