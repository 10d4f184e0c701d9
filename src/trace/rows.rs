//! The row loop every CSV importer shares: it checks the header, tracks file
//! line numbers, hands out one reused record per row (so the hot loop does not
//! allocate), and applies the strictness rule. Strict (the default): the first
//! bad row stops the import with its file, line, column, field, value and what
//! was expected. Lenient: the row is skipped and counted under its reason, and
//! the [`ImportReport`] says how many and why. A row is never dropped silently.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use csv::ByteRecord;
use serde::Serialize;

use super::TraceError;

/// Rows skipped for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub count: u64,
    /// File line of the first such row.
    pub first_line: u64,
    /// The full error of the first such row.
    pub example: String,
}

/// What an import read, kept and skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Data rows read (header and blank lines excluded).
    pub rows: u64,
    /// Rows that became (part of) a job.
    pub kept_rows: u64,
    /// Skipped rows by reason (lenient mode only; strict mode stops instead).
    pub skipped: BTreeMap<String, Skipped>,
    /// Facts the user should know about the conversion, e.g. how durations of
    /// right-censored jobs were taken or how many jobs were rounded up.
    pub notes: Vec<String>,
}

impl ImportReport {
    /// Rows skipped over all reasons.
    pub fn skipped_rows(&self) -> u64 {
        self.skipped.values().map(|s| s.count).sum()
    }

    /// Counts a skipped row under the reason of `err`.
    pub fn skip(&mut self, err: &TraceError, line: u64) {
        let entry = self.skipped.entry(err.reason()).or_insert_with(|| Skipped {
            count: 0,
            first_line: line,
            example: err.to_string(),
        });
        entry.count += 1;
    }

    /// One line per reason, for terminals: `  3 rows: field `duration`: …`.
    pub fn skipped_lines(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|(reason, s)| {
                format!(
                    "{:>8} rows: {reason} (first at line {})",
                    s.count, s.first_line
                )
            })
            .collect()
    }
}

/// One data row: its file line and fields, with helpers that build precise
/// errors.
pub struct Row<'a> {
    /// 1-based file line.
    pub line: u64,
    rec: &'a ByteRecord,
    path: &'a Path,
    header: &'a [String],
}

impl<'a> Row<'a> {
    /// Raw bytes of column `i` (0-based); empty if absent. The CR of a CRLF
    /// line end is not part of the last field.
    pub fn raw(&self, i: usize) -> &'a [u8] {
        let f = self.rec.get(i).unwrap_or_default();
        if i + 1 == self.rec.len() {
            f.strip_suffix(b"\r").unwrap_or(f)
        } else {
            f
        }
    }

    /// Column `i` as UTF-8 text, trimmed of surrounding spaces.
    pub fn text(&self, i: usize) -> Result<&'a str, TraceError> {
        std::str::from_utf8(self.raw(i))
            .map(str::trim)
            .map_err(|_| self.bad(i, "UTF-8 text"))
    }

    /// Column `i` parsed with `FromStr`, or a field error saying `expected`.
    pub fn parse<T: std::str::FromStr>(&self, i: usize, expected: &str) -> Result<T, TraceError> {
        self.text(i)?.parse().map_err(|_| self.bad(i, expected))
    }

    /// A field error for column `i` with its current value.
    pub fn bad(&self, i: usize, expected: &str) -> TraceError {
        TraceError::Field {
            path: self.path.to_path_buf(),
            line: self.line,
            column: i as u64 + 1,
            field: self
                .header
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("column {}", i + 1)),
            value: String::from_utf8_lossy(self.raw(i)).into_owned(),
            expected: expected.to_string(),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.rec.len()
    }

    /// True for a row without fields.
    pub fn is_empty(&self) -> bool {
        self.rec.is_empty()
    }
}

