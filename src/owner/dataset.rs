//! Labelled datasets: CSV files of `text,label` rows (RFC 4180 quoting), as `eval` and `learn`
//! read them.

use std::path::{Path, PathBuf};

/// One labelled message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledRow {
    pub text: String,
    /// The label as written in the file (an intent id, or a dataset's own label).
    pub label: String,
    /// The row's line in the file (1-based; the header is line 1).
    pub line: u64,
}

/// Why a dataset could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Row {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: no rows")]
    Empty { path: PathBuf },
}

/// Reads a `text,label` CSV. The header must name both columns (in any order, other columns
/// are ignored); every row needs a non-empty label.
pub fn read_csv(path: &Path) -> Result<Vec<LabelledRow>, DatasetError> {
    let file = std::fs::File::open(path).map_err(|source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_csv_from(file, path)
}

/// [`read_csv`] from any reader; `path` names it in errors.
pub(crate) fn read_csv_from(
    reader: impl std::io::Read,
    path: &Path,
) -> Result<Vec<LabelledRow>, DatasetError> {
    let row_error = |line: u64, message: String| DatasetError::Row {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| row_error(1, format!("cannot read the header: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(text_at), Some(label_at)) = (column("text"), column("label")) else {
        return Err(row_error(
            1,
            format!(
                "the header must name the columns `text` and `label`, found {:?}",
                headers.iter().collect::<Vec<_>>()
            ),
        ));
    };
    let mut rows = Vec::new();
    for record in csv.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            row_error(line, e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let (Some(text), Some(label)) = (record.get(text_at), record.get(label_at)) else {
            return Err(row_error(
                line,
                format!(
                    "expected the columns text and label, found {} fields",
                    record.len()
                ),
            ));
        };
        let label = label.trim();
        if label.is_empty() {
            return Err(row_error(line, "the label is empty".into()));
        }
        rows.push(LabelledRow {
            text: text.to_string(),
            label: label.to_string(),
            line,
        });
    }
    if rows.is_empty() {
        return Err(DatasetError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<LabelledRow>, DatasetError> {
        read_csv_from(text.as_bytes(), Path::new("t.csv"))
    }

    #[test]
    fn reads_quoted_rows_and_keeps_labels_as_written() {
        let rows = read(
            "text,label\n\"hi, there\",greeting\n\"say \"\"refund\"\"\",reverted_card_payment?\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].text, "hi, there");
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].text, "say \"refund\"");
        assert_eq!(rows[1].label, "reverted_card_payment?");
    }

    #[test]
    fn columns_in_any_order() {
        let rows = read("label,text\nrefund,money back please\n").unwrap();
        assert_eq!(rows[0].text, "money back please");
        assert_eq!(rows[0].label, "refund");
    }

    #[test]
    fn bad_files_name_the_line() {
        let cases = [
            ("words,tag\na,b\n", "t.csv:1: the header must name"),
            ("text,label\nhello,\n", "t.csv:2: the label is empty"),
            ("text,label\nhello\n", "t.csv:2: expected the columns"),
            ("text,label\n", "t.csv: no rows"),
        ];
        for (input, want) in cases {
            let err = read(input).unwrap_err().to_string();
            assert!(err.starts_with(want), "{input:?}: {err}");
        }
    }
}
