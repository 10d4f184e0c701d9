//! Reader for the Microsoft Philly trace as published with the OSDI'21 Pollux
//! artifact (petuum/adaptdl; data CC-BY-4.0, Jeon et al., ATC'19).
//!
//! Format: a CSV file whose header is exactly
//! `timestamp,duration,num_gpus,gpu_time,cluster`, one job per row:
//!
//! | column     | meaning                                                        |
//! |------------|----------------------------------------------------------------|
//! | `timestamp`| wall-clock submission time `YYYY-MM-DD HH:MM:SS`, read as UTC  |
//! | `duration` | run time in seconds, a float such as `66.0`                    |
//! | `num_gpus` | GPUs of the whole job, an integer ≥ 1 (`4` or `4.0`)           |
//! | `gpu_time` | GPU-seconds, a float ≥ 0; validated, otherwise unused          |
//! | `cluster`  | virtual-cluster hash, which becomes the job's tenant           |
//!
//! Rows are not sorted in the published file, so submission times are offsets
//! from the earliest timestamp of the file: the first submission is at 0 ms.
//! Jobs are named `philly-L<line>` after their 1-based file line. Jobs larger
//! than one node become gangs according to [`split_gpus`].

use std::io::Read;
use std::path::Path;

use super::{CsvTrace, ImportOptions, Imported, TraceError, WorkerShape};
use crate::time::{MS_PER_SEC, SimTime, secs_to_millis};
use crate::workload::{GpuDemand, JobDraft, Workload};

/// The header the reader requires, field by field.
pub const HEADER: [&str; 5] = ["timestamp", "duration", "num_gpus", "gpu_time", "cluster"];

const TIMESTAMP_EXPECTED: &str = "a UTC date and time `YYYY-MM-DD HH:MM:SS`";

/// What the reader saw besides the jobs, for import reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PhillyStats {
    /// Job rows read (every row becomes a job; none are dropped).
    pub rows: usize,
    /// Jobs whose GPU count does not split evenly into node-sized workers, so
    /// each worker was rounded up (see [`split_gpus`]).
    pub rounded_up_jobs: usize,
    /// Whole GPUs added in total by that rounding.
    pub added_gpus: u64,
}

/// Splits a job's total GPU count into a gang of identical workers.
///
/// Returns `(workers, gpus_per_worker, rounded_up)`, GPU counts in whole GPUs.
/// With [`WorkerShape::Node`] a job that fits on one node (`gpus ≤ node_gpus`)
/// is one worker; a larger one becomes `ceil(gpus / node_gpus)` workers of
/// `ceil(gpus / workers)` GPUs each, and `rounded_up` is true when that holds
/// more GPUs than asked (e.g. 9 GPUs on 8-GPU nodes → 2 × 5). Philly's sizes
/// (12, 16, 24, 32, 64, 128 on 8-GPU nodes) split exactly: 12 → 2 × 6.
/// With [`WorkerShape::Gpu`] every GPU is its own worker.
///
/// A job of 0 GPUs is one CPU-only worker. `node_gpus == 0` cannot shape a
/// multi-node job; callers reject it first, and here it yields one worker.
pub fn split_gpus(gpus: u32, opts: &ImportOptions) -> (u32, u32, bool) {
    match opts.worker_shape {
        WorkerShape::Gpu if gpus > 0 => (gpus, 1, false),
        WorkerShape::Gpu => (1, 0, false),
        WorkerShape::Node => {
            if gpus <= opts.node_gpus || opts.node_gpus == 0 {
                return (1, gpus, false);
            }
            let workers = gpus.div_ceil(opts.node_gpus);
            let per_worker = gpus.div_ceil(workers);
            let rounded = u64::from(per_worker) * u64::from(workers) != u64::from(gpus);
            (workers, per_worker, rounded)
        }
    }
}

/// True when `header` is the Philly header.
pub fn sniff(header: &[String]) -> bool {
    header.iter().map(String::as_str).eq(HEADER)
}

/// Counts the jobs [`split_gpus`] had to round up, for the import report
/// note every gang-splitting importer gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rounding {
    /// Jobs whose workers hold more GPUs than the job asked for.
    pub jobs: u64,
    /// Whole GPUs added in total by that rounding.
    pub added_gpus: u64,
}

impl Rounding {
    /// Records the split of a `gpus`-GPU job into `workers` × `per_worker`.
    pub fn record(&mut self, gpus: u32, workers: u32, per_worker: u32) {
        let held = u64::from(workers) * u64::from(per_worker);
        if held > u64::from(gpus) {
            self.jobs += 1;
            self.added_gpus += held - u64::from(gpus);
        }
    }

