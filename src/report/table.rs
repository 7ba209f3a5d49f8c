//! The shape every report takes before it is rendered: named columns and rows of typed cells.
//! Reports build a [`Table`]; `render` turns it into table, CSV or JSON text. No SQL, no IO.

/// One cell of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// No value (SQL NULL): empty in CSV and table output, `null` in JSON.
    Null,
    /// A whole number: bare in every format and never formula-neutralised.
    Int(i64),
    /// Text.
    Text(String),
    /// A list (scopes, rule names): joined by the scope delimiter in CSV and table output,
    /// a JSON array in JSON.
    List(Vec<String>),
    /// Rule names as `revocations.policy` stores them, comma-joined: joined by the scope
    /// delimiter in CSV and table output like every other list, and kept as the stored text in
    /// JSON (where the `policy` field has always been that string).
    StoredNames(String),
    /// Text that ends in a list of names (`revoke: rule-a | rule-b`): the names joined by the
    /// scope delimiter in CSV and table output, by the default one in JSON (where the field has
    /// always been one string).
    Labelled(String, Vec<String>),
}

impl From<Option<String>> for Cell {
    fn from(value: Option<String>) -> Self {
        value.map_or(Cell::Null, Cell::Text)
    }
}

impl From<String> for Cell {
    fn from(value: String) -> Self {
        Cell::Text(value)
    }
}

impl From<&str> for Cell {
    fn from(value: &str) -> Self {
        Cell::Text(value.to_owned())
    }
}

impl From<i64> for Cell {
    fn from(value: i64) -> Self {
        Cell::Int(value)
    }
}

impl From<Option<i64>> for Cell {
    fn from(value: Option<i64>) -> Self {
        value.map_or(Cell::Null, Cell::Int)
    }
}

impl From<Vec<String>> for Cell {
    fn from(value: Vec<String>) -> Self {
        Cell::List(value)
    }
}

/// A rendered-to-be report: the column names (stable snake_case, also the JSON keys) and its
/// rows, each with one cell per column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column names in output order.
    pub columns: Vec<&'static str>,
    /// Rows in output order.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: &[&'static str]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; it must have one cell per column.
    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "row width");
        self.rows.push(row);
    }

    /// The cells of one column, top to bottom (for tests and summaries).
    pub fn column(&self, name: &str) -> Vec<&Cell> {
        match self.columns.iter().position(|c| *c == name) {
            Some(i) => self.rows.iter().map(|r| &r[i]).collect(),
            None => Vec::new(),
        }
    }
}
