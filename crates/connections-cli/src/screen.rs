//! stderr as a listing shares it: log lines, and a progress display on a terminal, that never
//! garble each other or the rows printed on stdout.

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use connections_core::Owned;
use connections_core::model::PagingMeta;
use indicatif::{HumanDuration, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Where log lines go, and the progress display if one is shown.
#[derive(Default)]
pub(crate) struct Console {
    progress: Mutex<Option<Progress>>,
}

/// The progress display of one listing.
struct Progress {
    bar: ProgressBar,
    /// Pages received.
    pages: u64,
    /// Whether a page told the total yet (the spinner became a bar).
    counted: bool,
    /// The retry the listing waits for, shown with a countdown.
    wait: Arc<Mutex<Option<Wait>>>,
    /// The pages the listing has in all, once known.
    total_pages: Option<u64>,
    /// The time between requests at the pace the listing keeps, once known, and the pages
    /// still to come: the time left is their product.
    pace: Arc<Mutex<Pace>>,
}

/// What the time left follows once a pace is known.
#[derive(Clone, Copy, Default)]
struct Pace {
    /// Learned from the server's 429s.
    interval: Option<Duration>,
    /// The budget's (--max-rate).
    budget: Option<Duration>,
    pages_left: Option<u64>,
}

/// A wait the listing is in: what it is, then a countdown until when.
#[derive(Clone)]
struct Wait {
    /// `rate limited (429), retry in` or `paced: next request in`.
    what: String,
    until: Instant,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The wait the listing is in, if any: ` · rate limited (429), retry in 11 s` or
/// ` · paced: next request in 12 s`.
fn write_wait(wait: &Mutex<Option<Wait>>, out: &mut dyn std::fmt::Write) -> bool {
    let Some(wait) = lock(wait).clone() else {
        return false;
    };
    let left = wait.until.saturating_duration_since(Instant::now());
    let _ = write!(out, " · {} {} s", wait.what, left.as_secs_f64().ceil());
    true
}

/// The time left: the pages still to come at the pace kept, once one is known, else what
/// the rate so far says (which, after a burst through the bucket, would be far too soon).
fn time_left(state: &ProgressState, pace: &Mutex<Pace>) -> Duration {
    let pace = *lock(pace);
    match (pace.interval.max(pace.budget), pace.pages_left) {
        (Some(interval), Some(pages)) => {
            interval.saturating_mul(u32::try_from(pages).unwrap_or(u32::MAX))
        }
        _ => state.eta(),
    }
}

/// The spinner's and the bar's styles, with two keys of our own: `{wait}`, the wait the
/// listing is in (or nothing); `{tail}`, the same or else the rate and the time left.
fn style(
    template: &str,
    wait: &Arc<Mutex<Option<Wait>>>,
    pace: &Arc<Mutex<Pace>>,
) -> ProgressStyle {
    let (for_wait, for_tail, pace) = (wait.clone(), wait.clone(), pace.clone());
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
        .with_key(
            "wait",
            move |_: &ProgressState, out: &mut dyn std::fmt::Write| {
                write_wait(&for_wait, out);
            },
        )
        .with_key(
            "tail",
            move |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                if !write_wait(&for_tail, out) {
                    let _ = write!(
                        out,
                        " · {:.0}/s · ETA {:#}",
                        state.per_sec(),
                        HumanDuration(time_left(state, &pace))
                    );
                }
            },
        )
}

/// Before the total is known: connections so far, pages, time.
const SPINNER: &str = "{spinner} {pos} connections · {msg}{wait} · {elapsed}";
/// Once it is: done out of the total, pages, then the rate and the time left (or the wait).
const BAR: &str = "[{bar:12}] {pos}/{len} connections · {msg}{tail}";

impl Console {
    /// Starts the progress display: a spinner with a steady tick, on stderr, when stderr is
    /// a terminal; nothing otherwise.
    pub(crate) fn start_progress(&self) {
        if !io::stderr().is_terminal() {
            return;
        }
        let wait = Arc::new(Mutex::new(None));
        let pace = Arc::new(Mutex::new(Pace::default()));
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(style(SPINNER, &wait, &pace));
        bar.set_message("waiting for page 1");
        bar.enable_steady_tick(Duration::from_millis(120));
        *lock(&self.progress) = Some(Progress {
            bar,
            pages: 0,
            counted: false,
            wait,
            total_pages: None,
            pace,
        });
    }

    /// A clone of the bar (a handle), so no lock of ours is held while it draws.
    fn bar(&self) -> Option<ProgressBar> {
        lock(&self.progress).as_ref().map(|p| p.bar.clone())
    }

    /// Counts a page that brought `items` connections, `written` in all so far. Its
    /// `meta.totalCount`, with `pageNumber` and `pageSize`, gives the listing's length from
    /// where it started: the spinner becomes a bar.
    pub(crate) fn page(&self, meta: Option<&PagingMeta<Owned>>, items: usize, written: u64) {
        let mut guard = lock(&self.progress);
        let Some(progress) = guard.as_mut() else {
            return;
        };
        progress.pages += 1;
        *lock(&progress.wait) = None;
        let items = u64::try_from(items).unwrap_or(u64::MAX);
        let before = written.saturating_sub(items);
        let known = meta.and_then(|m| {
            let total = u64::try_from(m.total_count?).ok()?;
            let number = m
                .page_number
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(1);
            let size = m
                .page_size
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&s| s > 0);
            let skipped = size.map_or(0, |s| number.saturating_sub(1).saturating_mul(s));
            let length = before
                .saturating_add(total.saturating_sub(skipped))
                .max(written);
            let pages = size.map(|s| {
                let last = total.div_ceil(s).max(1);
                (progress.pages - 1) + (last + 1).saturating_sub(number).max(1)
            });
            Some((length, pages))
        });
        let bar = &progress.bar;
        bar.set_position(written);
        let pages = known.and_then(|(_, pages)| pages);
        progress.total_pages = pages.or(progress.total_pages);
        lock(&progress.pace).pages_left = progress
            .total_pages
            .map(|total| total.saturating_sub(progress.pages));
        bar.set_message(match pages {
            Some(pages) => format!("page {}/{pages}", progress.pages),
            None => format!("page {}", progress.pages),
        });
        if let Some((length, _)) = known {
            bar.set_length(length);
            if !progress.counted {
                progress.counted = true;
                bar.set_style(style(BAR, &progress.wait, &progress.pace));
            }
        }
    }

    /// Shows a retry the listing waits for (`why`, e.g. "rate limited (429)") with a
    /// countdown, until the next answer.
    pub(crate) fn waiting(&self, why: &str, wait: Duration) {
        self.show_wait(format!("{why}, retry in"), wait);
    }

    /// Shows a wait for the pace (learned from 429s, or the budget) with a countdown: not a
    /// failure, so worded apart from a 429's.
    pub(crate) fn paced(&self, wait: Duration) {
        self.show_wait(String::from("paced: next request in"), wait);
    }

    /// The pace the listing keeps from now on: the time left follows it.
    pub(crate) fn pace(&self, interval: Duration) {
        if let Some(progress) = lock(&self.progress).as_ref() {
            lock(&progress.pace).interval = Some(interval);
        }
    }

    /// The budget's time between requests (--max-rate): the time left is never shorter.
    pub(crate) fn budget(&self, interval: Duration) {
        if let Some(progress) = lock(&self.progress).as_ref() {
            lock(&progress.pace).budget = Some(interval);
        }
    }

    fn show_wait(&self, what: String, wait: Duration) {
        if let Some(progress) = lock(&self.progress).as_ref() {
            *lock(&progress.wait) = Some(Wait {
                what,
                until: Instant::now() + wait,
            });
            progress.bar.tick();
        }
    }

    /// An answer came: the wait, if any, is over.
    pub(crate) fn answered(&self) {
        if let Some(progress) = lock(&self.progress).as_ref() {
            *lock(&progress.wait) = None;
        }
    }

    /// Runs `f` (which writes to the terminal) with the progress display cleared, then
    /// draws it again.
    pub(crate) fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match self.bar() {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Writes a line (or several) on stderr in one write, above the progress display.
    pub(crate) fn line(&self, text: &str) {
        let mut line = String::with_capacity(text.len() + 1);
        line.push_str(text);
        line.push('\n');
        self.suspend(|| {
            let _ = io::stderr().lock().write_all(line.as_bytes());
        });
    }

    /// Removes the progress display for good.
    pub(crate) fn finish(&self) {
        if let Some(progress) = lock(&self.progress).take() {
            progress.bar.finish_and_clear();
        }
    }
}
