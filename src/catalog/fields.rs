//! A reader over one spanned TOML table that records every type error and unknown key as a
//! [`Diagnostic`] instead of stopping at the first, like `serde(deny_unknown_fields)` would.

use std::collections::BTreeSet;
use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::diagnostics::{Diagnostics, SourceText};

/// Dotted key path for messages: `route.personas.startup-founder`, `keywords."how much"`.
pub(crate) fn key_path(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let key = if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// Reads typed fields out of one table, collecting problems into `diags`.
pub(crate) struct Fields<'a> {
    pub src: &'a SourceText,
    table: &'a dyn TableLike,
    span: Option<Range<usize>>,
    prefix: String,
    taken: BTreeSet<String>,
}

impl<'a> Fields<'a> {
    pub fn new(
        src: &'a SourceText,
        table: &'a dyn TableLike,
        span: Option<Range<usize>>,
        prefix: String,
    ) -> Self {
        Fields {
            src,
            table,
            span,
            prefix,
            taken: BTreeSet::new(),
        }
    }

    /// Full dotted name of `key` in this table.
    pub fn path(&self, key: &str) -> String {
        key_path(&self.prefix, key)
    }

    /// The table's own dotted name (`patterns[0]`).
    pub fn name(&self) -> &str {
        &self.prefix
    }

