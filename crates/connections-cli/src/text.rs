//! Text for a terminal: control characters made visible, and cells cut to a display width.

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Whether a terminal could act on `c` instead of showing it: C0 controls (newline too,
/// unless `keep_newline`), DEL, C1 controls (U+0080 to U+009F, `U+009B` alone starts an
/// escape sequence on some terminals), and the bidirectional overrides and isolates that
/// reorder what is shown.
fn is_unsafe(c: char, keep_newline: bool) -> bool {
    match c {
        '\n' => !keep_newline,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
        '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// `text` with every character a terminal would act on replaced by a visible escape:
/// `\x1b` for C0 controls and DEL, `\u{9b}` for C1 controls and bidirectional controls.
/// Borrowed when there is nothing to replace (the usual case).
pub(crate) fn escape_controls(text: &str, keep_newline: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c, keep_newline)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_unsafe(c, keep_newline) {
            out.push(c);
        } else if u32::from(c) < 0x80 {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// Columns `text` takes on a terminal.
pub(crate) fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` cut to at most `max` columns, ending with `…` when cut.
pub(crate) fn elide(text: &str, max: usize) -> Cow<'_, str> {
    if width(text) <= max {
        return Cow::Borrowed(text);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    Cow::Owned(out)
}

/// `text` padded with spaces to `columns`.
pub(crate) fn pad(out: &mut String, text: &str, columns: usize) {
    out.push_str(text);
    for _ in width(text)..columns {
        out.push(' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_and_the_rest_stays() {
        assert_eq!(
            escape_controls("plain ünïcode 车", false),
            "plain ünïcode 车"
        );
        assert_eq!(
            escape_controls("\u{1b}[31mred\u{7}\u{7f}", false),
            "\\x1b[31mred\\x07\\x7f"
        );
        assert_eq!(
            escape_controls("a\u{9b}b\u{202e}c", false),
            "a\\u{9b}b\\u{202e}c"
        );
        assert_eq!(escape_controls("a\nb\tc", false), "a\\x0ab\\x09c");
        assert_eq!(escape_controls("a\nb\tc", true), "a\nb\\x09c");
    }

    #[test]
    fn cells_are_cut_by_display_width() {
        assert_eq!(elide("abcdef", 6), "abcdef");
        assert_eq!(elide("abcdef", 4), "abc…");
        assert_eq!(elide("车车车", 4), "车…");
        assert_eq!(width(&elide("车车车", 4)), 3);
        let mut line = String::new();
        pad(&mut line, "车", 4);
        assert_eq!(line, "车  ");
    }
}
