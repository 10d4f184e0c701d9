//! Request-rate inputs of a service: a step function of simulated time in
//! requests per second ([`RateSeries`]), built from one of three sources
//! ([`RateSpec`], tagged by `kind`):
//!
//! - **`genai-qps`**: Alibaba's GenAI serving trace (`alibaba/clusterdata`,
//!   `cluster-trace-v2026-GenAI/qps.csv`), header exactly
//!   `timestamp_anon,value,container_ip,request_type`. `timestamp_anon` is a
//!   time-shifted Unix time in seconds (floats such as `1662859176.0`); every
//!   sample of the published file lies on one 57-second grid from the first
//!   timestamp. `value` is the anonymised QPS of one container at one instant
//!   ("preserves trend proportions", so absolute values are small: the summed
//!   peak is below 10 and a `scale` is needed for realistic loads).
//!   `container_ip` is an MD5 hash, empty for the `API Requests` rows;
//!   `request_type` is `Generative Requests` or `API Requests`. A sample is
//!   written only when a container reported; absent samples are 0.
//!
//!   The service's rate at one sampling instant is the sum of `value` over all
//!   containers at that instant (the publisher's instruction). Over a window
//!   of `window_s` (≥ `sample_period_s`, default 57 s = one instant per window)
//!   the rate is that sum averaged over the window's sampling instants: the sum
//!   of all samples in the window divided by the number of instants of the
//!   `sample_period_s` grid in it (the last window counts only the instants up
//!   to the last sample). So a 570-s window is the mean rate of its ten
//!   instants, not ten times it. Windows are `[k·window, (k+1)·window)` from
//!   the earliest timestamp, which becomes time 0; a window without samples
//!   has rate 0. `request_type`, when given, keeps only those rows (the others
//!   are counted in a note, and a filter matching no row is an error); the
//!   time origin and the grid stay those of the whole file, so filtered series
//!   line up with unfiltered ones. `scale` multiplies every rate. Rows may
//!   come in any order.
//! - **`csv`**: a file with header exactly `time_s,rate_rps`: from `time_s`
//!   (seconds since the scenario start, strictly increasing) on, the rate is
//!   `rate_rps` (≥ 0) until the next row. Before the first row the rate is 0.
//! - **`diurnal`**: `base_rps · (1 + amplitude · cos(2π (t − peak_at_s) / period_s))`,
//!   sampled at `t = 0, step_s, 2·step_s, …` below `duration_s` and held until
//!   the next sample; with `noise = n > 0` each sample is multiplied by
//!   `1 + n·u`, `u` uniform in [−1, 1] from a `ChaCha8` stream of the seed
//!   (one draw per sample, in time order), so a seed gives the same series on
//!   every platform.
//!
//! Trace readers go through the shared [`CsvTrace`] row loop: strict by
//! default (the first bad row stops the import naming file, line and field),
//! or `lenient = true` to skip and count bad rows in the [`ImportReport`].

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{SpecError, non_negative, positive};
use crate::time::{FmtSecs, MS_PER_SEC, Millis, SimTime, secs_to_millis};
use crate::trace::{CsvTrace, ImportReport, Row, TraceError};

/// The header of the GenAI QPS trace, field by field.
pub const GENAI_QPS_HEADER: [&str; 4] = ["timestamp_anon", "value", "container_ip", "request_type"];

/// The header of a rate CSV, field by field.
pub const RATE_CSV_HEADER: [&str; 2] = ["time_s", "rate_rps"];

/// Most samples a diurnal series may have (about 115 days at 1 s steps).
pub const MAX_DIURNAL_POINTS: u64 = 10_000_000;

/// Mixed into the seed so that the diurnal noise does not share a stream with
/// other seeded choices of the run.
const NOISE_STREAM: u64 = 0x5EED_D1A7_0000_0001;

/// A request rate as a step function of time: from `points[i].0` (inclusive)
/// to `points[i + 1].0` (exclusive) the rate is `points[i].1` requests per
/// second; after the last point its rate holds; before the first point the rate
/// is 0. Times are strictly increasing and rates finite and ≥ 0.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateSeries {
    /// `(start, requests per second)`, strictly increasing in time.
    pub points: Vec<(SimTime, f64)>,
}