    /// The report note, if any job was rounded.
    pub fn note(&self, node_gpus: u32) -> Option<String> {
        (self.jobs > 0).then(|| {
            format!(
                "{} jobs did not split evenly into {node_gpus}-GPU workers and were rounded up, adding {} GPUs in total",
                self.jobs, self.added_gpus
            )
        })
    }
}

/// Reads a Philly trace file (times in ms since the earliest submission), with
/// the import report.
pub fn import(path: &Path, opts: &ImportOptions) -> Result<Imported, TraceError> {
    let t = CsvTrace::open(path, opts.lenient)?;
    import_rows(t, opts).map(|(imported, _)| imported)
}

/// Reads a Philly trace file into a workload (times in ms since the earliest
/// submission).
pub fn read(path: &Path, opts: &ImportOptions) -> Result<Workload, TraceError> {
    read_with_stats(path, opts).map(|(w, _)| w)
}

/// Reads Philly rows from `reader`; `path` only names the source in errors.
pub fn read_from<R: Read>(
    reader: R,
    path: &Path,
    opts: &ImportOptions,
) -> Result<Workload, TraceError> {
    read_with_stats_from(reader, path, opts).map(|(w, _)| w)
}

/// Like [`read`], also returning what the import had to round.
pub fn read_with_stats(
    path: &Path,
    opts: &ImportOptions,
) -> Result<(Workload, PhillyStats), TraceError> {
    let t = CsvTrace::open(path, opts.lenient)?;
    import_rows(t, opts).map(|(i, stats)| (i.workload, stats))
}

/// Like [`read_from`], also returning what the import had to round.
pub fn read_with_stats_from<R: Read>(
    reader: R,
    path: &Path,
    opts: &ImportOptions,
) -> Result<(Workload, PhillyStats), TraceError> {
    let t = CsvTrace::new(reader, path, opts.lenient, 0);
    import_rows(t, opts).map(|(i, stats)| (i.workload, stats))
}

fn import_rows<R: Read>(
    mut t: CsvTrace<R>,
    opts: &ImportOptions,
) -> Result<(Imported, PhillyStats), TraceError> {
    let path = t.path().to_path_buf();
    if opts.node_gpus == 0 {
        // Every Philly job asks for GPUs; without GPU nodes none could ever run.
        return Err(TraceError::Empty {
            path,
            message: "cannot import GPU jobs: the cluster has no GPU nodes (node_gpus is 0)".into(),
        });
    }
    t.expect_header(&HEADER)?;
    let mut drafts: Vec<JobDraft> = Vec::new();
    let mut stamps: Vec<i64> = Vec::new();
    let mut stats = PhillyStats::default();
    let mut rounding = Rounding::default();
    while let Some(rec) = t.next_row()? {
        let line = rec.line;
        let parsed = parse_row(&rec, &path, line);
        let row = match parsed {
            Ok(row) => row,
            Err(e) => {
                t.reject(e)?;
                continue;
            }
        };
        t.kept();
        let (workers, per_worker, _) = split_gpus(row.gpus, opts);
        rounding.record(row.gpus, workers, per_worker);
        stamps.push(row.submit_ms);
        drafts.push(JobDraft {
            name: format!("philly-L{line}"),
            // Filled in below, once the earliest timestamp is known.
            submit: SimTime::ZERO,
            tenant: row.tenant,
            priority: 0,
            workers,
            gpu: GpuDemand::Whole(per_worker),
            cpu_milli: opts.cpu_milli_per_gpu.saturating_mul(per_worker),
            memory_mib: opts
                .memory_mib_per_gpu
                .saturating_mul(u64::from(per_worker)),
            gpu_models: Vec::new(),
            duration: row.duration_ms,
            status: None,
        });
    }
    stats.rows = drafts.len();

    let Some(&origin) = stamps.iter().min() else {
        return Err(TraceError::Empty {
            path,
            message: "the file has a header but no job rows".into(),
        });
    };
    for (draft, &stamp) in drafts.iter_mut().zip(&stamps) {
        // Both are epoch milliseconds within jiff's ±9999-year range, so the
        // difference is non-negative and fits easily.
        draft.submit = SimTime(stamp.abs_diff(origin));
    }
    stats.rounded_up_jobs = rounding.jobs as usize;
    stats.added_gpus = rounding.added_gpus;
    if let Some(note) = rounding.note(opts.node_gpus) {
        t.note(note);
    }
    let imported = Imported {
        workload: Workload::from_drafts(drafts),
        report: t.finish(),
    };
    Ok((imported, stats))
}

/// One validated row, before submission times are made relative.
struct Row {
    submit_ms: i64,
    duration_ms: u64,
    gpus: u32,
    tenant: String,
}

