//! schedlab's own job CSV: a lossless interchange format for workloads, which
//! the exporters write and the `canonical` trace format reads back.
//!
//! Layout (UTF-8, `\n` line ends; `\r\n` is accepted):
//!
//! ```text
//! # schedlab-jobs v1
//! name,submit_ms,tenant,priority,workers,gpus,gpu_milli,cpu_milli,memory_mib,gpu_models,duration_ms,status
//! train-a,0,vision,0,2,8,0,16000,65536,V100|A100,3600000,Succeeded
//! notebook,1500,nlp,10,1,0,250,2000,8192,,600000,
//! ```
//!
//! - Line 1 is the version line, exactly `# schedlab-jobs v1`; a missing or
//!   different version is rejected.
//! - Line 2 is the header, exactly as above.
//! - Every further line is one job, one worker shape for its whole gang:
//!
//! | column        | meaning                                                       |
//! |---------------|---------------------------------------------------------------|
//! | `name`        | the job's name (any text; CSV-quoted when needed)             |
//! | `submit_ms`   | submission time, integer ms since the scenario start          |
//! | `tenant`      | tenant name                                                   |
//! | `priority`    | signed 32-bit integer, larger is more important               |
//! | `workers`     | pods in the gang, ≥ 1                                         |
//! | `gpus`        | whole GPUs per worker                                         |
//! | `gpu_milli`   | share of one GPU per worker in milli-GPUs, 0 when whole       |
//! | `cpu_milli`   | CPU per worker, millicores                                    |
//! | `memory_mib`  | memory per worker, MiB                                        |
//! | `gpu_models`  | allowed GPU models separated by `|`; empty means any model    |
//! | `duration_ms` | run time at full speed, integer ms                            |
//! | `status`      | the trace's final status; empty means none                    |
//!
//! `gpus` and `gpu_milli` follow [`GpuDemand::from_columns`]. Rows need not be
//! sorted: the reader orders jobs by `submit_ms` (ties keep file order).
//!
//! Round trip: for a workload built by [`Workload::from_drafts`] (sorted, ids
//! dense, tenants in first-appearance order), `read_from(to_bytes(w)) == w`,
//! provided GPU model names are non-empty and contain no `|`, and no status is
//! the empty string (which reads back as no status).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::{CsvTrace, ImportOptions, Imported, Row, TraceError};
use crate::time::SimTime;
use crate::workload::{GpuDemand, JobDraft, Workload};

/// The required first line.
pub const VERSION_LINE: &str = "# schedlab-jobs v1";

/// The required second line, field by field.
pub const HEADER: [&str; 12] = [
    "name",
    "submit_ms",
    "tenant",
    "priority",
    "workers",
    "gpus",
    "gpu_milli",
    "cpu_milli",
    "memory_mib",
    "gpu_models",
    "duration_ms",
    "status",
];

/// Column indices, so the row parser and writer agree with [`HEADER`].
mod col {
    pub const NAME: usize = 0;
    pub const SUBMIT: usize = 1;
    pub const TENANT: usize = 2;
    pub const PRIORITY: usize = 3;
    pub const WORKERS: usize = 4;
    pub const GPUS: usize = 5;
    pub const GPU_MILLI: usize = 6;
    pub const CPU: usize = 7;
    pub const MEMORY: usize = 8;
    pub const MODELS: usize = 9;
    pub const DURATION: usize = 10;
    pub const STATUS: usize = 11;
}

/// Separator of the `gpu_models` list.
const MODEL_SEPARATOR: char = '|';

/// True when `header` is the canonical header (the version line precedes it).
pub fn sniff(header: &[String]) -> bool {
    header.iter().map(String::as_str).eq(HEADER)
}