impl RateSeries {
    /// A series from points, checked: times strictly increasing, rates finite
    /// and ≥ 0.
    pub fn new(points: Vec<(SimTime, f64)>) -> Result<RateSeries, String> {
        for (i, &(t, r)) in points.iter().enumerate() {
            if !(r.is_finite() && r >= 0.0) {
                return Err(format!(
                    "point {i} at {t} s: rate {r} is not a finite number ≥ 0"
                ));
            }
            if i > 0 && points[i - 1].0 >= t {
                return Err(format!(
                    "point {i} at {t} s is not after point {} at {} s",
                    i - 1,
                    points[i - 1].0
                ));
            }
        }
        Ok(RateSeries { points })
    }

    /// A constant rate from time 0 on.
    pub fn constant(rps: f64) -> RateSeries {
        RateSeries {
            points: vec![(
                SimTime::ZERO,
                if rps.is_finite() { rps.max(0.0) } else { 0.0 },
            )],
        }
    }

    /// The rate in effect at `t`, in requests per second.
    pub fn rate_at(&self, t: SimTime) -> f64 {
        match self.points.partition_point(|&(pt, _)| pt <= t) {
            0 => 0.0,
            i => self.points[i - 1].1,
        }
    }

    /// The first point strictly after `t` (when the engine must look at the
    /// rate again), or `None` when the rate never changes after `t`.
    pub fn next_change_after(&self, t: SimTime) -> Option<SimTime> {
        let i = self.points.partition_point(|&(pt, _)| pt <= t);
        self.points.get(i).map(|&(pt, _)| pt)
    }

    /// The time of the last point (where the series stops changing).
    pub fn last_change(&self) -> Option<SimTime> {
        self.points.last().map(|&(t, _)| t)
    }

    /// The largest rate of the series, in requests per second (0 when empty).
    pub fn peak_rps(&self) -> f64 {
        self.points.iter().map(|&(_, r)| r).fold(0.0, f64::max)
    }

    /// Requests arriving in `[from, to)`: the integral of the rate, in
    /// requests (rate in requests/s × seconds).
    pub fn requests_between(&self, from: SimTime, to: SimTime) -> f64 {
        let mut total = 0.0;
        for (i, &(start, rate)) in self.points.iter().enumerate() {
            let end = self.points.get(i + 1).map_or(SimTime::MAX, |&(t, _)| t);
            let a = start.max(from);
            let b = end.min(to);
            if b > a {
                total += rate * (b - a) as f64 / MS_PER_SEC as f64;
            }
        }
        total
    }

    /// The time-weighted mean rate over `[from, to)`, in requests per second
    /// (0 for an empty interval).
    pub fn mean_rps(&self, from: SimTime, to: SimTime) -> f64 {
        if to <= from {
            return 0.0;
        }
        self.requests_between(from, to) / ((to - from) as f64 / MS_PER_SEC as f64)
    }
}

/// Why a rate input could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RateError {
    /// A spec value is invalid.
    #[error(transparent)]
    Invalid(#[from] SpecError),
    /// The trace could not be read.
    #[error(transparent)]
    Trace(#[from] TraceError),
}

/// Where a service's request rate comes from (scenario type). See the module
/// docs for each source's semantics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum RateSpec {
    /// The Alibaba GenAI QPS trace.
    #[serde(rename = "genai-qps")]
    GenaiQps(GenaiQpsSpec),
    /// A `time_s,rate_rps` CSV.
    #[serde(rename = "csv")]
    Csv(RateCsvSpec),
    /// A synthetic diurnal pattern.
    #[serde(rename = "diurnal")]
    Diurnal(DiurnalSpec),
}

/// `kind = "genai-qps"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenaiQpsSpec {
    /// The `qps.csv` file, relative to the scenario's folder.
    pub path: PathBuf,
    /// Aggregation window, seconds (default 57, the trace's sampling period);
    /// at least `sample_period_s`.
    #[serde(default = "default_genai_period_s")]
    pub window_s: f64,
    /// The trace's sampling period, seconds (default 57).
    #[serde(default = "default_genai_period_s")]
    pub sample_period_s: f64,
    /// Keep only rows of this `request_type` (`Generative Requests` or
    /// `API Requests`); default all.
    #[serde(default)]
    pub request_type: Option<String>,
    /// Multiplies every rate (default 1).
    #[serde(default = "one")]
    pub scale: f64,
    /// Skip and count bad rows instead of stopping (default false).
    #[serde(default)]
    pub lenient: bool,
}