/// A CSV trace being read; see the module docs.
pub struct CsvTrace<R: Read> {
    rdr: csv::Reader<R>,
    rec: ByteRecord,
    path: PathBuf,
    /// Lines consumed before the csv reader started (e.g. a version line).
    line_offset: u64,
    last_line: u64,
    header: Vec<String>,
    lenient: bool,
    report: ImportReport,
}

impl CsvTrace<BufReader<File>> {
    /// Opens `path`.
    pub fn open(path: &Path, lenient: bool) -> Result<Self, TraceError> {
        let file = File::open(path).map_err(|source| TraceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(CsvTrace::new(
            BufReader::with_capacity(1 << 16, file),
            path,
            lenient,
            0,
        ))
    }
}

impl<R: Read> CsvTrace<R> {
    /// Reads CSV from `reader`; `path` names it in errors; `line_offset` lines
    /// were consumed before.
    pub fn new(reader: R, path: &Path, lenient: bool, line_offset: u64) -> Self {
        CsvTrace {
            // Flexible: a row with the wrong number of fields becomes a
            // skippable row error here rather than a fatal csv error. Records
            // end at LF only, so CRLF files keep exact line numbers; the CR is
            // dropped from the last field by `Row::raw`.
            rdr: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .terminator(csv::Terminator::Any(b'\n'))
                .buffer_capacity(1 << 16)
                .from_reader(reader),
            rec: ByteRecord::new(),
            path: path.to_path_buf(),
            line_offset,
            last_line: line_offset,
            header: Vec::new(),
            lenient,
            report: ImportReport::default(),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the header row (a UTF-8 byte-order mark is tolerated) and
    /// returns its column names. An empty file is an error.
    pub fn read_header(&mut self) -> Result<&[String], TraceError> {
        if !self.read_record()? {
            return Err(TraceError::Empty {
                path: self.path.clone(),
                message: "the file is empty; expected a header line".into(),
            });
        }
        self.header = self
            .rec
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let f = if i == 0 {
                    f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f)
                } else {
                    f
                };
                String::from_utf8_lossy(f).trim().to_string()
            })
            .collect();
        Ok(&self.header)
    }

    /// Reads the header and requires exactly `expected`, in order.
    pub fn expect_header(&mut self, expected: &[&str]) -> Result<(), TraceError> {
        self.read_header().map_err(|e| match e {
            TraceError::Empty { path, .. } => TraceError::Empty {
                path,
                message: format!(
                    "the file is empty; expected the header `{}`",
                    expected.join(",")
                ),
            },
            e => e,
        })?;
        if self
            .header
            .iter()
            .map(String::as_str)
            .ne(expected.iter().copied())
        {
            return Err(TraceError::Header {
                path: self.path.clone(),
                line: self.last_line,
                expected: expected.join(","),
                found: self.header.join(","),
            });
        }
        Ok(())
    }

    /// Sets the column names of a file published without a header row; the
    /// first line is then data.
    pub fn set_header(&mut self, header: &[&str]) {
        self.header = header.iter().map(|h| h.to_string()).collect();
    }

    /// The header read by [`CsvTrace::read_header`].
    pub fn header(&self) -> &[String] {
        &self.header
    }

    fn read_record(&mut self) -> Result<bool, TraceError> {
        let more = self.rdr.read_byte_record(&mut self.rec).map_err(|e| {
            let line = e
                .position()
                .map_or(self.last_line + 1, |p| p.line() + self.line_offset);
            match e.into_kind() {
                csv::ErrorKind::Io(source) => TraceError::Io {
                    path: self.path.clone(),
                    source,
                },
                kind => TraceError::Csv {
                    path: self.path.clone(),
                    line,
                    message: format!("{kind:?}"),
                },
            }
        })?;
        if more {
            self.last_line = self
                .rec
                .position()
                .map_or(self.last_line + 1, |p| p.line() + self.line_offset);
        }
        Ok(more)
    }