/// Reads a canonical job CSV file, with the import report.
pub fn import(path: &Path, opts: &ImportOptions) -> Result<Imported, TraceError> {
    let file = File::open(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    import_from(file, path, opts.lenient)
}

/// Reads a canonical job CSV file (strict).
pub fn read(path: &Path) -> Result<Workload, TraceError> {
    import(path, &ImportOptions::default()).map(|i| i.workload)
}

/// Reads canonical job CSV from `reader` (strict); `path` only names the
/// source in errors.
pub fn read_from<R: Read>(reader: R, path: &Path) -> Result<Workload, TraceError> {
    import_from(reader, path, false).map(|i| i.workload)
}

/// Reads canonical job CSV from `reader`, skipping and counting bad rows when
/// `lenient`.
pub fn import_from<R: Read>(reader: R, path: &Path, lenient: bool) -> Result<Imported, TraceError> {
    let mut buf = BufReader::new(reader);

    // The version line is not CSV, so it is consumed here and the row loop
    // starts at line 2. Reading is capped so a file without newlines is not
    // slurped whole.
    let mut first = Vec::new();
    (&mut buf)
        .take(256)
        .read_until(b'\n', &mut first)
        .map_err(|source| TraceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if first.is_empty() {
        return Err(TraceError::Empty {
            path: path.to_path_buf(),
            message: format!("the file is empty; expected the version line `{VERSION_LINE}`"),
        });
    }
    let version = trim_line_end(&first);
    let version = version.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(version);
    if version != VERSION_LINE.as_bytes() {
        return Err(TraceError::Header {
            path: path.to_path_buf(),
            line: 1,
            expected: VERSION_LINE.into(),
            found: String::from_utf8_lossy(version).into_owned(),
        });
    }

    let mut t = CsvTrace::new(buf, path, lenient, 1);
    t.expect_header(&HEADER).map_err(|e| match e {
        TraceError::Empty { path, .. } => TraceError::Header {
            path,
            line: 2,
            expected: HEADER.join(","),
            found: "nothing (the file ends after the version line)".into(),
        },
        e => e,
    })?;
    let mut drafts = Vec::new();
    while let Some(row) = t.next_row()? {
        let parsed = parse_row(&row);
        match parsed {
            Ok(d) => {
                t.kept();
                drafts.push(d);
            }
            Err(e) => t.reject(e)?,
        }
    }
    Ok(Imported {
        workload: Workload::from_drafts(drafts),
        report: t.finish(),
    })
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_row(row: &Row<'_>) -> Result<JobDraft, TraceError> {
    // The row loop guarantees exactly HEADER.len() fields.
    let raw = |i: usize| row.raw(i);
    let bad = |i: usize, expected: &str| row.bad(i, expected);
    let text = |i: usize| std::str::from_utf8(raw(i)).map_err(|_| bad(i, "UTF-8 text"));
    fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
        // `FromStr` for integers accepts a leading `+`; the format never writes one.
        if s.starts_with('+') {
            None
        } else {
            s.parse().ok()
        }
    }

    let submit: u64 = num(text(col::SUBMIT)?)
        .ok_or_else(|| bad(col::SUBMIT, "a non-negative integer number of ms"))?;
    let priority: i32 = num(text(col::PRIORITY)?)
        .ok_or_else(|| bad(col::PRIORITY, "an integer in the 32-bit signed range"))?;
    let workers: u32 = num(text(col::WORKERS)?)
        .filter(|&w| w >= 1)
        .ok_or_else(|| bad(col::WORKERS, "an integer number of workers ≥ 1"))?;
    let gpus: u32 = num(text(col::GPUS)?).ok_or_else(|| {
        bad(
            col::GPUS,
            "a non-negative integer number of GPUs per worker",
        )
    })?;
    let gpu_milli: u32 = num(text(col::GPU_MILLI)?)
        .ok_or_else(|| bad(col::GPU_MILLI, "an integer number of milli-GPUs, 0..=1000"))?;
    let gpu = GpuDemand::from_columns(gpus, gpu_milli).map_err(|e| bad(col::GPU_MILLI, &e))?;
    let cpu_milli: u32 = num(text(col::CPU)?)
        .ok_or_else(|| bad(col::CPU, "a non-negative integer number of millicores"))?;
    let memory_mib: u64 = num(text(col::MEMORY)?)
        .ok_or_else(|| bad(col::MEMORY, "a non-negative integer number of MiB"))?;
    let models = text(col::MODELS)?;
    let gpu_models: Vec<String> = if models.is_empty() {
        Vec::new()
    } else {
        models.split(MODEL_SEPARATOR).map(str::to_owned).collect()
    };
    if gpu_models.iter().any(String::is_empty) {
        return Err(bad(
            col::MODELS,
            "GPU model names separated by `|`, none empty (or an empty field for any model)",
        ));
    }
    let duration: u64 = num(text(col::DURATION)?)
        .ok_or_else(|| bad(col::DURATION, "a non-negative integer number of ms"))?;
    let status = text(col::STATUS)?;

    Ok(JobDraft {
        name: text(col::NAME)?.to_owned(),
        submit: SimTime(submit),
        tenant: text(col::TENANT)?.to_owned(),
        priority,
        workers,
        gpu,
        cpu_milli,
        memory_mib,
        gpu_models,
        duration,
        status: (!status.is_empty()).then(|| status.to_owned()),
    })
}

/// Writes a workload as canonical job CSV: the version line, the header, then
/// one row per job in job-id order with the tenant written by name. Returned
/// as bytes so exports can be snapshot-tested.
pub fn to_bytes(w: &Workload) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + w.jobs.len() * 64);
    out.extend_from_slice(VERSION_LINE.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(HEADER.join(",").as_bytes());
    out.push(b'\n');
    for job in &w.jobs {
        let (gpus, gpu_milli) = match job.gpu {
            GpuDemand::Whole(n) => (n, 0),
            GpuDemand::Fraction(m) => (0, m),
        };
        let models = job.gpu_models.join("|");
        let fields: [&str; 12] = [
            &job.name,
            &job.submit.as_millis().to_string(),
            w.tenants.get(job.tenant.index()).map_or("", String::as_str),
            &job.priority.to_string(),
            &job.workers.to_string(),
            &gpus.to_string(),
            &gpu_milli.to_string(),
            &job.cpu_milli.to_string(),
            &job.memory_mib.to_string(),
            &models,
            &job.duration.to_string(),
            job.status.as_deref().unwrap_or(""),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_field(&mut out, f);
        }
        out.push(b'\n');
    }
    out
}

/// Appends one CSV field, quoting it (RFC 4180) only when it contains a
/// delimiter, quote or line break, so ordinary rows stay readable.
fn push_field(out: &mut Vec<u8>, field: &str) {
    if field
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push(b'"');
        for b in field.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str) -> Result<Workload, TraceError> {
        read_from(text.as_bytes(), Path::new("jobs.csv"))
    }

    const HEAD: &str = "# schedlab-jobs v1\nname,submit_ms,tenant,priority,workers,gpus,gpu_milli,cpu_milli,memory_mib,gpu_models,duration_ms,status\n";

    #[test]
    fn reads_rows_and_sorts() {
        let w = read_str(&format!(
            "{HEAD}b,20,t2,-3,2,8,0,16000,1024,V100|A100,5,Failed\n\
             \"a,1\",10,t1,0,1,0,250,0,0,,7,\n"
        ))
        .unwrap();
        assert_eq!(w.tenants, ["t1", "t2"]);
        assert_eq!(w.jobs[0].name, "a,1");
        assert_eq!(w.jobs[0].gpu, GpuDemand::Fraction(250));
        assert_eq!(w.jobs[0].status, None);
        assert_eq!(w.jobs[1].gpu_models, ["V100", "A100"]);
        assert_eq!(w.jobs[1].priority, -3);
        assert_eq!(w.jobs[1].status.as_deref(), Some("Failed"));
    }

    #[test]
    fn writer_quotes_only_when_needed() {
        let w = Workload::from_drafts(vec![
            JobDraft::new("plain").tenant("t"),
            JobDraft::new("with \"quote\", comma").tenant("t"),
        ]);
        let text = String::from_utf8(to_bytes(&w)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "plain,0,t,0,1,1,0,0,0,,1000,");
        assert_eq!(
            lines[3],
            "\"with \"\"quote\"\", comma\",0,t,0,1,1,0,0,0,,1000,"
        );
        assert_eq!(read_str(&text).unwrap(), w);
    }

    #[test]
    fn line_numbers_count_the_version_line() {
        let err = read_str(&format!("{HEAD}a,0,t,0,1,1,0,0,0,,-5,\n")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("line 3") && msg.contains("duration_ms"),
            "{msg}"
        );
        let err = read_str(&format!("{HEAD}a,0,t,0,1,1,0,0,0,,5,\na,0,t\n")).unwrap_err();
        assert!(matches!(err, TraceError::Csv { line: 4, .. }), "{err}");
    }

    #[test]
    fn rejects_bad_fields() {
        for (row, field) in [
            ("a,0,t,0,0,1,0,0,0,,5,", "workers"),
            ("a,0,t,0,1,2,500,0,0,,5,", "gpu_milli"),
            ("a,0,t,0,1,0,1500,0,0,,5,", "gpu_milli"),
            ("a,+1,t,0,1,1,0,0,0,,5,", "submit_ms"),
            ("a,0,t,99999999999,1,1,0,0,0,,5,", "priority"),
            ("a,0,t,0,1,1,0,0,0,V100||A100,5,", "gpu_models"),
            ("a,0,t,0,1,1,0,x,0,,5,", "cpu_milli"),
        ] {
            let err = read_str(&format!("{HEAD}{row}\n")).unwrap_err();
            match &err {
                TraceError::Field { field: f, line, .. } => {
                    assert_eq!((f.as_str(), *line), (field, 3), "{err}")
                }
                other => panic!("{row}: {other}"),
            }
        }
    }

    #[test]
    fn version_and_header_checks() {
        assert!(matches!(read_str(""), Err(TraceError::Empty { .. })));
        let err = read_str("# schedlab-jobs v2\n").unwrap_err();
        assert!(matches!(err, TraceError::Header { line: 1, .. }), "{err}");
        let err = read_str("# schedlab-jobs v1\n").unwrap_err();
        assert!(matches!(err, TraceError::Header { line: 2, .. }), "{err}");
        let err = read_str("# schedlab-jobs v1\nname,submit_ms\n").unwrap_err();
        assert!(matches!(err, TraceError::Header { line: 2, .. }), "{err}");
        // CRLF line ends and a header-only file (no jobs) are fine.
        let crlf = HEAD.replace('\n', "\r\n");
        assert_eq!(read_str(&crlf).unwrap(), Workload::default());
    }
}
