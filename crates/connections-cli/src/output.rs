//! Printing connections as they arrive, in four formats, without holding the whole listing.
//!
//! Nothing is written before the first page arrives (no table or CSV header, no `[`), so a
//! listing whose first request fails leaves stdout empty; each page is flushed as soon as it
//! is printed. A listing that fails after some pages keeps what was printed, and its JSON
//! array stays unterminated (no `]`), so no parser takes it for a complete listing.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use clap::ValueEnum;
use connections_core::{Connection, Owned};

use crate::text::{elide, escape_controls, pad, width};

/// How `list` prints connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns fitted to the terminal (the default on a terminal).
    Table,
    /// One JSON array of connections, in the API's own shape.
    Json,
    /// One connection per line, in the API's own shape (the default when piped).
    Ndjson,
    /// A header row, then one row per connection.
    Csv,
}

/// Set once stdout has taken any output.
static DELIVERED: AtomicBool = AtomicBool::new(false);

/// Whatever the command writes to stdout goes through this, so a failed write can tell a
/// reader that stopped reading after taking some output (`| head`) from a stdout that takes
/// nothing at all (closed, or a full disk).
pub(crate) struct Stdout(io::StdoutLock<'static>);

impl Stdout {
    pub(crate) fn lock() -> Self {
        Stdout(io::stdout().lock())
    }

    /// Whether stdout took any output so far.
    pub(crate) fn delivered() -> bool {
        DELIVERED.load(Ordering::Relaxed)
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.0.write(buf)?;
        if written > 0 {
            DELIVERED.store(true, Ordering::Relaxed);
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The columns of `table` and `csv`.
const COLUMNS: [&str; 9] = [
    "id",
    "user",
    "vehicle",
    "make",
    "model",
    "year",
    "mode",
    "permissions",
    "created",
];

const ID: usize = 0;
const PERMISSIONS: usize = 7;
const CREATED: usize = 8;

/// How narrow each column may get before columns are left out (the id is never cut).
const MIN_WIDTHS: [usize; 9] = [0, 8, 8, 6, 8, 4, 4, 12, 10];
/// Which columns give up width first when the table is too wide.
const SHRINK_ORDER: [usize; 8] = [PERMISSIONS, 2, 1, 4, CREATED, 3, 6, 5];
/// Which columns are left out, in turn, when shrinking is not enough.
const DROP_ORDER: [usize; 8] = [PERMISSIONS, CREATED, 2, 1, 4, 6, 5, 3];
/// Spaces between columns.
const GAP: usize = 2;

/// How the table fits the terminal.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableOptions {
    /// The terminal's width in columns; `None` (piped) prints every cell whole.
    pub(crate) width: Option<usize>,
    /// Every cell whole, whatever the width (`--wide`).
    pub(crate) wide: bool,
}

/// The table's columns once fitted: the width of each, `None` for a column left out.
type Layout = [Option<usize>; 9];

/// Where rows go: straight to the output, or through the csv crate for quoting.
enum Sink<W: Write> {
    Plain(W),
    Csv(Box<csv::Writer<W>>),
}

/// Writes connections a page at a time in a chosen format.
pub(crate) struct Printer<W: Write> {
    format: Format,
    sink: Sink<W>,
    table: TableOptions,
    /// Set when the first page arrived and the header (or `[`) was written.
    layout: Option<Layout>,
    written: u64,
}

impl<W: Write> Printer<W> {
    /// A printer that has written nothing yet.
    pub(crate) fn new(format: Format, out: W, table: TableOptions) -> Self {
        let sink = match format {
            Format::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out))),
            _ => Sink::Plain(out),
        };
        Printer {
            format,
            sink,
            table,
            layout: None,
            written: 0,
        }
    }

    fn plain(&mut self) -> io::Result<&mut W> {
        match &mut self.sink {
            Sink::Plain(out) => Ok(out),
            Sink::Csv(_) => Err(io::Error::other("CSV output has no plain writer")),
        }
    }

    /// How many connections were printed.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Whether anything was written (the first page arrived).
    pub(crate) fn started(&self) -> bool {
        self.layout.is_some()
    }

    /// Writes the header (table, CSV) or the `[` (JSON), fitting the table's columns to the
    /// first page's cells and the terminal's width.
    fn start(&mut self, first: &[Connection<Owned>]) -> io::Result<()> {
        let layout = match self.format {
            Format::Table => fit(first, self.table),
            _ => [None; 9],
        };
        self.layout = Some(layout);
        match self.format {
            Format::Table => {
                let header = table_row(&COLUMNS.map(String::from), &layout, self.table);
                writeln!(self.plain()?, "{header}")
            }
            Format::Csv => match &mut self.sink {
                Sink::Csv(csv) => Ok(csv.write_record(COLUMNS)?),
                Sink::Plain(_) => Ok(()),
            },
            Format::Json => self.plain()?.write_all(b"["),
            Format::Ndjson => Ok(()),
        }
    }

    /// Prints a page's connections (the first page writes the header first) and flushes,
    /// so they reach the reader now rather than when a buffer fills.
    pub(crate) fn page(&mut self, connections: &[Connection<Owned>]) -> io::Result<()> {
        if self.layout.is_none() {
            self.start(connections)?;
        }
        for c in connections {
            self.connection(c)?;
        }
        self.flush()
    }

    fn connection(&mut self, c: &Connection<Owned>) -> io::Result<()> {
        let first = self.written == 0;
        let (table, layout) = (self.table, self.layout.unwrap_or([None; 9]));
        match (&mut self.sink, self.format) {
            // Byte-exact: the CSV crate quotes, and cells starting with = + - @ are left as
            // they are (open such files as data, not formulas).
            (Sink::Csv(csv), _) => csv.write_record(columns(c))?,
            (Sink::Plain(out), Format::Table) => {
                writeln!(out, "{}", table_row(&columns(c), &layout, table))?
            }
            (Sink::Plain(out), Format::Json) => {
                out.write_all(if first { b"\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut *out, c)?;
            }
            (Sink::Plain(out), _) => {
                serde_json::to_writer(&mut *out, c)?;
                out.write_all(b"\n")?;
            }
        }
        self.written += 1;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Plain(out) => out.flush(),
            Sink::Csv(csv) => csv.flush(),
        }
    }

    /// Ends a complete listing: the header if no page came, the JSON array's `]`, a flush.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if self.layout.is_none() {
            self.start(&[])?;
        }
        if self.format == Format::Json {
            let end: &[u8] = if self.written > 0 { b"\n]\n" } else { b"]\n" };
            self.plain()?.write_all(end)?;
        }
        self.flush()
    }

    /// Ends a listing that failed: what was printed stays, a JSON array stays open (ended
    /// with a newline but no `]`), and nothing at all is written if no page came.
    pub(crate) fn abandon(mut self) -> io::Result<()> {
        if self.layout.is_some() && self.format == Format::Json {
            self.plain()?.write_all(b"\n")?;
        }
        self.flush()
    }
}