/// `kind = "csv"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCsvSpec {
    /// The `time_s,rate_rps` file, relative to the scenario's folder.
    pub path: PathBuf,
    /// Multiplies every rate (default 1).
    #[serde(default = "one")]
    pub scale: f64,
    /// Skip and count bad rows instead of stopping (default false).
    #[serde(default)]
    pub lenient: bool,
}

/// `kind = "diurnal"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiurnalSpec {
    /// Mean rate, requests per second.
    pub base_rps: f64,
    /// Swing around the mean as a fraction of it, 0..=1 (0.5: from 50% to 150%).
    pub amplitude: f64,
    /// Period, seconds (default 86400: one day).
    #[serde(default = "default_period_s")]
    pub period_s: f64,
    /// Time of the first peak, seconds since the start (default 0).
    #[serde(default)]
    pub peak_at_s: f64,
    /// Sampling step, seconds (default 60).
    #[serde(default = "default_step_s")]
    pub step_s: f64,
    /// Length of the series, seconds; the last sample holds afterwards.
    pub duration_s: f64,
    /// Multiplicative uniform noise amplitude, 0..=1 (default 0: none).
    #[serde(default)]
    pub noise: f64,
}

fn default_genai_period_s() -> f64 {
    57.0
}
fn one() -> f64 {
    1.0
}
fn default_period_s() -> f64 {
    86_400.0
}
fn default_step_s() -> f64 {
    60.0
}

/// Seconds to a whole, positive number of milliseconds, or an error naming `field`.
fn positive_ms(field: &str, secs: f64) -> Result<Millis, SpecError> {
    positive(field, secs)?;
    secs_to_millis(secs).filter(|&ms| ms > 0).ok_or_else(|| {
        SpecError::new(
            field,
            format!("got {secs}, expected seconds that round to at least 1 ms"),
        )
    })
}

impl RateSpec {
    /// Checks every field; errors name the field (`window_s`, …).
    pub fn validate(&self) -> Result<(), SpecError> {
        match self {
            RateSpec::GenaiQps(s) => s.options().map(|_| ()),
            RateSpec::Csv(s) => {
                non_empty_path(&s.path)?;
                non_negative("scale", s.scale)
            }
            RateSpec::Diurnal(s) => s.validate(),
        }
    }

    /// Builds the series: trace paths are relative to `base_dir`; `seed`
    /// drives the diurnal noise.
    pub fn load(&self, base_dir: &Path, seed: u64) -> Result<RateSeries, RateError> {
        self.load_with_report(base_dir, seed).map(|(s, _)| s)
    }

    /// Like [`RateSpec::load`], with the import report of trace sources
    /// (rows read, kept, skipped and notes; empty for `diurnal`).
    pub fn load_with_report(
        &self,
        base_dir: &Path,
        seed: u64,
    ) -> Result<(RateSeries, ImportReport), RateError> {
        self.validate()?;
        match self {
            RateSpec::GenaiQps(s) => {
                let opts = s.options()?;
                Ok(import_genai_qps(&base_dir.join(&s.path), &opts)?)
            }
            RateSpec::Csv(s) => Ok(import_rate_csv(
                &base_dir.join(&s.path),
                s.scale,
                s.lenient,
            )?),
            RateSpec::Diurnal(s) => Ok((s.series(seed)?, ImportReport::default())),
        }
    }
}

fn non_empty_path(path: &Path) -> Result<(), SpecError> {
    if path.as_os_str().is_empty() {
        Err(SpecError::new(
            "path",
            "expected a file path, got an empty one",
        ))
    } else {
        Ok(())
    }
}