    /// The next data row, or `None` at the end. A row whose field count
    /// differs from the header's is an error in strict mode and is skipped
    /// (and counted) in lenient mode.
    pub fn next_row(&mut self) -> Result<Option<Row<'_>>, TraceError> {
        loop {
            if !self.read_record()? {
                return Ok(None);
            }
            // A blank CRLF line is one field holding the CR: skip it like
            // the blank LF lines the csv reader already skips.
            if self.rec.len() == 1 && self.rec.get(0) == Some(b"\r".as_slice()) {
                continue;
            }
            self.report.rows += 1;
            if self.rec.len() != self.header.len() {
                let err = TraceError::Csv {
                    path: self.path.clone(),
                    line: self.last_line,
                    message: format!(
                        "expected {} fields like the header, found {}",
                        self.header.len(),
                        self.rec.len()
                    ),
                };
                self.reject(err)?;
                continue;
            }
            return Ok(Some(Row {
                line: self.last_line,
                rec: &self.rec,
                path: &self.path,
                header: &self.header,
            }));
        }
    }

    /// A bad row: strict mode returns `err`; lenient mode counts the row under
    /// its reason and returns `Ok(())` so the caller skips it. Errors that are
    /// not about one row (I/O, header) are always returned.
    pub fn reject(&mut self, err: TraceError) -> Result<(), TraceError> {
        if !self.lenient || !err.is_row_error() {
            return Err(err);
        }
        let line = err.line().unwrap_or(self.last_line);
        self.report.skip(&err, line);
        Ok(())
    }

    /// Counts a row that became (part of) a job.
    pub fn kept(&mut self) {
        self.report.kept_rows += 1;
    }

    /// Adds a note to the report.
    pub fn note(&mut self, note: impl Into<String>) {
        self.report.notes.push(note.into());
    }

    /// The report so far.
    pub fn report(&self) -> &ImportReport {
        &self.report
    }

    /// Ends the import and returns its report.
    pub fn finish(self) -> ImportReport {
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, lenient: bool) -> (Vec<(u64, String)>, Result<ImportReport, TraceError>) {
        let mut t = CsvTrace::new(text.as_bytes(), Path::new("t.csv"), lenient, 0);
        let mut got = Vec::new();
        let res = (|| {
            t.expect_header(&["a", "b"])?;
            while let Some(row) = t.next_row()? {
                let parsed = row.parse::<u32>(1, "a number");
                let line = row.line;
                match parsed {
                    Ok(v) => {
                        got.push((line, v.to_string()));
                        t.kept();
                    }
                    Err(e) => t.reject(e)?,
                }
            }
            Ok(())
        })();
        (got, res.map(|()| t.finish()))
    }

    #[test]
    fn crlf_files_keep_exact_line_numbers() {
        let text = "a,b\r\nx,1\r\n\r\ny,2\r\nz,bad\r\n";
        let (got, res) = rows(text, false);
        assert_eq!(got, [(2, "1".to_string()), (4, "2".to_string())]);
        let err = res.unwrap_err().to_string();
        assert!(err.contains("line 5, column 2, field `b`"), "{err}");
    }

    #[test]
    fn lenient_counts_skipped_rows_by_reason() {
        let text = "a,b\nx,1\ny,bad\nz\nw,worse\nv,3\n";
        let (got, res) = rows(text, true);
        assert_eq!(got.len(), 2);
        let report = res.unwrap();
        assert_eq!(
            (report.rows, report.kept_rows, report.skipped_rows()),
            (5, 2, 3)
        );
        let by_reason: Vec<(&str, u64, u64)> = report
            .skipped
            .iter()
            .map(|(r, s)| (r.as_str(), s.count, s.first_line))
            .collect();
        assert_eq!(
            by_reason,
            [
                ("field `b`: expected a number", 2, 3),
                (
                    "malformed CSV: expected 2 fields like the header, found 1",
                    1,
                    4
                )
            ]
        );
    }
}
