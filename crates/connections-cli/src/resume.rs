//! Listings that survive being stopped: the `--checkpoint FILE` the listing saves after each
//! page it printed, and Ctrl-C or SIGTERM that stop it between pages, never in the middle
//! of one.
//!
//! A `kill -9` can land after a page was printed but before its checkpoint was saved. When
//! stdout is a file (`>> out.ndjson`), the checkpoint also records the file's length after
//! the page, and a resumed run first cuts the file back to it: that page is printed again,
//! once, rather than twice.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use connections_core::{Checkpoint, Setting};
use serde::{Deserialize, Serialize};

use crate::screen::Console;

/// What the file holds: the core's checkpoint, and how long stdout was when it was saved.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Saved {
    #[serde(flatten)]
    pub(crate) checkpoint: Checkpoint,
    /// The length of stdout after the page, when stdout is a regular file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stdout_bytes: Option<u64>,
}

impl Saved {
    /// Cuts stdout, when it is a file, back to its length when the checkpoint was saved,
    /// so the page printed after it (whose checkpoint a crash kept from being saved) is not
    /// there twice once the resumed run prints it.
    pub(crate) fn rewind_stdout(&self) {
        let Some(saved) = self.stdout_bytes else {
            return;
        };
        if let Some(file) = stdout_file()
            && file.metadata().is_ok_and(|m| m.len() > saved)
        {
            let _ = file.set_len(saved);
        }
    }
}

/// Stdout as a file, when it is a regular one (not a terminal or a pipe).
#[cfg(unix)]
fn stdout_file() -> Option<fs::File> {
    use std::os::fd::AsFd;
    let fd = io::stdout().as_fd().try_clone_to_owned().ok()?;
    let file = fs::File::from(fd);
    file.metadata().ok()?.is_file().then_some(file)
}

#[cfg(not(unix))]
fn stdout_file() -> Option<fs::File> {
    None
}

/// The file a listing's checkpoint is kept in.
#[derive(Clone, Debug)]
pub(crate) struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        CheckpointFile { path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The checkpoint saved by an earlier run, or `None` if there is no file yet; an
    /// unreadable or corrupt file is an error that names it.
    pub(crate) fn load(&self) -> Result<Option<Saved>, String> {
        let shown = self.path.display();
        let text = match fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read --checkpoint {shown}: {e}")),
        };
        serde_json::from_slice(&text).map(Some).map_err(|e| {
            format!(
                "--checkpoint {shown} is not a checkpoint of this program ({e}); remove it to \
                 start the listing again"
            )
        })
    }

    /// Saves `checkpoint` so that a crash at any moment leaves the old file or the new one,
    /// never a torn one: written to a temporary file beside it, synced, renamed over it, and
    /// the directory synced so the rename itself survives a power cut.
    pub(crate) fn save(&self, checkpoint: &Checkpoint) -> io::Result<()> {
        let saved = Saved {
            checkpoint: checkpoint.clone(),
            stdout_bytes: stdout_file()
                .and_then(|f| f.metadata().ok())
                .map(|m| m.len()),
        };
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut file = fs::File::create(&temporary)?;
            serde_json::to_writer(&mut file, &saved)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&temporary, &self.path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written?;
        // Directories can be opened and synced on Unix; elsewhere the rename stands alone.
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// The listing completed: nothing to resume.
    pub(crate) fn remove(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// The `list` flag that sets what a checkpoint must share with the listing resuming it.
pub(crate) fn flag_of(setting: Setting) -> &'static str {
    match setting {
        Setting::BaseUrl => "--base-url",
        Setting::UserId => "--user-id",
        Setting::VehicleId => "--vehicle-id",
        Setting::Mode => "--mode",
        Setting::PageSize => "--page-size",
        Setting::CreatedAfter => "--created-after",
        _ => "a listing setting",
    }
}

/// Where a stopped listing would go on from, for the line that says how to resume.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// The checkpoint file, when the listing keeps one.
    pub(crate) file: Option<PathBuf>,
    /// Whether it is a whole listing (`--all`), which a checkpoint could have resumed.
    pub(crate) all: bool,
    /// The page the next run starts from: the one after the last page printed.
    pub(crate) next_page: Option<u32>,
}

impl Progress {
    /// How to go on: the same command with the same file; or, for a whole listing that
    /// stopped past its first page without one, the flag that would have kept its place.
    pub(crate) fn hint(&self) -> Option<String> {
        match (&self.file, self.next_page) {
            (Some(file), page) => Some(format!(
                "  to resume, run the same command again (with --checkpoint {}): it goes on \
                 from page {}",
                file.display(),
                page.unwrap_or(1)
            )),
            (None, Some(page)) if self.all => Some(format!(
                "  a new run starts again from page 1; with --checkpoint FILE, the same command \
                 would have gone on from page {page}"
            )),
            (None, _) => None,
        }
    }
}

/// Held while a page is printed and its checkpoint saved, so a signal waits for both.
pub(crate) type Guard = Arc<Mutex<Progress>>;

pub(crate) fn lock(guard: &Guard) -> MutexGuard<'_, Progress> {
    guard.lock().unwrap_or_else(|e| e.into_inner())
}

/// On Ctrl-C or SIGTERM: waits for the page being printed (and its checkpoint) to finish,
/// clears the progress display, says how to resume, and exits 130 or 143, as shells report
/// a process ended by those signals. Nothing more is sent: the process ends there.
pub(crate) fn stop_on_signals(guard: Guard, console: Arc<Console>) -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                let progress = lock(&guard);
                console.finish();
                let name = if signal == SIGINT {
                    "interrupted"
                } else {
                    "terminated"
                };
                let mut err = io::stderr().lock();
                let _ = writeln!(err, "{name}: the listing is incomplete");
                if let Some(hint) = progress.hint() {
                    let _ = writeln!(err, "{hint}");
                }
                let _ = err.flush();
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}