impl GenaiQpsSpec {
    /// The validated importer options.
    pub fn options(&self) -> Result<GenaiQpsOptions, SpecError> {
        non_empty_path(&self.path)?;
        let window_ms = positive_ms("window_s", self.window_s)?;
        let sample_period_ms = positive_ms("sample_period_s", self.sample_period_s)?;
        if window_ms < sample_period_ms {
            return Err(SpecError::new(
                "window_s",
                format!(
                    "got {}, expected at least sample_period_s ({}) so that every window holds a sampling instant",
                    self.window_s, self.sample_period_s
                ),
            ));
        }
        non_negative("scale", self.scale)?;
        if let Some(t) = &self.request_type
            && t.trim().is_empty()
        {
            return Err(SpecError::new(
                "request_type",
                "expected a request type such as \"Generative Requests\", got an empty string",
            ));
        }
        Ok(GenaiQpsOptions {
            window_ms,
            sample_period_ms,
            request_type: self.request_type.as_ref().map(|t| t.trim().to_string()),
            scale: self.scale,
            lenient: self.lenient,
        })
    }
}

impl DiurnalSpec {
    /// Checks every field; errors name the field.
    pub fn validate(&self) -> Result<(), SpecError> {
        non_negative("base_rps", self.base_rps)?;
        let unit = |field: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(SpecError::new(
                    field,
                    format!("got {v}, expected a fraction in 0..=1"),
                ))
            }
        };
        unit("amplitude", self.amplitude)?;
        unit("noise", self.noise)?;
        positive("period_s", self.period_s)?;
        if !self.peak_at_s.is_finite() {
            return Err(SpecError::new(
                "peak_at_s",
                "expected a finite number of seconds",
            ));
        }
        let step = positive_ms("step_s", self.step_s)?;
        let duration = positive_ms("duration_s", self.duration_s)?;
        if duration.div_ceil(step) > MAX_DIURNAL_POINTS {
            return Err(SpecError::new(
                "step_s",
                format!(
                    "duration_s / step_s gives {} samples, more than {MAX_DIURNAL_POINTS}; use a larger step",
                    duration.div_ceil(step)
                ),
            ));
        }
        Ok(())
    }

    /// The diurnal rate without noise at `t`, requests per second.
    pub fn rate_at(&self, t: SimTime) -> f64 {
        let phase = (t.as_secs_f64() - self.peak_at_s) / self.period_s;
        (self.base_rps * (1.0 + self.amplitude * (std::f64::consts::TAU * phase).cos())).max(0.0)
    }

    /// The sampled series; `seed` drives the noise.
    pub fn series(&self, seed: u64) -> Result<RateSeries, SpecError> {
        self.validate()?;
        let step = positive_ms("step_s", self.step_s)?;
        let duration = positive_ms("duration_s", self.duration_s)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ NOISE_STREAM);
        let n = duration.div_ceil(step);
        let mut points = Vec::with_capacity(n as usize);
        for k in 0..n {
            let t = SimTime(k * step);
            let mut r = self.rate_at(t);
            if self.noise > 0.0 {
                let u: f64 = rng.random_range(-1.0..=1.0);
                r = (r * (1.0 + self.noise * u)).max(0.0);
            }
            points.push((t, r));
        }
        Ok(RateSeries { points })
    }
}

/// Options of the GenAI QPS importer, already validated (see
/// [`GenaiQpsSpec::options`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GenaiQpsOptions {
    /// Aggregation window, ms (≥ `sample_period_ms`).
    pub window_ms: Millis,
    /// The trace's sampling period, ms.
    pub sample_period_ms: Millis,
    /// Keep only this `request_type`.
    pub request_type: Option<String>,
    /// Multiplies every rate.
    pub scale: f64,
    /// Skip and count bad rows instead of stopping.
    pub lenient: bool,
}

impl Default for GenaiQpsOptions {
    fn default() -> Self {
        GenaiQpsOptions {
            window_ms: 57_000,
            sample_period_ms: 57_000,
            request_type: None,
            scale: 1.0,
            lenient: false,
        }
    }
}

/// Reads the GenAI QPS trace at `path` into a rate series (see the module docs).
pub fn import_genai_qps(
    path: &Path,
    opts: &GenaiQpsOptions,
) -> Result<(RateSeries, ImportReport), TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    import_genai_qps_from(BufReader::with_capacity(1 << 16, file), path, opts)
}