    /// The raw item under `key`, without marking it read.
    pub fn raw(&self, key: &str) -> Option<&'a Item> {
        self.table.get(key)
    }

    /// True when the table has `key`, read or not.
    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// Span of the key itself (falls back to the value, then to the table).
    pub(crate) fn key_span(&self, key: &str) -> Option<Range<usize>> {
        self.table
            .get_key_value(key)
            .and_then(|(k, item)| k.span().or_else(|| item.span()))
            .or_else(|| self.span.clone())
    }

    /// Span of the value (falls back to the key).
    pub(crate) fn value_span(&self, key: &str) -> Option<Range<usize>> {
        self.table
            .get(key)
            .and_then(item_span)
            .or_else(|| self.key_span(key))
    }

    /// Span of the whole table, for errors about a missing key.
    pub(crate) fn table_span(&self) -> Option<Range<usize>> {
        self.span.clone()
    }

    fn take(&mut self, key: &str) -> Option<&'a Item> {
        let item = self.table.get(key)?;
        self.taken.insert(key.to_string());
        Some(item)
    }

    /// The raw item under `key`, marked read (for values of a shape no reader here knows).
    pub fn item(&mut self, key: &str) -> Option<&'a Item> {
        self.take(key)
    }

    pub(crate) fn boolean(&mut self, key: &str, diags: &mut Diagnostics) -> Option<bool> {
        let item = self.take(key)?;
        match item.as_bool() {
            Some(b) => Some(b),
            None => {
                self.type_error(key, "true or false", item, diags);
                None
            }
        }
    }

    fn type_error(&self, key: &str, expected: &str, item: &Item, diags: &mut Diagnostics) {
        diags.push(self.src.at(
            self.value_span(key),
            format!(
                "`{}` must be {expected}, found {}",
                self.path(key),
                item_type_name(item)
            ),
        ));
    }

    pub fn string(&mut self, key: &str, diags: &mut Diagnostics) -> Option<String> {
        let item = self.take(key)?;
        match item.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.type_error(key, "a string", item, diags);
                None
            }
        }
    }

    /// A number (integer or float) within `range`.
    pub fn number(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<f64>,
        diags: &mut Diagnostics,
    ) -> Option<f64> {
        let item = self.take(key)?;
        let value = item
            .as_float()
            .or_else(|| item.as_integer().map(|i| i as f64));
        match value {
            Some(v) if range.contains(&v) => Some(v),
            Some(v) => {
                diags.push(self.src.at(
                    self.value_span(key),
                    format!(
                        "`{}` must be between {} and {}, found {v}",
                        self.path(key),
                        range.start(),
                        range.end()
                    ),
                ));
                None
            }
            None => {
                self.type_error(key, "a number", item, diags);
                None
            }
        }
    }

    pub fn integer(&mut self, key: &str, diags: &mut Diagnostics) -> Option<i64> {
        let item = self.take(key)?;
        match item.as_integer() {
            Some(v) => Some(v),
            None => {
                self.type_error(key, "an integer", item, diags);
                None
            }
        }
    }

    /// An array of strings, each with its span.
    pub fn strings(
        &mut self,
        key: &str,
        diags: &mut Diagnostics,
    ) -> Vec<(String, Option<Range<usize>>)> {
        let Some(item) = self.take(key) else {
            return Vec::new();
        };
        let Some(array) = item.as_array() else {
            self.type_error(key, "an array of strings", item, diags);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, value) in array.iter().enumerate() {
            match value.as_str() {
                Some(s) => out.push((s.to_string(), value.span())),
                None => diags.push(self.src.at(
                    value.span(),
                    format!(
                        "`{}[{i}]` must be a string, found {}",
                        self.path(key),
                        value_type_name(value)
                    ),
                )),
            }
        }
        out
    }

    /// A sub-table (standard or inline).
    pub fn table(&mut self, key: &str, diags: &mut Diagnostics) -> Option<Fields<'a>> {
        let item = self.take(key)?;
        match item.as_table_like() {
            Some(table) => Some(Fields::new(
                self.src,
                table,
                item_span(item).or_else(|| self.key_span(key)),
                self.path(key),
            )),
            None => {
                self.type_error(key, "a table", item, diags);
                None
            }
        }
    }

    /// An array of tables (`[[key]]`) or an array of inline tables.
    pub fn tables(&mut self, key: &str, diags: &mut Diagnostics) -> Vec<Fields<'a>> {
        let Some(item) = self.take(key) else {
            return Vec::new();
        };
        let path = self.path(key);
        if let Some(aot) = item.as_array_of_tables() {
            return aot
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    Fields::new(
                        self.src,
                        t,
                        t.span().or_else(|| self.key_span(key)),
                        format!("{path}[{i}]"),
                    )
                })
                .collect();
        }
        if let Some(array) = item.as_array() {
            let mut out = Vec::new();
            for (i, value) in array.iter().enumerate() {
                match value.as_inline_table() {
                    Some(t) => out.push(Fields::new(
                        self.src,
                        t,
                        value.span(),
                        format!("{path}[{i}]"),
                    )),
                    None => diags.push(self.src.at(
                        value.span(),
                        format!(
                            "`{path}[{i}]` must be a table, found {}",
                            value_type_name(value)
                        ),
                    )),
                }
            }
            return out;
        }
        self.type_error(key, "an array of tables", item, diags);
        Vec::new()
    }

    /// Every entry not taken yet, for map-like tables such as `[keywords]`.
    pub fn entries(&mut self) -> Vec<(&'a str, &'a Item)> {
        let entries: Vec<_> = self
            .table
            .iter()
            .filter(|(k, _)| !self.taken.contains(*k))
            .collect();
        for (k, _) in &entries {
            self.taken.insert(k.to_string());
        }
        entries
    }

    /// Reports every key that no reader asked for.
    pub fn finish(self, allowed: &[&str], diags: &mut Diagnostics) {
        for (key, _) in self.table.iter() {
            if !self.taken.contains(key) {
                diags.push(self.src.at(
                    self.key_span(key),
                    format!(
                        "unknown key `{}` (expected one of: {})",
                        self.path(key),
                        allowed.join(", ")
                    ),
                ));
            }
        }
    }
}

/// The span of an item, whatever its shape.
pub(crate) fn item_span(item: &Item) -> Option<Range<usize>> {
    match item {
        Item::Value(v) => v.span(),
        Item::Table(t) => t.span(),
        Item::ArrayOfTables(a) => a.span(),
        Item::None => None,
    }
}

/// A user-facing type name for messages.
pub(crate) fn item_type_name(item: &Item) -> &'static str {
    match item {
        Item::Value(v) => value_type_name(v),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::None => "nothing",
    }
}

/// A user-facing type name for a value.
pub(crate) fn value_type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}
