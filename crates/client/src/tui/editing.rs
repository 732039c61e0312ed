//! The input line's editing, as readline does it: a cursor that moves by
//! character, word and line; deleting either side of it (Ctrl-U, Ctrl-K,
//! Ctrl-W); the lines sent this session, recalled with Up and Down; and
//! Tab completion of command names and member names, cycling through the
//! candidates on repeated Tabs.
//!
//! It owns the line (`InputLine`, which the view's model holds) and every
//! edit of it: plain data and string edits, so `keys` only maps keys to
//! these and the tests need no terminal.

use crate::command::COMMANDS;

/// Lines kept for Up and Down.
pub const HISTORY_LINES: usize = 200;

/// The line being typed, and whether keys type into it or are shortcuts;
/// the functions below edit it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputLine {
    pub typing: bool,
    pub text: String,
    /// Where the next character goes: a byte offset into `text`.
    cursor: usize,
    /// The lines sent this session, oldest first.
    pub history: Vec<String>,
    /// The history line shown (Up and Down), if any.
    recalled: Option<usize>,
    /// The line being typed when Up first recalled an older one.
    draft: String,
    completion: Option<Completion>,
}

/// A Tab completion in progress: what was typed, and which candidate the
/// last Tab put in its place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// Where the completed word starts (a byte offset).
    start: usize,
    candidates: Vec<String>,
    /// The candidate shown now.
    at: usize,
}

/// Whether `typed` is how `name` begins, case aside; an opening quote in
/// either is no part of the name.
fn begins_name(name: &str, typed: &str) -> bool {
    let name = name.strip_prefix('"').unwrap_or(name).to_lowercase();
    let typed = typed.strip_prefix('"').unwrap_or(typed).to_lowercase();
    name.starts_with(&typed)
}

/// Where the longest run of words at the end of `before` (the text before
/// the cursor) that begins one of `members` starts; a command's own name
/// is never part of it.
fn name_start(before: &str, members: &[String]) -> Option<usize> {
    let first_word_end = if before.starts_with('/') {
        before.find(char::is_whitespace)?
    } else {
        0
    };
    before
        .char_indices()
        .filter(|&(at, _)| at >= first_word_end)
        .filter(|&(at, c)| {
            !c.is_whitespace() && (at == 0 || before[..at].ends_with(char::is_whitespace))
        })
        .map(|(at, _)| at)
        .find(|&at| members.iter().any(|name| begins_name(name, &before[at..])))
}