/// Reads GenAI QPS rows from `reader`; `path` names the source in errors.
pub fn import_genai_qps_from<R: Read>(
    reader: R,
    path: &Path,
    opts: &GenaiQpsOptions,
) -> Result<(RateSeries, ImportReport), TraceError> {
    let (w, p) = (opts.window_ms, opts.sample_period_ms);
    if p == 0 || w < p || !(opts.scale.is_finite() && opts.scale >= 0.0) {
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message: format!(
                "invalid import options: window {w} ms, sampling period {p} ms, scale {} \
                 (expected 0 < period ≤ window and a finite scale ≥ 0)",
                opts.scale
            ),
        });
    }
    let mut t = CsvTrace::new(reader, path, opts.lenient, 0);
    t.expect_header(&GENAI_QPS_HEADER)?;

    let mut samples: Vec<(Millis, f64)> = Vec::new();
    let mut containers: BTreeSet<String> = BTreeSet::new();
    let mut without_container = 0u64;
    let mut excluded: BTreeMap<String, u64> = BTreeMap::new();
    // Span of every valid row, filtered or not: the time origin and the end
    // of the sampling grid are the file's, so a filter does not shift time.
    let mut span: Option<(Millis, Millis)> = None;
    while let Some(row) = t.next_row()? {
        match parse_qps_row(&row) {
            Ok(r) => {
                span = Some(span.map_or((r.time_ms, r.time_ms), |(a, b)| {
                    (a.min(r.time_ms), b.max(r.time_ms))
                }));
                if let Some(want) = &opts.request_type
                    && r.request_type != *want
                {
                    *excluded.entry(r.request_type).or_default() += 1;
                    continue;
                }
                match r.container {
                    Some(c) => {
                        containers.insert(c);
                    }
                    None => without_container += 1,
                }
                samples.push((r.time_ms, r.value));
                t.kept();
            }
            Err(e) => t.reject(e)?,
        }
    }

    let (Some((origin, last)), false) = (span, samples.is_empty()) else {
        let report = t.report();
        let message = if let Some(want) = &opts.request_type
            && !excluded.is_empty()
        {
            let found: Vec<String> = excluded.keys().map(|k| format!("{k:?}")).collect();
            format!(
                "no row has request_type {want:?}; the file has {}",
                found.join(", ")
            )
        } else if report.rows == 0 {
            "the file has a header but no sample rows".to_string()
        } else {
            format!(
                "none of the {} sample rows could be imported:\n{}",
                report.rows,
                report.skipped_lines().join("\n")
            )
        };
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message,
        });
    };

    // Sum per window in file order (deterministic float sums).
    let mut sums: BTreeMap<u64, f64> = BTreeMap::new();
    let mut off_grid = 0u64;
    for &(ms, v) in &samples {
        let rel = ms - origin;
        if rel % p != 0 {
            off_grid += 1;
        }
        *sums.entry(rel / w).or_insert(0.0) += v;
    }
    let span_end = last - origin + 1; // exclusive end of the sampled span
    // Sampling instants j·p (j ≥ 0) in window k, up to the last sample.
    let instants = |k: u64| -> u64 {
        let a = k * w;
        let b = ((k + 1) * w).min(span_end);
        (b.div_ceil(p) - a.div_ceil(p)).max(1)
    };
    let mut points: Vec<(SimTime, f64)> = Vec::with_capacity(sums.len() + 1);
    let mut iter = sums.iter().peekable();
    while let Some((&k, &sum)) = iter.next() {
        points.push((SimTime(k * w), sum / instants(k) as f64 * opts.scale));
        if let Some(&(&next, _)) = iter.peek()
            && next > k + 1
        {
            points.push((SimTime((k + 1) * w), 0.0));
        }
    }

    let kept = samples.len();
    t.note(format!(
        "{kept} samples of {} containers ({without_container} samples without a container) summed per sampling instant and averaged over windows of {} s on a {} s sampling grid: {} windows with samples",
        containers.len(),
        FmtSecs(w),
        FmtSecs(p),
        sums.len()
    ));
    t.note(format!(
        "times shifted by -{} s so that the first window starts at 0",
        FmtSecs(origin)
    ));
    if opts.scale != 1.0 {
        t.note(format!("rates multiplied by {}", opts.scale));
    }
    for (kind, n) in &excluded {
        t.note(format!(
            "{n} rows of request_type {kind:?} left out by the request_type filter"
        ));
    }
    if off_grid > 0 {
        t.note(format!(
            "{off_grid} samples are off the {} s sampling grid of the first sample",
            FmtSecs(p)
        ));
    }
    Ok((RateSeries { points }, t.finish()))
}

