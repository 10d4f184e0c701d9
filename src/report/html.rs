//! Self-contained HTML reports: one file with its tables and its SVG charts
//! inline, no script, no external stylesheet, font or image, so it opens
//! the same offline, attached to a CI run or mailed around.
//!
//! [`page`] assembles [`Block`]s; [`run_report`] is the page `schedlab run`
//! writes. The text is deterministic: the same run gives the same bytes.

use std::fmt::Write as _;

use super::RunInfo;
use super::plot::{
    self, ChartOptions, LegendPosition, LineChart, MAX_SERIES_POINTS, PlotError, Series,
};
use crate::metrics::{RunResult, Summary};
use crate::workload::Workload;

/// A table: header, rows of cells (plain text, escaped when written).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub caption: Option<String>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The first this many columns hold text (aligned left); the others
    /// numbers (aligned right).
    pub text_columns: usize,
}

/// A piece of a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading (plain text).
    Heading(String),
    /// A paragraph (plain text).
    Paragraph(String),
    Table(Table),
    /// An SVG document, inlined as it is (plotters' output: trusted markup,
    /// its text already escaped).
    Svg(String),
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}\
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}\
th,td{border:1px solid #ccc;padding:0.3em 0.6em}th{background:#f2f2f2}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
caption{text-align:left;font-weight:bold;padding:0.3em 0}\
figure{margin:1.5em 0}svg{max-width:100%;height:auto}\
p.note{color:#555;font-size:0.9em}";

/// A whole HTML page titled `title` holding `blocks`.
pub fn page(title: &str, blocks: &[Block]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = escape(title)
    );
    for b in blocks {
        match b {
            Block::Heading(t) => {
                let _ = writeln!(h, "<h2>{}</h2>", escape(t));
            }
            Block::Paragraph(t) => {
                let _ = writeln!(h, "<p class=\"note\">{}</p>", escape(t));
            }
            Block::Table(t) => table(&mut h, t),
            Block::Svg(svg) => {
                h.push_str("<figure>\n");
                // An XML declaration is not allowed inside HTML.
                let body = match svg.strip_prefix("<?xml") {
                    Some(rest) => rest.split_once("?>").map_or(rest, |(_, r)| r),
                    None => svg,
                };
                h.push_str(body.trim());
                h.push_str("\n</figure>\n");
            }
        }
    }
    h.push_str("</body>\n</html>\n");
    h
}

fn table(h: &mut String, t: &Table) {
    h.push_str("<table>\n");
    if let Some(c) = &t.caption {
        let _ = writeln!(h, "<caption>{}</caption>", escape(c));
    }
    h.push_str("<thead><tr>");
    for c in &t.header {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for r in &t.rows {
        h.push_str("<tr>");
        for (k, c) in r.iter().enumerate() {
            if k < t.text_columns {
                let _ = write!(h, "<td>{}</td>", escape(c));
            } else {
                let _ = write!(h, "<td class=\"n\">{}</td>", escape(c));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

/// The summary of a run as two tables: counts and totals, then JCT / wait /
/// slowdown statistics.
pub fn summary_tables(summary: &Summary) -> Vec<Block> {
    let j = &summary.jobs;
    let c = &summary.cost;
    let kv = |k: &str, v: String| vec![k.to_string(), v];
    let mut rows = vec![
        kv("jobs", j.total.to_string()),
        kv("finished", j.finished.to_string()),
        kv("unfinished (running or pending)", j.unfinished.to_string()),
        kv("unschedulable", j.unschedulable.to_string()),
        kv("not arrived", j.not_arrived.to_string()),
        kv("failed", j.failed.to_string()),
        kv(
            "makespan (h)",
            format!("{:.2}", summary.makespan_s / 3600.0),
        ),
        kv(
            "mean GPU allocation (%)",
            format!("{:.1}", summary.mean_gpu_allocation_pct),
        ),
        kv("preemptions", summary.preemptions.to_string()),
        kv(
            "lost work (GPU-h)",
            format!("{:.1}", summary.lost_gpu_hours),
        ),
        kv("cost (pool price unit)", format!("{:.2}", nz(c.total))),
        kv(
            "cost per finished job",
            format!("{:.2}", nz(c.per_finished_job)),
        ),
        kv("node-hours", format!("{:.1}", c.node_hours)),
        kv(
            "GPU-hours allocated",
            format!("{:.1}", c.gpu_hours_allocated),
        ),
        kv("GPU-hours paid", format!("{:.1}", c.gpu_hours_paid)),
        kv("events", summary.events.to_string()),
    ];
    if summary.job_kills > 0 || summary.node_outages > 0 {
        rows.insert(9, kv("node outages", summary.node_outages.to_string()));
        rows.insert(
            10,
            kv("jobs killed by outages", summary.job_kills.to_string()),
        );
    }
    let stats = [
        ("JCT (s)", &summary.jct_s),
        ("wait (s)", &summary.wait_s),
        ("slowdown", &summary.slowdown),
    ]
    .into_iter()
    .map(|(name, s)| {
        vec![
            name.to_string(),
            format!("{:.1}", s.mean),
            format!("{:.1}", s.p50),
            format!("{:.1}", s.p95),
            format!("{:.1}", s.p99),
            format!("{:.1}", s.max),
        ]
    })
    .collect();
    vec![
        Block::Table(Table {
            caption: Some("Summary".into()),
            header: vec!["".into(), "value".into()],
            rows,
            text_columns: 1,
        }),
        Block::Table(Table {
            caption: Some(
                "Job completion time (finished jobs), wait (started jobs), slowdown (JCT / duration); nearest-rank percentiles"
                    .into(),
            ),
            header: ["", "mean", "p50", "p95", "p99", "max"]
                .map(String::from)
                .to_vec(),
            rows: stats,
            text_columns: 1,
        }),
    ]
}

/// Turns −0.0 (an empty float sum) into 0.0 so it never prints as "-0.00".
fn nz(x: f64) -> f64 {
    x + 0.0
}

/// The charts of one run: GPU allocation over time, queue length over time,
/// JCT CDF.
pub fn run_charts(
    info: &RunInfo,
    workload: &Workload,
    run: &RunResult,
) -> Vec<(LineChart, ChartOptions)> {
    let one = |points| {
        vec![Series {
            name: String::new(),
            points,
        }]
    };
    let name = &info.scenario;
    vec![
        (
            LineChart {
                title: format!("{name}: GPU allocation over time"),
                x_label: "time (h)".into(),
                y_label: "allocated GPUs (% of ready GPUs)".into(),
                series: one(plot::thin_mean(
                    &plot::gpu_allocation_points(run),
                    MAX_SERIES_POINTS,
                )),
            },
            ChartOptions {
                y_max: Some(105.0),
                ..ChartOptions::default()
            },
        ),
        (
            LineChart {
                title: format!("{name}: queue length over time"),
                x_label: "time (h)".into(),
                y_label: "pending jobs".into(),
                series: one(plot::thin_mean(
                    &plot::pending_points(run),
                    MAX_SERIES_POINTS,
                )),
            },
            ChartOptions::default(),
        ),
        (
            LineChart {
                title: format!("{name}: job completion time CDF"),
                x_label: "JCT (s, log scale)".into(),
                y_label: "finished jobs with JCT ≤ x (%)".into(),
                series: one(plot::cdf_points(
                    &plot::jct_values_s(workload, run),
                    1.0,
                    MAX_SERIES_POINTS,
                )),
            },
            ChartOptions {
                log_x: true,
                y_max: Some(100.0),
                legend: LegendPosition::LowerRight,
            },
        ),
    ]
}

/// `report.html` of one run: header, summary tables, `extra` blocks (e.g. a
/// per-tenant table), then the charts of [`run_charts`] inline.
pub fn run_report(
    info: &RunInfo,
    summary: &Summary,
    workload: &Workload,
    run: &RunResult,
    extra: Vec<Block>,
) -> Result<String, PlotError> {
    let mut blocks = vec![Block::Paragraph(format!(
        "{} + {} · {} nodes / {} GPUs · seed {} · workload: {}",
        info.scheduler, info.placement, info.nodes, info.gpus, info.seed, info.workload
    ))];
    blocks.extend(summary_tables(summary));
    blocks.extend(extra);
    if run.timeline.is_empty() {
        blocks.push(Block::Paragraph(
            "No timeline: run.sample_interval_s = 0, so the charts over time are empty.".into(),
        ));
    }
    for (chart, opts) in run_charts(info, workload, run) {
        blocks.push(Block::Svg(chart.to_svg(&opts)?));
    }
    Ok(page(&format!("schedlab run: {}", info.scenario), &blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_escapes_text_and_inlines_svg() {
        let p = page(
            "a <b> & c",
            &[
                Block::Table(Table {
                    caption: None,
                    header: vec!["t".into(), "n".into()],
                    rows: vec![vec!["x\"y".into(), "1.0".into()]],
                    text_columns: 1,
                }),
                Block::Svg("<?xml version=\"1.0\"?>\n<svg></svg>".into()),
            ],
        );
        assert!(p.contains("<title>a &lt;b&gt; &amp; c</title>"));
        assert!(p.contains("<td>x&quot;y</td><td class=\"n\">1.0</td>"));
        assert!(p.contains("<figure>\n<svg></svg>\n</figure>"));
        assert!(!p.contains("<?xml"));
    }
}
