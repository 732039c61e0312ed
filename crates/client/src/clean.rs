//! The string cleaner: the one place that decides what text from the
//! network may be shown.
//!
//! Nothing from the network is trusted: a rogue server, or anyone on the
//! unencrypted path, can put terminal control sequences in any string. Every
//! human output (the line front end, the full-screen view, `chat.log`, the
//! last words on stderr) passes network text through `clean`, and the JSON
//! output escapes the same characters (`is_unsafe_to_show`) instead of
//! writing them raw.

/// Whether `c` must not be shown as it is: it could drive a terminal or make
/// text read differently from what it holds.
///
/// - Controls (`char::is_control`): C0 (ESC starts every escape sequence, BEL
///   ends OSC titles, CR and LF forge lines), DEL, and C1 (U+0080–U+009F:
///   U+009B is a one-character CSI to terminals that take 8-bit controls).
/// - Bidirectional embeddings, overrides, isolates and marks: they reorder
///   what follows them ("txt.exe" shown as "exe.txt").
/// - Invisible formatting: zero-width spaces and joiners, word joiners,
///   the BOM, soft hyphens, tag characters, line and paragraph separators.
///   They hide text or make two different names look the same.
pub fn is_unsafe_to_show(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'                    // soft hyphen
                | '\u{061C}'              // Arabic letter mark
                | '\u{180E}'              // Mongolian vowel separator
                | '\u{200B}'..='\u{200F}' // zero-width space, non-joiner, joiner; LRM, RLM
                | '\u{2028}'..='\u{202E}' // line and paragraph separators; LRE, RLE, PDF, LRO, RLO
                | '\u{2060}'..='\u{206F}' // word joiner, invisible operators; LRI, RLI, FSI, PDI
                | '\u{FEFF}'              // zero-width no-break space (BOM)
                | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
                | '\u{E0000}'..='\u{E007F}' // tag characters
        )
}

/// `text` as one line that is safe to show: every character
/// `is_unsafe_to_show` becomes a space, so an escape sequence shows as its
/// harmless remains (`[2J`) and a line break cannot start a forged line.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if is_unsafe_to_show(c) { ' ' } else { c })
        .collect()
}

/// `clean` for a text of several lines: keeps the line breaks, cleans each
/// line. Line front ends pass everything they print through it, so a string
/// a wording forgot to clean still reaches the terminal harmless.
pub fn clean_lines(text: &str) -> String {
    text.split('\n').map(clean).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
pub(crate) mod fixtures {
    /// What a rogue server (or anyone on the unencrypted path) might put in
    /// any string: a window-title OSC, a screen clear, a C1 CSI, a bidi
    /// override and isolate, invisible characters, and a line break that
    /// forges a line of its own.
    pub(crate) const HOSTILE: &str = "ev\x1b]0;pwned\x07il\x1b[2J\u{9b}31m\u{202e}exe.txt\u{2066}\u{200b}\u{200d}\u{feff}\u{e0041}\r\nserver: fake line";

    /// Characters that must never reach a terminal from the network, listed
    /// independently of `clean` so the test does not grade its own homework.
    pub(crate) fn steers_a_terminal(c: char) -> bool {
        matches!(
            u32::from(c),
            0x00..=0x1f | 0x7f..=0x9f | 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069
                | 0xfeff | 0xe0000..=0xe007f
        )
    }

    /// Panics if `text` holds a character that steers a terminal (line
    /// breaks allowed only where `lines` says the text has several lines).
    pub(crate) fn assert_shown_safely(what: &str, text: &str, lines: bool) {
        let bad: Vec<String> = text
            .chars()
            .filter(|&c| steers_a_terminal(c) && !(lines && c == '\n'))
            .map(|c| format!("U+{:04X}", u32::from(c)))
            .collect();
        assert!(bad.is_empty(), "{what}: {bad:?} in {text:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{HOSTILE, assert_shown_safely};
    use super::*;

    #[test]
    fn clean_neutralises_controls_c1_bidi_and_invisible_characters() {
        let cleaned = clean(HOSTILE);
        assert_shown_safely("clean", &cleaned, false);
        assert!(cleaned.contains("pwned") && cleaned.contains("fake line"));
        // Ordinary text of every script stays as it is.
        let plain = "Zoë 李 ναι مرحبا 🙂 tab-free";
        assert_eq!(clean(plain), plain);
        assert_eq!(
            clean_lines("two\nlines\x1b"),
            "two\nlines ",
            "clean_lines keeps its own line breaks only"
        );
    }
}
