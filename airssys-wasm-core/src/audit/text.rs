//! Text in audit events: capped when recorded, escaped when shown.
//!
//! Much of what an audit event says comes from a guest: the request it made
//! (a path, a key-value namespace, a URL), the error it caused, the name of
//! its export. Two rules keep that text harmless:
//!
//! - **Recorded text is capped** at [`MAX_AUDIT_TEXT`] bytes. Longer text is
//!   cut at a character boundary and ends with a marker saying how many
//!   bytes were cut, e.g. `…[cut 52428800 bytes]`. [`capped`] formats a
//!   value straight into a bounded buffer, so a 50 MiB request never
//!   becomes a 50 MiB string; [`cap`] shortens a string already built.
//! - **Shown text is escaped**: [`Escaped`] writes control characters (C0,
//!   DEL, C1), Unicode bidirectional controls and line separators as
//!   `\n`, `\r`, `\t` or `\u{1b}`, so a guest cannot forge a line of a
//!   terminal report or reprogram the terminal. The JSON audit log needs no
//!   such escaping: JSON strings escape control characters themselves.
//!
//! ```
//! use airssys_wasm_core::audit::{capped, Escaped, MAX_AUDIT_TEXT};
//!
//! let huge = "x".repeat(10 * MAX_AUDIT_TEXT);
//! let text = capped(format_args!("kv {huge}"));
//! assert!(text.len() <= MAX_AUDIT_TEXT);
//! assert!(text.ends_with("…[cut 9239 bytes]"), "{text}");
//!
//! let shown = Escaped("ok\n\u{1b}[2JFAKE LINE").to_string();
//! assert_eq!(shown, r"ok\n\u{1b}[2JFAKE LINE");
//! ```

use std::fmt::{self, Write as _};

/// The longest text field of a recorded audit event, in bytes, including
/// the marker of a cut (`…[cut N bytes]`). Every string of an
/// [`AuditEvent`](crate::AuditEvent) built with [`AuditEvent::new`] or
/// [`AuditEvent::at`](crate::AuditEvent::at) is capped to it.
///
/// [`AuditEvent::new`]: crate::AuditEvent::new
pub const MAX_AUDIT_TEXT: usize = 1024;

/// `value` formatted, capped at [`MAX_AUDIT_TEXT`] bytes. The formatting
/// writes into a buffer of at most that size and only counts what does not
/// fit, so the cost is bounded however long the value would be.
pub fn capped(value: impl fmt::Display) -> String {
    let mut out = Bounded::new(MAX_AUDIT_TEXT);
    // Bounded's writes never fail; a Display impl that fails leaves what it
    // wrote so far, which is all there is to record.
    let _ = write!(out, "{value}");
    out.finish()
}

/// Shortens `text` to at most [`MAX_AUDIT_TEXT`] bytes, marking the cut.
/// Text within the cap is returned as it is (so capping twice is capping
/// once).
pub fn cap(mut text: String) -> String {
    if text.len() > MAX_AUDIT_TEXT {
        let total = text.len();
        let kept = kept_len(&text, total, MAX_AUDIT_TEXT);
        text.truncate(kept);
        mark(&mut text, total - kept);
        text.shrink_to_fit();
    }
    text
}

/// `true` when `text` needs [`cap`].
pub(crate) fn over(text: &str) -> bool {
    text.len() > MAX_AUDIT_TEXT
}

/// How many leading bytes of `text` (whose full length is `total`) to keep
/// so that they and the marker fit in `max`.
fn kept_len(text: &str, total: usize, max: usize) -> usize {
    // The marker of the whole length is at least as long as the marker of
    // what is really cut, so keeping `max - marker(total)` always fits.
    let room = max.saturating_sub(marker_len(total));
    floor_char_boundary(text, room.min(text.len()))
}

fn marker_len(cut: usize) -> usize {
    let digits = cut.checked_ilog10().map_or(1, |d| d as usize + 1);
    "…[cut ".len() + digits + " bytes]".len()
}