/// Fits the table's columns: each as wide as its header and the first page's cells; then,
/// if the terminal is narrower, the widest columns give up width down to their minimum
/// (permissions first, the id never), and if that is not enough columns are left out.
fn fit(first: &[Connection<Owned>], options: TableOptions) -> Layout {
    let mut natural = COLUMNS.map(width);
    for c in first {
        for (i, cell) in columns(c).iter().enumerate() {
            natural[i] = natural[i].max(width(&escape_controls(cell, false)));
        }
    }
    let all = natural.map(Some);
    let Some(limit) = options.width.filter(|_| !options.wide) else {
        return all;
    };
    let mut shown = [true; 9];
    for drop in std::iter::once(None).chain(DROP_ORDER.iter().map(Some)) {
        if let Some(&column) = drop {
            shown[column] = false;
        }
        let mut widths = natural;
        let total = |widths: &[usize; 9]| -> usize {
            let columns = shown.iter().filter(|&&s| s).count();
            (0..9)
                .filter(|&i| shown[i])
                .map(|i| widths[i])
                .sum::<usize>()
                + GAP * columns.saturating_sub(1)
        };
        for &column in &SHRINK_ORDER {
            let excess = total(&widths).saturating_sub(limit);
            if excess == 0 || !shown[column] {
                continue;
            }
            let spare = widths[column].saturating_sub(MIN_WIDTHS[column].min(widths[column]));
            widths[column] -= spare.min(excess);
        }
        if total(&widths) <= limit {
            return std::array::from_fn(|i| shown[i].then_some(widths[i]));
        }
    }
    // Only the id is left, and it is never cut.
    std::array::from_fn(|i| (i == ID).then_some(natural[ID]))
}

