//! The README's tables of commands and of the full-screen view's keys, made
//! from `COMMANDS` and `SHORTCUTS` as `/help`, `--help`, the `?` overlay
//! and the man page are, and the test that fails when the README's copy
//! differs: a command or key added, renamed or described anew shows up in
//! the README too, or the tests say so. `UPDATE_README=1 cargo test -p
//! meeting-client readme` writes the tables into the README.
//!
//! The tests also read the README (and docs/) as CommonMark with GitHub's
//! tables does: a fence that does not close turned the rest of a README into
//! code once, and a paragraph in the middle of a table orphaned its rows.

use crate::command::{CHAT_DETAILS, COMMANDS};
use crate::tui::SHORTCUTS;

/// Text for a Markdown table cell: a `|` would end the cell, also inside a
/// code span (GitHub's tables take `\|` there).
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn code(text: &str) -> String {
    format!("`{}`", cell(text))
}

/// `Enter, i, t` as `` `Enter`, `i`, `t` ``; words (`while typing`,
/// `click`) stay words.
fn keys_cell(keys: &str) -> String {
    keys.split(", ")
        .map(|group| {
            group
                .split(' ')
                .map(|token| {
                    let word = token.len() > 1 && token.chars().all(|c| c.is_ascii_lowercase());
                    if word { token.to_string() } else { code(token) }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The README's table of commands.
pub fn command_table() -> String {
    let mut table = String::from("| command | what it does |\n|---|---|\n");
    for spec in COMMANDS {
        let usage: Vec<String> = spec.usage.iter().map(|u| code(u)).collect();
        let mut what = cell(spec.described());
        if !spec.aliases.is_empty() {
            let aliases: Vec<String> = spec
                .aliases
                .iter()
                .map(|a| code(&format!("/{a}")))
                .collect();
            what.push_str(&format!("; also {}", aliases.join(", ")));
        }
        table.push_str(&format!("| {} | {what} |\n", usage.join(" / ")));
    }
    table.push_str(&format!(
        "| {} | {} |\n",
        CHAT_DETAILS.0,
        cell(CHAT_DETAILS.1)
    ));
    table
}

/// The README's table of the full-screen view's keys.
pub fn key_table() -> String {
    let mut table = String::from("| key | what it does |\n|---|---|\n");
    for shortcut in SHORTCUTS {
        table.push_str(&format!(
            "| {} | {} |\n",
            keys_cell(shortcut.keys),
            cell(shortcut.described())
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn readme_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md")
    }

    /// Where a generated table sits: after the line holding `start`, up to
    /// the line holding `end`.
    fn between(text: &str, start: &str, end: &str) -> Option<(usize, usize)> {
        let from = text.find(start)?;
        let from = from + text[from..].find('\n')? + 1;
        let to = from + text[from..].find(end)?;
        Some((from, to))
    }

    #[test]
    fn the_readme_lists_every_command_and_key_as_the_help_does() {
        let path = readme_path();
        let mut readme = std::fs::read_to_string(&path).expect("README.md");
        let mut stale = Vec::new();
        for (start, end, table) in [
            (
                "<!-- commands: made from COMMANDS",
                "<!-- end of commands -->",
                command_table(),
            ),
            (
                "<!-- keys: made from SHORTCUTS",
                "<!-- end of keys -->",
                key_table(),
            ),
        ] {
            let (from, to) = between(&readme, start, end)
                .unwrap_or_else(|| panic!("README.md has no '{start}' ... '{end}'"));
            if readme[from..to] != table {
                stale.push(start);
                readme.replace_range(from..to, &table);
            }
        }
        if stale.is_empty() {
            return;
        }
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(&path, readme).expect("README.md written");
            return;
        }
        panic!(
            "README.md's tables {stale:?} differ from the help's; UPDATE_README=1 cargo test -p meeting-client readme writes them"
        );
    }

    /// What CommonMark (with tables) makes of `text` that its writer did
    /// not mean: a line after a closing fence (` ``` text`), which does not
    /// close it; a heading or table row swallowed by a code block or a
    /// paragraph. Fences and headings are first found line by line, as a
    /// reader sees them, then looked up in what the parser made.
    fn commonmark_problems(text: &str) -> Vec<String> {
        use pulldown_cmark::{Event, Options, Parser, Tag};
        let mut code = Vec::new();
        let mut tables = Vec::new();
        let mut headings = Vec::new();
        for (event, range) in Parser::new_ext(text, Options::ENABLE_TABLES).into_offset_iter() {
            match event {
                Event::Start(Tag::CodeBlock(_)) => code.push(range),
                Event::Start(Tag::Table(_)) => tables.push(range),
                Event::Start(Tag::Heading { .. }) => headings.push(range),
                _ => {}
            }
        }
        let within =
            |ranges: &[std::ops::Range<usize>], at: usize| ranges.iter().any(|r| r.contains(&at));
        let mut problems = Vec::new();
        let mut in_fence = false;
        let mut at = 0;
        for (number, line) in text.split('\n').enumerate() {
            let number = number + 1;
            if let Some(after) = line.strip_prefix("```") {
                if in_fence && !after.trim().is_empty() {
                    problems.push(format!(
                        "line {number}: a closing fence takes nothing after it: {line:?}"
                    ));
                }
                in_fence = !in_fence;
            } else if !in_fence {
                let heading =
                    line.starts_with('#') && line.trim_start_matches('#').starts_with(' ');
                if heading && !within(&headings, at) {
                    problems.push(format!("line {number}: not read as a heading: {line:?}"));
                }
                if line.starts_with('|') && !within(&tables, at) && !within(&code, at) {
                    problems.push(format!(
                        "line {number}: a table row outside any table: {line:?}"
                    ));
                }
            }
            at += line.len() + 1;
        }
        problems
    }

    #[test]
    fn the_readme_and_the_docs_read_as_commonmark_as_written() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut files = vec![root.join("README.md")];
        let docs = std::fs::read_dir(root.join("docs")).expect("docs/");
        files.extend(
            docs.filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|e| e == "md")),
        );
        let mut problems = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable");
            for problem in commonmark_problems(&text) {
                problems.push(format!("{}: {problem}", file.display()));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    /// The two ways the README was broken are both found.
    #[test]
    fn a_fence_that_does_not_close_and_an_orphaned_table_row_are_found() {
        let unclosed = "```sh\n/quit\n``` A third client\n\n## The client\n\n```\ncode\n```\n";
        let problems = commonmark_problems(unclosed);
        assert!(
            problems.iter().any(|p| p.contains("closing fence")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("heading")),
            "{problems:?}"
        );
        let split = "| a | b |\n|---|---|\n| 1 | 2 |\n\nA paragraph.\n| 3 | 4 |\n";
        let problems = commonmark_problems(split);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("line 6"), "{problems:?}");
        assert!(commonmark_problems("# Title\n\n| a |\n|---|\n| 1 |\n").is_empty());
    }

    #[test]
    fn keys_and_pipes_are_written_as_markdown_takes_them() {
        assert_eq!(keys_cell("Enter, i, t"), "`Enter`, `i`, `t`");
        assert_eq!(keys_cell("while typing"), "while typing");
        assert_eq!(keys_cell("Up Down PgUp"), "`Up` `Down` `PgUp`");
        assert_eq!(keys_cell("F2, Ctrl-]"), "`F2`, `Ctrl-]`");
        assert_eq!(code("/msg NAME|ID TEXT"), "`/msg NAME\\|ID TEXT`");
    }
}
