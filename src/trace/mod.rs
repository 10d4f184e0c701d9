//! Trace importers: each turns one published trace format into a [`Workload`].
//! Readers stream rows (memory grows with the jobs kept, not the file size) and
//! are strict: the first bad row stops the import with an error naming the
//! file, line, field, value and what was expected.

pub mod canonical;
pub mod philly;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            worker_shape: WorkerShape::Node,
            node_gpus: 8,
            cpu_milli_per_gpu: 0,
            memory_mib_per_gpu: 0,
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
    #[error("{}: line {line}, field `{field}`: got {value:?}, expected {expected}", path.display())]
    Field {
        path: PathBuf,
        line: u64,
        field: String,
        value: String,
        expected: String,
    },
    #[error("{}: {message}", path.display())]
    Empty { path: PathBuf, message: String },
}

impl TraceError {
    /// A bad field value.
    pub fn field(
        path: &Path,
        line: u64,
        field: &str,
        value: &str,
        expected: impl Into<String>,
    ) -> Self {
        TraceError::Field {
            path: path.to_path_buf(),
            line,
            field: field.to_string(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// Reads a trace file of the given format into a workload.
pub fn read_trace(
    path: &Path,
    format: TraceFormat,
    opts: &ImportOptions,
) -> Result<Workload, TraceError> {
    match format {
        TraceFormat::Canonical => canonical::read(path),
        TraceFormat::Philly => philly::read(path, opts),
    }
}