fn mark(text: &mut String, cut: usize) {
    let _ = write!(text, "…[cut {cut} bytes]");
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A `fmt::Write` that keeps the first `max` bytes and counts the rest.
struct Bounded {
    buf: String,
    max: usize,
    dropped: usize,
}

impl Bounded {
    fn new(max: usize) -> Self {
        Self {
            buf: String::new(),
            max,
            dropped: 0,
        }
    }

    fn finish(mut self) -> String {
        if self.dropped > 0 {
            let total = self.buf.len() + self.dropped;
            let kept = kept_len(&self.buf, total, self.max);
            self.buf.truncate(kept);
            mark(&mut self.buf, total - kept);
        }
        self.buf
    }
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.dropped == 0 {
            let room = self.max - self.buf.len();
            if s.len() <= room {
                self.buf.push_str(s);
                return Ok(());
            }
            let take = floor_char_boundary(s, room);
            self.buf.push_str(&s[..take]);
            self.dropped += s.len() - take;
        } else {
            self.dropped += s.len();
        }
        Ok(())
    }
}

/// Shows text with control characters escaped: `\n`, `\r` and `\t` for
/// themselves, `\u{…}` for every other C0 or C1 control, DEL, the Unicode
/// bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E,
/// U+2066–U+2069) and the line and paragraph separators (U+2028, U+2029).
/// Everything else is written as it is. Width and alignment (`{:<14}`)
/// apply to the escaped text.
///
/// ```
/// use airssys_wasm_core::audit::Escaped;
///
/// assert_eq!(Escaped("a\u{202e}b\r\n").to_string(), r"a\u{202e}b\r\n");
/// assert_eq!(format!("[{:<6}]", Escaped("é\t")), r"[é\t   ]");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.width().is_some() {
            let mut text = String::new();
            write!(Escaper(&mut text), "{}", self.0)?;
            f.pad(&text)
        } else {
            write!(Escaper(f), "{}", self.0)
        }
    }
}

/// Whether `c` is written escaped by [`Escaped`].
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// A `fmt::Write` adapter that escapes what passes through it, as
/// [`Escaped`] says. Useful to escape the output of any formatting (a
/// `tracing` field formatter, say) without building the text first.
///
/// ```
/// use std::fmt::Write;
/// use airssys_wasm_core::audit::Escaper;
///
/// let mut out = String::new();
/// write!(Escaper(&mut out), "{}", "one\ntwo").unwrap();
/// assert_eq!(out, r"one\ntwo");
/// ```
pub struct Escaper<W>(pub W);

impl<W: fmt::Write> fmt::Write for Escaper<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some((i, c)) = rest.char_indices().find(|&(_, c)| needs_escape(c)) {
            self.0.write_str(&rest[..i])?;
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{{{:x}}}", c as u32)?,
            }
            rest = &rest[i + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_within_the_cap_is_kept_whole() {
        let text = "a".repeat(MAX_AUDIT_TEXT);
        assert_eq!(cap(text.clone()), text);
        assert_eq!(capped(&text), text);
    }

    #[test]
    fn longer_text_is_cut_at_a_char_boundary_and_marked() {
        // Three-byte characters: no cut can fall on a multiple of 1024.
        let text = "€".repeat(2000);
        for out in [cap(text.clone()), capped(&text)] {
            assert!(out.len() <= MAX_AUDIT_TEXT, "{}", out.len());
            let (kept, marker) = out.split_once('…').unwrap();
            assert!(kept.chars().all(|c| c == '€'));
            assert_eq!(marker, format!("[cut {} bytes]", text.len() - kept.len()));
            // The cut leaves no more room than the marker needs.
            assert!(out.len() + 3 > MAX_AUDIT_TEXT, "{}", out.len());
            // Capping again changes nothing.
            assert_eq!(cap(out.clone()), out);
        }
    }

    #[test]
    fn capped_formatting_counts_every_piece() {
        let big = "y".repeat(5000);
        let out = capped(format_args!("{big}-{big}-{}", 7));
        let kept = out.split_once('…').unwrap().0.len();
        assert_eq!(
            out,
            format!("{}…[cut {} bytes]", &big[..kept], 10003 - kept)
        );
    }

    #[test]
    fn every_control_and_bidi_character_is_escaped() {
        let hostile = "a\u{1b}[2J\r\nFAKE\t\u{7f}\u{85}\u{9b}\u{202e}\u{2066}\u{2028}\u{61c}z";
        let shown = Escaped(hostile).to_string();
        assert_eq!(
            shown,
            r"a\u{1b}[2J\r\nFAKE\t\u{7f}\u{85}\u{9b}\u{202e}\u{2066}\u{2028}\u{61c}z"
        );
        assert!(!shown.chars().any(needs_escape));
        assert_eq!(Escaped("plain é ü 日本").to_string(), "plain é ü 日本");
    }
}
