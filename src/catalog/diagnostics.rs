//! Catalog errors as `path:line:col: message`, collected rather than thrown.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in one file, pointing at the offending key or value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as given to the loader (relative paths stay relative).
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// What is wrong; names the key.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

/// Every problem found while loading, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// A loaded file's text, able to turn byte offsets into line and column.
pub struct SourceText {
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceText {
    pub fn new(path: &Path, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceText {
            path: path.to_path_buf(),
            text,
            line_starts,
        }
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        // A byte-order mark is not a column.
        let bom = usize::from(line == 0 && offset > 0 && self.text.starts_with('\u{feff}'));
        (line + 1, col - bom + 1)
    }

    /// A diagnostic at the start of `span` (or at the top of the file without one).
    pub fn at(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Diagnostic {
        let (line, col) = span.map_or((1, 1), |s| self.line_col(s.start));
        Diagnostic {
            path: self.path.clone(),
            line,
            col,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_table() {
        let src = SourceText::new(Path::new("x.toml"), "ab\ncdé\n\nz".to_string());
        let cases = [
            (0, (1, 1)),
            (1, (1, 2)),
            (3, (2, 1)),
            (5, (2, 3)),
            (7, (2, 4)),
            (8, (3, 1)),
            (9, (4, 1)),
            (99, (4, 2)),
        ];
        for (offset, expected) in cases {
            assert_eq!(src.line_col(offset), expected, "offset {offset}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_not_a_column() {
        let src = SourceText::new(Path::new("x.toml"), "\u{feff}colour = 1\n".to_string());
        assert_eq!(src.line_col(3), (1, 1));
        assert_eq!(src.line_col(4), (1, 2));
    }

    #[test]
    fn display_is_path_line_col_message() {
        let src = SourceText::new(Path::new("intents/a.toml"), "x = 1\ny = 2\n".to_string());
        let d = src.at(Some(6..7), "unknown key `y`");
        assert_eq!(d.to_string(), "intents/a.toml:2:1: unknown key `y`");
    }
}
