//! Trace importers: each turns one published trace format into a [`Workload`].
//! Readers stream rows (memory grows with the jobs kept, not the file size) and
//! are strict: the first bad row stops the import with an error naming the
//! file, line, field, value and what was expected.

pub mod canonical;
pub mod export;
pub mod helios;
pub mod itp;
pub mod openb;
pub mod pai;
pub mod philly;
pub mod rows;

pub use rows::{CsvTrace, ImportReport, Row, Skipped};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::io::Read as _;

use crate::workload::Workload;

/// The trace formats schedlab reads. Closed, so a bad name fails when the
/// scenario is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceFormat {
    /// schedlab's own lossless job CSV (see [`canonical`]).
    Canonical,
    /// Microsoft Philly as published with the Pollux artifact (see [`philly`]).
    Philly,
    /// Alibaba GPU cluster 2023 pod lists, `openb_pod_list_*.csv` (see [`openb`]).
    Openb,
    /// Microsoft ITP clusters from the ElasticFlow artifact (see [`itp`]).
    Itp,
    /// Alibaba PAI 2020 job, task and instance tables (see [`pai`]).
    Pai,
    /// SenseTime Helios `cluster_log.csv` (see [`helios`]).
    Helios,
    /// Alibaba disaggregated DLRM inference instances, as one-worker jobs
    /// (see [`crate::inference::dlrm`]).
    Dlrm,
}

impl TraceFormat {
    /// Every format, in name order.
    pub const ALL: [TraceFormat; 7] = [
        TraceFormat::Canonical,
        TraceFormat::Dlrm,
        TraceFormat::Helios,
        TraceFormat::Itp,
        TraceFormat::Openb,
        TraceFormat::Pai,
        TraceFormat::Philly,
    ];

    /// The name used in scenarios and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::Canonical => "canonical",
            TraceFormat::Philly => "philly",
            TraceFormat::Openb => "openb",
            TraceFormat::Itp => "itp",
            TraceFormat::Pai => "pai",
            TraceFormat::Helios => "helios",
            TraceFormat::Dlrm => "dlrm",
        }
    }
}

impl std::fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TraceFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TraceFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = TraceFormat::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown trace format {s:?}, expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// How a job asking for more GPUs than fit on one node becomes workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkerShape {
    /// A job that fits on one node is one worker; a larger one becomes a gang of
    /// `ceil(gpus / node_gpus)` identical workers (one per node).
    #[default]
    Node,
    /// Every GPU is its own one-GPU worker that may land on any node (how several
    /// research simulators count GPUs without topology).
    Gpu,
}

/// Options that turn trace rows into jobs, from the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// See [`WorkerShape`].
    pub worker_shape: WorkerShape,
    /// GPUs of the largest node of the cluster: the size that decides when a job
    /// becomes a multi-node gang.
    pub node_gpus: u32,
    /// CPU per requested GPU, in millicores, for traces without CPU requests.
    pub cpu_milli_per_gpu: u32,
    /// Memory per requested GPU, in MiB, for traces without memory requests.
    pub memory_mib_per_gpu: u64,
    /// Skip bad rows (counting them by reason in the [`ImportReport`]) instead
    /// of stopping at the first one.
    pub lenient: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            worker_shape: WorkerShape::Node,
            node_gpus: 8,
            cpu_milli_per_gpu: 0,
            memory_mib_per_gpu: 0,
            lenient: false,
        }
    }
}

/// Everything that can go wrong reading a trace. Line numbers are 1-based file
/// lines (the header is line 1).
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{}: cannot read", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: line {line}: malformed CSV: {message}", path.display())]
    Csv {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{}: line {line}: header is `{found}`, expected `{expected}`", path.display())]
    Header {
        path: PathBuf,
        line: u64,
        expected: String,
        found: String,
    },
    #[error("{}: line {line}, column {column}, field `{field}`: got {value:?}, expected {expected}", path.display())]
    Field {
        path: PathBuf,
        line: u64,
        /// 1-based CSV column.
        column: u64,
        field: String,
        value: String,
        expected: String,
    },
    #[error("{}: {message}", path.display())]
    Empty { path: PathBuf, message: String },
}

impl TraceError {
    /// A bad field value; `column` is 1-based.
    pub fn field(
        path: &Path,
        line: u64,
        column: u64,
        field: &str,
        value: &str,
        expected: impl Into<String>,
    ) -> Self {
        TraceError::Field {
            path: path.to_path_buf(),
            line,
            column,
            field: field.to_string(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

impl TraceError {
    /// True for errors about one row, which lenient mode may skip.
    pub fn is_row_error(&self) -> bool {
        matches!(self, TraceError::Field { .. } | TraceError::Csv { .. })
    }

    /// The file line the error is about, if any.
    pub fn line(&self) -> Option<u64> {
        match self {
            TraceError::Csv { line, .. }
            | TraceError::Header { line, .. }
            | TraceError::Field { line, .. } => Some(*line),
            TraceError::Io { .. } | TraceError::Empty { .. } => None,
        }
    }

    /// The error without its place, for counting skipped rows by reason.
    pub fn reason(&self) -> String {
        match self {
            TraceError::Field {
                field, expected, ..
            } => format!("field `{field}`: expected {expected}"),
            TraceError::Csv { message, .. } => format!("malformed CSV: {message}"),
            other => other.to_string(),
        }
    }
}

/// A workload read from a trace, with the report of what the import kept,
/// skipped and assumed.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub workload: Workload,
    pub report: ImportReport,
}

/// Reads a trace file of the given format into a workload.
pub fn read_trace(
    path: &Path,
    format: TraceFormat,
    opts: &ImportOptions,
) -> Result<Imported, TraceError> {
    match format {
        TraceFormat::Canonical => canonical::import(path, opts),
        TraceFormat::Philly => philly::import(path, opts),
        TraceFormat::Openb => openb::import(path, opts),
        TraceFormat::Itp => itp::import(path, opts),
        TraceFormat::Pai => pai::import(path, opts),
        TraceFormat::Helios => helios::import(path, opts),
        TraceFormat::Dlrm => crate::inference::dlrm::import(path, opts.lenient)
            .map(crate::inference::dlrm::to_imported),
    }
}

/// Guesses the format of a trace file from its first line. Returns `None`
/// when no importer recognises it (or several do).
pub fn detect_format(path: &Path) -> Result<Option<TraceFormat>, TraceError> {
    use std::io::{BufRead, BufReader};
    let io = |source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    };
    // PAI is read from a folder of tables.
    if path.is_dir() {
        return Ok(pai::sniff_dir(path).then_some(TraceFormat::Pai));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut first = String::new();
    BufReader::new(file)
        .take(4096)
        .read_line(&mut first)
        .map_err(io)?;
    let first = first.trim_start_matches('\u{feff}').trim_end();
    if first == canonical::VERSION_LINE {
        return Ok(Some(TraceFormat::Canonical));
    }
    let header: Vec<String> = first.split(',').map(|h| h.trim().to_string()).collect();
    let hits: Vec<TraceFormat> = [
        (TraceFormat::Philly, philly::sniff(&header)),
        (TraceFormat::Openb, openb::sniff(&header)),
        (TraceFormat::Itp, itp::sniff(&header)),
        (TraceFormat::Pai, pai::sniff(&header)),
        (TraceFormat::Helios, helios::sniff(&header)),
        (TraceFormat::Dlrm, crate::inference::dlrm::sniff(&header)),
    ]
    .into_iter()
    .filter_map(|(f, hit)| hit.then_some(f))
    .collect();
    Ok(match hits.as_slice() {
        [one] => Some(*one),
        _ => None,
    })
}