impl InputLine {
    /// The cursor as a byte offset on a character boundary of `text`
    /// (the text may have been replaced under it).
    pub fn cursor(&self) -> usize {
        let mut at = self.cursor.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    /// How many characters are before the cursor (for drawing it).
    pub fn cursor_chars(&self) -> usize {
        self.text[..self.cursor()].chars().count()
    }

    /// Replaces the whole line, the cursor at its end.
    pub fn set(&mut self, text: &str) {
        self.text = text.to_string();
        self.cursor = self.text.len();
        self.completion = None;
    }

    pub fn insert(&mut self, c: char) {
        let at = self.cursor();
        self.text.insert(at, c);
        self.cursor = at + c.len_utf8();
        self.completion = None;
    }

    pub fn insert_str(&mut self, s: &str) {
        let at = self.cursor();
        self.text.insert_str(at, s);
        self.cursor = at + s.len();
        self.completion = None;
    }

    /// Deletes the bytes `from..to` (character boundaries) and puts the cursor at `from`.
    fn cut(&mut self, from: usize, to: usize) {
        self.text.replace_range(from..to, "");
        self.cursor = from;
        self.completion = None;
    }

    fn previous_boundary(&self, at: usize) -> usize {
        self.text[..at]
            .char_indices()
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn next_boundary(&self, at: usize) -> usize {
        self.text[at..]
            .chars()
            .next()
            .map_or(at, |c| at + c.len_utf8())
    }

    pub fn left(&mut self) {
        self.cursor = self.previous_boundary(self.cursor());
        self.completion = None;
    }

    pub fn right(&mut self) {
        self.cursor = self.next_boundary(self.cursor());
        self.completion = None;
    }

    pub fn home(&mut self) {
        self.cursor = 0;
        self.completion = None;
    }

    pub fn end(&mut self) {
        self.cursor = self.text.len();
        self.completion = None;
    }

    /// Backspace: the character before the cursor.
    pub fn delete_back(&mut self) {
        let at = self.cursor();
        let from = self.previous_boundary(at);
        self.cut(from, at);
    }

    /// Delete: the character under the cursor.
    pub fn delete_forward(&mut self) {
        let at = self.cursor();
        let to = self.next_boundary(at);
        self.cut(at, to);
    }

    /// Ctrl-U: everything before the cursor.
    pub fn kill_to_start(&mut self) {
        let at = self.cursor();
        self.cut(0, at);
    }

    /// Ctrl-K: everything from the cursor on.
    pub fn kill_to_end(&mut self) {
        let at = self.cursor();
        let end = self.text.len();
        self.cut(at, end);
        self.cursor = at;
    }

    /// Ctrl-W: the word before the cursor, and the spaces after it.
    pub fn kill_word(&mut self) {
        let at = self.cursor();
        let before = &self.text[..at];
        let words_end = before.trim_end().len();
        let from = before[..words_end]
            .rfind(char::is_whitespace)
            .map_or(0, |i| i + 1);
        self.cut(from, at);
    }

    /// Takes the line to send: remembered for Up (unless it repeats the
    /// last one), and the line empties.
    pub fn take_line(&mut self) -> String {
        let line = std::mem::take(&mut self.text);
        self.cursor = 0;
        self.completion = None;
        self.recalled = None;
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            if self.history.len() == HISTORY_LINES {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        line
    }

    /// Up: the line sent before the one shown (the line being typed is
    /// kept, and comes back with Down).
    pub fn history_back(&mut self) {
        let at = match self.recalled {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.text.clone();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(at) => at - 1,
        };
        self.recalled = Some(at);
        let line = self.history[at].clone();
        self.set(&line);
    }

    /// Down: the line sent after the one shown, then the line that was being typed.
    pub fn history_forward(&mut self) {
        let Some(at) = self.recalled else {
            return;
        };
        if at + 1 < self.history.len() {
            self.recalled = Some(at + 1);
            let line = self.history[at + 1].clone();
            self.set(&line);
        } else {
            self.recalled = None;
            let draft = std::mem::take(&mut self.draft);
            self.set(&draft);
        }
    }

    /// Tab: completes the word before the cursor: a command name after a
    /// leading `/`, a member's name anywhere else. A name may have spaces,
    /// so what is completed is the longest run of words before the cursor
    /// that begins a name (`Cy L` becomes `Cy Lee`). Repeated Tabs cycle
    /// through the candidates (back to what was typed after the last).
    /// `members` are the names to offer, as commands take them (quoted
    /// where they have spaces: the quote matches or not).
    pub fn complete(&mut self, members: &[String]) {
        if let Some(mut completion) = self.completion.take() {
            // The next candidate in place of the last one.
            completion.at = (completion.at + 1) % completion.candidates.len();
            let at = self.cursor();
            let next = completion.candidates[completion.at].clone();
            self.text.replace_range(completion.start..at, &next);
            self.cursor = completion.start + next.len();
            self.completion = Some(completion);
            return;
        }
        let at = self.cursor();
        let mut start = self.text[..at]
            .rfind(char::is_whitespace)
            .map_or(0, |i| i + 1);
        let word = &self.text[start..at];
        let command_name = start == 0 && word.starts_with('/');
        if !command_name && !word.is_empty() {
            start = name_start(&self.text[..at], members).unwrap_or(start);
        }
        let word = &self.text[start..at];
        let mut candidates: Vec<String> = if start == 0 && word.starts_with('/') {
            let typed = &word[1..];
            let mut names: Vec<String> = COMMANDS
                .iter()
                .flat_map(|spec| std::iter::once(spec.name).chain(spec.aliases.iter().copied()))
                .filter(|name| name.starts_with(typed))
                .map(|name| format!("/{name} "))
                .collect();
            names.sort();
            names
        } else {
            if word.is_empty() {
                return;
            }
            members
                .iter()
                .filter(|name| begins_name(name, word))
                .cloned()
                .collect()
        };
        candidates.dedup();
        if candidates.is_empty() {
            return;
        }
        // What was typed comes back after the last candidate.
        let typed = word.to_string();
        let first = candidates[0].clone();
        let single = candidates.len() == 1;
        candidates.push(typed);
        self.text.replace_range(start..at, &first);
        self.cursor = start + first.len();
        if !single {
            self.completion = Some(Completion {
                start,
                candidates,
                at: 0,
            });
        }
    }

    /// Any key but Tab ends a completion: the candidate shown stays.
    pub fn end_completion(&mut self) {
        self.completion = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> InputLine {
        let mut input = InputLine::default();
        input.set(text);
        input
    }

    /// The line with `|` where the cursor is.
    fn shown(input: &InputLine) -> String {
        let mut text = input.text.clone();
        text.insert(input.cursor(), '|');
        text
    }

    #[test]
    fn the_cursor_moves_by_character_and_edits_happen_there() {
        let mut input = line("héllo wörld");
        input.home();
        input.right();
        input.right();
        assert_eq!(shown(&input), "hé|llo wörld");
        input.insert('X');
        assert_eq!(shown(&input), "héX|llo wörld");
        input.delete_back();
        input.delete_back();
        assert_eq!(shown(&input), "h|llo wörld");
        input.delete_forward();
        assert_eq!(shown(&input), "h|lo wörld");
        input.end();
        input.left();
        input.delete_back();
        assert_eq!(shown(&input), "hlo wör|d");
        input.home();
        input.left();
        input.delete_back();
        assert_eq!(shown(&input), "|hlo wörd", "nothing before the start");
        input.end();
        input.right();
        input.delete_forward();
        assert_eq!(shown(&input), "hlo wörd|", "nothing after the end");
    }

    #[test]
    fn kills_cut_before_after_and_the_word_before_the_cursor() {
        let mut input = line("say hello  to ana");
        input.kill_word();
        assert_eq!(shown(&input), "say hello  to |");
        input.kill_word();
        assert_eq!(shown(&input), "say hello  |");
        for _ in 0..4 {
            input.left();
        }
        assert_eq!(shown(&input), "say hel|lo  ");
        input.kill_to_end();
        assert_eq!(shown(&input), "say hel|");
        input.left();
        input.kill_to_start();
        assert_eq!(shown(&input), "|l");
        // Text replaced under the cursor: it stays inside it.
        input.text = "ü".into();
        input.cursor = 1;
        assert_eq!(input.cursor(), 0);
    }

    #[test]
    fn up_and_down_walk_the_lines_sent_and_keep_the_draft() {
        let mut input = InputLine::default();
        for sent in ["/create", "hello", "hello", "/members"] {
            input.set(sent);
            assert_eq!(input.take_line(), sent);
        }
        assert_eq!(
            input.history,
            ["/create", "hello", "/members"],
            "no repeats"
        );
        input.set("half a th");
        input.history_back();
        assert_eq!(input.text, "/members");
        input.history_back();
        input.history_back();
        input.history_back();
        assert_eq!(input.text, "/create", "stops at the oldest");
        input.history_forward();
        assert_eq!(shown(&input), "hello|");
        input.history_forward();
        input.history_forward();
        assert_eq!(input.text, "half a th", "the draft comes back");
        input.history_forward();
        assert_eq!(input.text, "half a th");
    }

    #[test]
    fn tab_completes_commands_and_names_and_cycles() {
        let members = vec!["ana".to_string(), "Anton".to_string(), "bo".to_string()];
        let mut input = line("/vo");
        input.complete(&members);
        assert_eq!(shown(&input), "/volume |");
        input.set("/mu");
        input.complete(&members);
        assert_eq!(input.text, "/mute ");
        input.complete(&members);
        assert_eq!(input.text, "/mute ", "the only candidate stays");

        input.set("/m");
        input.complete(&members);
        let first = input.text.clone();
        input.complete(&members);
        assert_ne!(input.text, first, "a second Tab shows the next command");
        assert!(input.text.starts_with("/m"));

        input.set("/volume an");
        input.complete(&members);
        assert_eq!(input.text, "/volume ana");
        input.complete(&members);
        assert_eq!(input.text, "/volume Anton", "case does not matter");
        input.complete(&members);
        assert_eq!(input.text, "/volume an", "and round again");
        input.complete(&members);
        assert_eq!(input.text, "/volume ana");
        input.insert(' ');
        input.insert('5');
        assert_eq!(input.text, "/volume ana 5", "a key ends the cycling");

        // In the middle of a line: only the word before the cursor changes.
        input.set("hi b how are you");
        input.home();
        for _ in 0..4 {
            input.right();
        }
        input.complete(&members);
        assert_eq!(shown(&input), "hi bo| how are you");
        input.set("/fly");
        input.complete(&members);
        assert_eq!(input.text, "/fly", "nothing to complete");
    }

    /// A name with spaces is completed from its first word or more, and
    /// offered as commands take it (quoted in a command line).
    #[test]
    fn tab_completes_names_with_spaces() {
        let members = vec!["\"Cy Lee\"".to_string(), "Cyd".to_string()];
        let mut input = line("/msg cy");
        input.complete(&members);
        assert_eq!(input.text, "/msg \"Cy Lee\"");
        input.complete(&members);
        assert_eq!(input.text, "/msg Cyd");
        input.set("/msg Cy L");
        input.complete(&members);
        assert_eq!(input.text, "/msg \"Cy Lee\"", "two words typed, one name");
        input.set("/mute \"cy");
        input.complete(&members);
        assert_eq!(input.text, "/mute \"Cy Lee\"", "a quote typed is matched");
        let chat = vec!["Cy Lee".to_string()];
        input.set("thanks cy l");
        input.complete(&chat);
        assert_eq!(input.text, "thanks Cy Lee");
    }
}