fn parse_row(rec: &super::Row<'_>, path: &Path, line: u64) -> Result<Row, TraceError> {
    // The row loop guarantees exactly HEADER.len() fields.
    let field = |i: usize| rec.raw(i);
    let bad = |i: usize, expected: &str| {
        TraceError::field(
            path,
            line,
            i as u64 + 1,
            HEADER[i],
            &String::from_utf8_lossy(field(i)),
            expected,
        )
    };

    let raw_ts = field(0);
    let submit_ms = match parse_timestamp_fast(raw_ts) {
        Some(ms) => ms,
        None => parse_timestamp_jiff(raw_ts).map_err(|why| bad(0, &why))?,
    };

    let duration_ms = parse_f64(field(1))
        .and_then(secs_to_millis)
        .ok_or_else(|| bad(1, "a non-negative number of seconds such as `66.0`"))?;

    let gpus = parse_gpus(field(2))
        .ok_or_else(|| bad(2, "a whole number of GPUs ≥ 1 such as `4` or `4.0`"))?;

    match parse_f64(field(3)) {
        Some(v) if v.is_finite() && v >= 0.0 => {}
        _ => return Err(bad(3, "a non-negative number of GPU-seconds")),
    }

    let tenant = match std::str::from_utf8(field(4)) {
        Ok(s) if !s.is_empty() => s.to_owned(),
        _ => return Err(bad(4, "a non-empty UTF-8 virtual-cluster id")),
    };

    Ok(Row {
        submit_ms,
        duration_ms,
        gpus,
        tenant,
    })
}

fn parse_f64(bytes: &[u8]) -> Option<f64> {
    // Rust's float parser accepts `inf` and `NaN`; callers reject non-finite values.
    std::str::from_utf8(bytes).ok()?.parse::<f64>().ok()
}

/// `4` or an integral float such as `4.0`, at least 1.
fn parse_gpus(bytes: &[u8]) -> Option<u32> {
    if !bytes.is_empty() && bytes.len() <= 9 && bytes.iter().all(u8::is_ascii_digit) {
        let n = bytes
            .iter()
            .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'));
        return (n >= 1).then_some(n);
    }
    let v = parse_f64(bytes)?;
    if v.is_finite() && v.fract() == 0.0 && v >= 1.0 && v <= f64::from(u32::MAX) {
        Some(v as u32)
    } else {
        None
    }
}

/// Fast path for the trace's fixed `YYYY-MM-DD HH:MM:SS` shape: epoch
/// milliseconds (UTC), or `None` when the bytes are not exactly that shape with
/// in-range parts (the caller then defers to jiff, which either accepts a
/// variant spelling or explains what is wrong). Year 9999 is left to jiff,
/// whose timestamps end late on 9999-12-30, so both accept the same inputs.
fn parse_timestamp_fast(b: &[u8]) -> Option<i64> {
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let year = num(0..4)?;
    let month = num(5..7)?;
    let day = num(8..10)?;
    let hour = num(11..13)?;
    let minute = num(14..16)?;
    let second = num(17..19)?;
    if year > 9998
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3_600 + minute * 60 + second);
    Some(secs * MS_PER_SEC as i64)
}

