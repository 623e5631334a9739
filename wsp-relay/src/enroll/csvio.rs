//! Reading the CSV files: whole file in memory (its hash must cover exactly the bytes parsed),
//! header mapping, one item per data record with its line number.

use std::collections::HashMap;
use std::path::Path;

use super::runner::Item;
use super::{io_err, EnrollError};

/// A file read for import.
pub(crate) struct InputFile {
    pub name: String,
    pub sha256: [u8; 32],
    pub bytes: Vec<u8>,
}

impl InputFile {
    pub(crate) fn read(path: &Path) -> Result<InputFile, EnrollError> {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        Ok(InputFile {
            name: path.display().to_string(),
            sha256: openssl::sha::sha256(&bytes),
            bytes,
        })
    }

    /// The bytes without a UTF-8 byte-order mark (spreadsheet exports add one).
    fn body(&self) -> &[u8] {
        self.bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(&self.bytes)
    }
}

/// Column positions by lower-case name.
pub(crate) struct Header {
    columns: HashMap<String, usize>,
}

impl Header {
    pub(crate) fn index(&self, name: &str) -> Option<usize> {
        self.columns.get(name).copied()
    }
}

/// One data record: its fields as text (`None` for a field that is not UTF-8).
pub(crate) struct Record<'h> {
    header: &'h Header,
    fields: Vec<Option<String>>,
}

impl Record<'_> {
    /// A column's trimmed value; `Ok(None)` when the column is absent or the field empty.
    pub(crate) fn get(&self, name: &str) -> Result<Option<&str>, String> {
        let Some(i) = self.header.index(name) else {
            return Ok(None);
        };
        match self.fields.get(i) {
            None => Ok(None),
            Some(None) => Err(format!("{name}: not valid UTF-8")),
            Some(Some(v)) if v.trim().is_empty() => Ok(None),
            Some(Some(v)) => Ok(Some(v.trim())),
        }
    }

    pub(crate) fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name)?.ok_or_else(|| format!("{name}: missing"))
    }
}

fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes)
}

/// Reads the header and checks that `required` columns are present (a file without them is
/// refused whole: nothing would be importable).
pub(crate) fn header(file: &InputFile, required: &[&str]) -> Result<Header, EnrollError> {
    let bad = |reason: String| EnrollError::BadFile {
        path: file.name.clone().into(),
        reason,
    };
    let mut rdr = reader(file.body());
    let raw = rdr
        .byte_headers()
        .map_err(|e| bad(format!("header: {e}")))?
        .clone();
    let mut columns = HashMap::new();
    for (i, name) in raw.iter().enumerate() {
        let name = std::str::from_utf8(name)
            .map_err(|_| bad("header is not UTF-8".into()))?
            .trim()
            .to_ascii_lowercase();
        if columns.insert(name.clone(), i).is_some() {
            return Err(bad(format!("column {name:?} appears twice")));
        }
    }
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| !columns.contains_key(*c))
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!("missing column(s): {}", missing.join(", "))));
    }
    Ok(Header { columns })
}

/// Every data record parsed by `parse`, numbered from 1 (row) with its line in the file.
pub(crate) fn items<'a, R: 'a>(
    file: &'a InputFile,
    header: &'a Header,
    parse: impl Fn(&Record<'_>) -> Result<R, String> + 'a,
) -> impl Iterator<Item = Item<R>> + 'a {
    let mut rdr = reader(file.body());
    let mut row_no = 0u64;
    std::iter::from_fn(move || {
        let mut rec = csv::ByteRecord::new();
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => None,
            Ok(true) => {
                row_no += 1;
                let line = rec.position().map_or(0, |p| p.line());
                let fields = rec
                    .iter()
                    .map(|f| std::str::from_utf8(f).ok().map(str::to_string))
                    .collect();
                let record = Record { header, fields };
                Some(Item {
                    row_no,
                    line,
                    parsed: parse(&record),
                })
            }
            Err(e) => {
                // In-memory input: only malformed records get here; reject the record and go on.
                row_no += 1;
                let line = e.position().map_or(0, |p| p.line());
                Some(Item {
                    row_no,
                    line,
                    parsed: Err(format!("unreadable CSV record: {}", e.kind_name())),
                })
            }
        }
    })
}

trait KindName {
    fn kind_name(&self) -> &'static str;
}

impl KindName for csv::Error {
    fn kind_name(&self) -> &'static str {
        match self.kind() {
            csv::ErrorKind::Utf8 { .. } => "not UTF-8",
            csv::ErrorKind::UnequalLengths { .. } => "wrong number of fields",
            csv::ErrorKind::Io(_) => "I/O error",
            _ => "malformed",
        }
    }
}

/// A time as RFC 3339 or unix seconds.
pub(crate) fn parse_time(field: &str, text: &str) -> Result<i64, String> {
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(secs);
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| format!("{field}: not an RFC 3339 time or unix seconds"))
}

/// Writes a CSV file atomically (temporary file, then rename), readable by the owner only when
/// `private` (link files carry local keys).
pub(crate) fn write_csv_atomically(
    path: &Path,
    private: bool,
    write: impl FnOnce(&mut csv::Writer<std::fs::File>) -> Result<(), EnrollError>,
) -> Result<(), EnrollError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out.csv".into());
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    let mut w = csv::Writer::from_writer(file);
    write(&mut w)?;
    let file = w.into_inner().map_err(|e| EnrollError::Io {
        path: tmp.clone(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(())
}

pub(crate) fn csv_err(path: &Path) -> impl Fn(csv::Error) -> EnrollError + '_ {
    move |e| EnrollError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}