/// One line of the table: cells with their control characters made visible, cut to their
/// column (a list of permissions to the names that fit and a count of the rest, a date and
/// time to the date), the id whole.
fn table_row(cells: &[String; 9], layout: &Layout, options: TableOptions) -> String {
    let mut line = String::new();
    let cut = options.width.is_some() && !options.wide;
    for (i, (cell, column)) in cells.iter().zip(layout).enumerate() {
        let Some(columns) = *column else {
            continue;
        };
        if !line.is_empty() {
            line.push_str(&" ".repeat(GAP));
        }
        let cell = escape_controls(cell, false);
        let shown = if !cut || i == ID || width(&cell) <= columns {
            cell
        } else if i == PERMISSIONS {
            fit_list(&cell, columns).into()
        } else if i == CREATED && columns >= 10 && cell.len() >= 10 && cell.is_char_boundary(10) {
            cell[..10].to_owned().into()
        } else {
            elide(&cell, columns).into_owned().into()
        };
        pad(&mut line, &shown, columns);
    }
    line.truncate(line.trim_end().len());
    line
}

/// As many whole space-separated names as fit in `columns` with ` +N` for the rest.
fn fit_list(list: &str, columns: usize) -> String {
    let names: Vec<&str> = list.split(' ').collect();
    for keep in (1..names.len()).rev() {
        let text = format!("{} +{}", names[..keep].join(" "), names.len() - keep);
        if width(&text) <= columns {
            return text;
        }
    }
    elide(list, columns).into_owned()
}

/// The table and CSV cells of a connection.
fn columns(c: &Connection<Owned>) -> [String; 9] {
    let text = |s: Option<&String>| s.cloned().unwrap_or_default();
    let attributes = c.attributes.as_ref();
    let vehicle = attributes.and_then(|a| a.vehicle.as_ref());
    let relation_id = |r: Option<&connections_core::model::Relationship<Owned>>| {
        text(r.and_then(|r| r.data.as_ref()?.id.as_ref()))
    };
    let relationships = c.relationships.as_ref();
    [
        text(c.id.as_ref()),
        relation_id(relationships.and_then(|r| r.user.as_ref())),
        relation_id(relationships.and_then(|r| r.vehicle.as_ref())),
        text(vehicle.and_then(|v| v.make.as_ref())),
        text(vehicle.and_then(|v| v.model.as_ref())),
        vehicle
            .and_then(|v| v.year)
            .map(|y| y.to_string())
            .unwrap_or_default(),
        vehicle
            .and_then(|v| v.mode.as_ref())
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
        attributes
            .and_then(|a| a.permissions.as_ref())
            .map(|p| p.join(" "))
            .unwrap_or_default(),
        c.meta
            .as_ref()
            .and_then(|m| m.created_at.as_ref())
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_keep_whole_names_and_count_the_rest() {
        let list = "read_battery read_charge read_location read_odometer";
        assert_eq!(
            fit_list(list, 60),
            "read_battery read_charge read_location +1"
        );
        assert_eq!(fit_list(list, 30), "read_battery read_charge +2");
        assert_eq!(fit_list(list, 16), "read_battery +3");
        assert_eq!(fit_list(list, 8), "read_ba…");
    }
}