struct QpsRow {
    time_ms: Millis,
    value: f64,
    container: Option<String>,
    request_type: String,
}

mod qps_col {
    pub const TIME: usize = 0;
    pub const VALUE: usize = 1;
    pub const CONTAINER: usize = 2;
    pub const TYPE: usize = 3;
}

fn parse_qps_row(row: &Row<'_>) -> Result<QpsRow, TraceError> {
    let time_ms = row
        .text(qps_col::TIME)?
        .parse::<f64>()
        .ok()
        .and_then(secs_to_millis)
        .ok_or_else(|| {
            row.bad(
                qps_col::TIME,
                "a non-negative number of seconds such as `1662859176.0`",
            )
        })?;
    let value = row
        .text(qps_col::VALUE)?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| row.bad(qps_col::VALUE, "a finite rate ≥ 0 such as `0.09`"))?;
    let container = row.text(qps_col::CONTAINER)?;
    let request_type = row.text(qps_col::TYPE)?;
    if request_type.is_empty() {
        return Err(row.bad(
            qps_col::TYPE,
            "a request type such as `Generative Requests`",
        ));
    }
    Ok(QpsRow {
        time_ms,
        value,
        container: (!container.is_empty()).then(|| container.to_string()),
        request_type: request_type.to_string(),
    })
}

/// Reads a `time_s,rate_rps` CSV at `path`; rates are multiplied by `scale`.
pub fn import_rate_csv(
    path: &Path,
    scale: f64,
    lenient: bool,
) -> Result<(RateSeries, ImportReport), TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    import_rate_csv_from(BufReader::new(file), path, scale, lenient)
}

