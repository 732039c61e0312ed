//! Text laid out for the view's boxes: wrapped between words (and a long
//! path between its parts), and titles that shorten to fit a border.

use unicode_width::UnicodeWidthChar;

/// `text` cut between words into rows of at most `width` columns.
pub fn textwrap_words(text: &str, width: usize) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    let mut row = String::new();
    for word in text.split(' ') {
        let fits = unicode_width::UnicodeWidthStr::width(row.as_str())
            + 1
            + unicode_width::UnicodeWidthStr::width(word)
            <= width;
        if !row.is_empty() && !fits {
            rows.push(std::mem::take(&mut row));
        }
        if !row.is_empty() {
            row.push(' ');
        }
        row.push_str(word);
    }
    if !row.is_empty() {
        rows.push(row);
    }
    rows
}

/// The first of `titles` (longest first, each shorter by what matters
/// least) that fits on the top border of a box `width` columns wide; the
/// last, whatever its width, if none does.
pub fn fitting(titles: Vec<String>, width: u16) -> String {
    let room = usize::from(width.saturating_sub(2));
    let mut titles = titles.into_iter().peekable();
    while let Some(title) = titles.next() {
        if titles.peek().is_none() || unicode_width::UnicodeWidthStr::width(title.as_str()) <= room
        {
            return title;
        }
    }
    String::new()
}

/// Splits `text` into lines at most `width` columns wide, between words where
/// it can. A word too long for a line is split after a `/` (a path breaks
/// between its parts: `~/.config/meeting/` and `known_hosts`), and inside a
/// part only when that part alone is too long.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let columns = |s: &str| -> usize { s.chars().map(|c| c.width().unwrap_or(0)).sum() };
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split(' ') {
        let word_width = columns(word);
        let space = usize::from(used > 0);
        if used + space + word_width <= width {
            if space == 1 {
                line.push(' ');
            }
            line.push_str(word);
            used += space + word_width;
            continue;
        }
        if used > 0 {
            lines.push(std::mem::take(&mut line));
            used = 0;
        }
        for part in word.split_inclusive('/') {
            let part_width = columns(part);
            if used + part_width <= width {
                line.push_str(part);
                used += part_width;
                continue;
            }
            if used > 0 && part_width <= width {
                lines.push(std::mem::take(&mut line));
                line.push_str(part);
                used = part_width;
                continue;
            }
            for c in part.chars() {
                let w = c.width().unwrap_or(0);
                if used + w > width {
                    lines.push(std::mem::take(&mut line));
                    used = 0;
                }
                line.push(c);
                used += w;
            }
        }
    }
    lines.push(line);
    lines
}