/// The general parser: accepts what jiff's civil date-time parser accepts
/// (e.g. a `T` separator or fractional seconds), read as UTC, in epoch ms.
fn parse_timestamp_jiff(bytes: &[u8]) -> Result<i64, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| format!("{TIMESTAMP_EXPECTED} (the value is not UTF-8)"))?;
    let dt: jiff::civil::DateTime = text
        .parse()
        .map_err(|e| format!("{TIMESTAMP_EXPECTED} ({e})"))?;
    let ts = jiff::tz::TimeZone::UTC
        .to_timestamp(dt)
        .map_err(|e| format!("{TIMESTAMP_EXPECTED} ({e})"))?;
    Ok(ts.as_millisecond())
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard
/// Hinnant's `days_from_civil`), exact for any year.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opts(shape: WorkerShape) -> ImportOptions {
        ImportOptions {
            worker_shape: shape,
            ..ImportOptions::default()
        }
    }

    #[test]
    fn splits_gangs() {
        let node = opts(WorkerShape::Node);
        assert_eq!(split_gpus(1, &node), (1, 1, false));
        assert_eq!(split_gpus(8, &node), (1, 8, false));
        assert_eq!(split_gpus(12, &node), (2, 6, false));
        assert_eq!(split_gpus(16, &node), (2, 8, false));
        assert_eq!(split_gpus(24, &node), (3, 8, false));
        assert_eq!(split_gpus(128, &node), (16, 8, false));
        assert_eq!(split_gpus(9, &node), (2, 5, true));
        assert_eq!(split_gpus(17, &node), (3, 6, true));
        assert_eq!(split_gpus(0, &node), (1, 0, false));
        let gpu = opts(WorkerShape::Gpu);
        assert_eq!(split_gpus(12, &gpu), (12, 1, false));
        assert_eq!(split_gpus(0, &gpu), (1, 0, false));
    }

    #[test]
    fn fast_timestamps_match_jiff() {
        for s in [
            "1970-01-01 00:00:00",
            "2017-10-09 07:01:55",
            "2000-02-29 23:59:59",
            "1900-03-01 00:00:00",
            "0001-01-01 00:00:00",
            "9998-12-31 23:59:59",
        ] {
            assert_eq!(
                parse_timestamp_fast(s.as_bytes()),
                Some(parse_timestamp_jiff(s.as_bytes()).unwrap()),
                "{s}"
            );
        }
    }

    #[test]
    fn fast_path_rejects_out_of_range_and_jiff_agrees() {
        for s in [
            "2017-13-01 00:00:00",
            "2017-02-29 00:00:00",
            "2017-04-31 00:00:00",
            "2017-10-00 00:00:00",
            "2017-10-09 24:00:00",
            "2017-10-09 07:60:00",
            "2017/10/09 07:01:55",
            "2017-10-09 07:01:5x",
            "9999-12-31 23:59:59",
            "",
        ] {
            assert_eq!(parse_timestamp_fast(s.as_bytes()), None, "{s}");
            assert!(parse_timestamp_jiff(s.as_bytes()).is_err(), "{s}");
        }
        // jiff accepts ISO 8601's `T` separator, which the fast path leaves to it.
        assert_eq!(
            parse_timestamp_jiff(b"2017-10-09T07:01:55"),
            parse_timestamp_jiff(b"2017-10-09 07:01:55")
        );
    }

    proptest! {
        #[test]
        fn fast_path_agrees_with_jiff(
            y in 0u32..=9999, m in 1u32..=12, d in 1u32..=31,
            h in 0u32..=23, mi in 0u32..=59, s in 0u32..=59,
        ) {
            let text = format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}");
            let fast = parse_timestamp_fast(text.as_bytes());
            let slow = parse_timestamp_jiff(text.as_bytes()).ok();
            // The fast path may defer (None) only for year 9999 or where jiff
            // also rejects; whenever it answers, it agrees with jiff.
            match fast {
                Some(_) => prop_assert_eq!(fast, slow, "{}", text),
                None => prop_assert!(y == 9999 || slow.is_none(), "{}", text),
            }
        }
    }

    #[test]
    fn gpu_counts() {
        assert_eq!(parse_gpus(b"4"), Some(4));
        assert_eq!(parse_gpus(b"4.0"), Some(4));
        assert_eq!(parse_gpus(b"0"), None);
        assert_eq!(parse_gpus(b"4.5"), None);
        assert_eq!(parse_gpus(b"-1"), None);
        assert_eq!(parse_gpus(b""), None);
        assert_eq!(parse_gpus(b"inf"), None);
        assert_eq!(parse_gpus(b"99999999999"), None);
    }

    fn read_str(text: &str) -> Result<(Workload, PhillyStats), TraceError> {
        read_with_stats_from(
            text.as_bytes(),
            Path::new("t.csv"),
            &ImportOptions::default(),
        )
    }

    #[test]
    fn relative_times_and_names() {
        let (w, stats) = read_str(
            "timestamp,duration,num_gpus,gpu_time,cluster\n\
             2017-10-09 07:01:55,66.0,1,66.0,aa\n\
             2017-10-09 07:00:00,1.5,9,13.5,bb\n\n",
        )
        .unwrap();
        assert_eq!(stats.rows, 2);
        assert_eq!(stats.rounded_up_jobs, 1);
        assert_eq!(stats.added_gpus, 1);
        assert_eq!(w.jobs[0].name, "philly-L3");
        assert_eq!(w.jobs[0].submit, SimTime(0));
        assert_eq!(w.jobs[0].duration, 1_500);
        assert_eq!(w.jobs[1].submit, SimTime(115_000));
        assert_eq!(w.tenants, ["bb", "aa"]);
    }

    #[test]
    fn header_only_is_an_error() {
        let err = read_str("timestamp,duration,num_gpus,gpu_time,cluster\n").unwrap_err();
        assert!(err.to_string().contains("no job rows"), "{err}");
    }

    #[test]
    fn zero_node_gpus_is_an_error() {
        let o = ImportOptions {
            node_gpus: 0,
            ..ImportOptions::default()
        };
        let err = read_from(&b""[..], Path::new("t.csv"), &o).unwrap_err();
        assert!(err.to_string().contains("no GPU nodes"), "{err}");
    }
}