/// Reads `time_s,rate_rps` rows from `reader`; `path` names the source.
pub fn import_rate_csv_from<R: Read>(
    reader: R,
    path: &Path,
    scale: f64,
    lenient: bool,
) -> Result<(RateSeries, ImportReport), TraceError> {
    if !(scale.is_finite() && scale >= 0.0) {
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message: format!("invalid scale {scale}: expected a finite number ≥ 0"),
        });
    }
    let mut t = CsvTrace::new(reader, path, lenient, 0);
    t.expect_header(&RATE_CSV_HEADER)?;
    let mut points: Vec<(SimTime, f64)> = Vec::new();
    while let Some(row) = t.next_row()? {
        let prev = points.last().map(|&(pt, _)| pt);
        let parsed = (|| {
            let ms = row
                .text(0)?
                .parse::<f64>()
                .ok()
                .and_then(secs_to_millis)
                .ok_or_else(|| row.bad(0, "a non-negative number of seconds such as `60`"))?;
            if let Some(prev) = prev
                && SimTime(ms) <= prev
            {
                return Err(row.bad(0, &format!("a time after the previous row's {prev} s")));
            }
            let rate = row
                .text(1)?
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| row.bad(1, "a finite rate ≥ 0 in requests per second"))?;
            Ok((SimTime(ms), rate * scale))
        })();
        match parsed {
            Ok(p) => {
                points.push(p);
                t.kept();
            }
            Err(e) => t.reject(e)?,
        }
    }
    if points.is_empty() {
        let report = t.report();
        let message = if report.rows == 0 {
            "the file has a header but no rate rows".to_string()
        } else {
            format!(
                "none of the {} rate rows could be imported:\n{}",
                report.rows,
                report.skipped_lines().join("\n")
            )
        };
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message,
        });
    }
    if scale != 1.0 {
        t.note(format!("rates multiplied by {scale}"));
    }
    Ok((RateSeries { points }, t.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genai(text: &str, opts: &GenaiQpsOptions) -> Result<(RateSeries, ImportReport), TraceError> {
        import_genai_qps_from(text.as_bytes(), Path::new("qps.csv"), opts)
    }

    #[test]
    fn sums_containers_per_instant_and_averages_windows() {
        // Grid of 10 s from t = 100. Instants 100 (a+b), 110 (a), 130 (b).
        let text = "timestamp_anon,value,container_ip,request_type\n\
                    100.0,1.0,a,Generative Requests\n\
                    100.0,2.0,b,Generative Requests\n\
                    110.0,0.5,a,Generative Requests\n\
                    130.0,4.0,,API Requests\n";
        let opts = GenaiQpsOptions {
            window_ms: 10_000,
            sample_period_ms: 10_000,
            ..GenaiQpsOptions::default()
        };
        let (s, rep) = genai(text, &opts).unwrap();
        // Windows: [0,10) = 3, [10,20) = 0.5, [20,30) empty → 0, [30,40) = 4.
        assert_eq!(
            s.points,
            vec![
                (SimTime(0), 3.0),
                (SimTime(10_000), 0.5),
                (SimTime(20_000), 0.0),
                (SimTime(30_000), 4.0)
            ]
        );
        assert_eq!((rep.rows, rep.kept_rows), (4, 4));
        // 20-s windows: [0,20) holds instants 0 and 10 → (3 + 0.5) / 2;
        // [20,31) is cut at the last sample (30) → instants 20, 30 → 4 / 2.
        let opts = GenaiQpsOptions {
            window_ms: 20_000,
            sample_period_ms: 10_000,
            scale: 10.0,
            ..GenaiQpsOptions::default()
        };
        let (s, _) = genai(text, &opts).unwrap();
        assert_eq!(s.points, vec![(SimTime(0), 17.5), (SimTime(20_000), 20.0)]);
    }

    #[test]
    fn filter_counts_left_out_rows_and_rejects_unknown_types() {
        let text = "timestamp_anon,value,container_ip,request_type\n\
                    0,1,a,Generative Requests\n\
                    57,2,,API Requests\n";
        let opts = GenaiQpsOptions {
            request_type: Some("API Requests".into()),
            ..GenaiQpsOptions::default()
        };
        let (s, rep) = genai(text, &opts).unwrap();
        // The origin stays the file's first row (0 s), so the API sample is at 57 s.
        assert_eq!(s.points, vec![(SimTime(57_000), 2.0)]);
        assert_eq!((rep.rows, rep.kept_rows), (2, 1));
        assert!(
            rep.notes
                .iter()
                .any(|n| n.contains("1 rows of request_type \"Generative Requests\""))
        );
        let opts = GenaiQpsOptions {
            request_type: Some("Chat".into()),
            ..GenaiQpsOptions::default()
        };
        let err = genai(text, &opts).unwrap_err().to_string();
        assert!(err.contains("no row has request_type \"Chat\""), "{err}");
    }

    #[test]
    fn step_function_queries() {
        let s = RateSeries::new(vec![(SimTime(1_000), 2.0), (SimTime(3_000), 4.0)]).unwrap();
        assert_eq!(s.rate_at(SimTime(999)), 0.0);
        assert_eq!(s.rate_at(SimTime(1_000)), 2.0);
        assert_eq!(s.rate_at(SimTime(2_999)), 2.0);
        assert_eq!(s.rate_at(SimTime(10_000)), 4.0);
        assert_eq!(s.next_change_after(SimTime(0)), Some(SimTime(1_000)));
        assert_eq!(s.next_change_after(SimTime(1_000)), Some(SimTime(3_000)));
        assert_eq!(s.next_change_after(SimTime(3_000)), None);
        // 2 rps × 2 s + 4 rps × 1 s = 8 requests over [1 s, 4 s).
        assert_eq!(s.requests_between(SimTime(0), SimTime(4_000)), 8.0);
        assert_eq!(s.mean_rps(SimTime(1_000), SimTime(5_000)), 3.0);
        assert!(RateSeries::new(vec![(SimTime(1), 1.0), (SimTime(1), 1.0)]).is_err());
        assert!(RateSeries::new(vec![(SimTime(1), f64::NAN)]).is_err());
    }
}
