//! Printing connections as they arrive, in four formats, without holding the whole listing.

use std::io::{self, Write};

use clap::ValueEnum;
use connections_core::{Connection, Owned};

/// How `list` prints connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns (the default on a terminal).
    Table,
    /// One JSON array of connections, in the API's own shape.
    Json,
    /// One connection per line, in the API's own shape (the default when piped).
    Ndjson,
    /// A header row, then one row per connection.
    Csv,
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

/// Widths of the table's columns; longer values are cut with `…`.
const WIDTHS: [usize; 9] = [36, 36, 36, 14, 18, 4, 9, 40, 20];

/// Where rows go: straight to the output, or through the csv crate for quoting.
enum Sink<W: Write> {
    Plain(W),
    Csv(Box<csv::Writer<W>>),
}

/// Writes connections one at a time in a chosen format.
pub(crate) struct Printer<W: Write> {
    format: Format,
    sink: Sink<W>,
    written: u64,
}

impl<W: Write> Printer<W> {
    /// Starts the output: the table or CSV header, or the JSON array's `[`.
    pub(crate) fn new(format: Format, out: W) -> io::Result<Self> {
        let sink = match format {
            Format::Csv => {
                let mut csv = csv::Writer::from_writer(out);
                csv.write_record(COLUMNS)?;
                Sink::Csv(Box::new(csv))
            }
            _ => Sink::Plain(out),
        };
        let mut printer = Printer {
            format,
            sink,
            written: 0,
        };
        match printer.format {
            Format::Table => printer.table_row(&COLUMNS.map(String::from))?,
            Format::Json => printer.plain()?.write_all(b"[")?,
            Format::Ndjson | Format::Csv => {}
        }
        Ok(printer)
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

    /// Prints one connection.
    pub(crate) fn connection(&mut self, c: &Connection<Owned>) -> io::Result<()> {
        let first = self.written == 0;
        match (&mut self.sink, self.format) {
            (Sink::Csv(csv), _) => csv.write_record(columns(c))?,
            (Sink::Plain(_), Format::Table) => self.table_row(&columns(c))?,
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

    /// Ends the output (closes the JSON array) and flushes.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if self.format == Format::Json {
            let end: &[u8] = if self.written > 0 { b"\n]\n" } else { b"]\n" };
            self.plain()?.write_all(end)?;
        }
        match &mut self.sink {
            Sink::Plain(out) => out.flush(),
            Sink::Csv(csv) => csv.flush(),
        }
    }

    fn table_row(&mut self, cells: &[String; 9]) -> io::Result<()> {
        let mut line = String::new();
        for (cell, width) in cells.iter().zip(WIDTHS) {
            if cell.chars().count() > width {
                line.extend(cell.chars().take(width - 1));
                line.push('…');
            } else {
                line.push_str(&format!("{cell:<width$}"));
            }
            line.push_str("  ");
        }
        writeln!(self.plain()?, "{}", line.trim_end())
    }
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
