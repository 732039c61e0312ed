//! Man pages and shell completions of the meeting binaries, made from their
//! clap definitions so they can never drift from `--help`.
//!
//! Each binary flattens `DocsArgs` into its command line (`--completions
//! SHELL`, and a hidden `--man`) and, when one is given, prints what was asked
//! for and exits. `packaging/build-debs` runs the built binaries this way to
//! put the pages and scripts into the Debian packages. A binary adds sections
//! of its own (the client: its commands and keys, from the tables the program
//! itself uses) as `ManSection`s.

use clap_mangen::roff::{Roff, bold, roman};
use std::io::Write;

pub use clap_complete::Shell;

/// The documentation flags every binary has.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DocsArgs {
    /// Print a completion script for SHELL and exit; for example
    /// `source <(client --completions bash)`, or save it where your shell
    /// looks (the Debian packages install them).
    #[arg(long, value_name = "SHELL", value_enum)]
    pub completions: Option<Shell>,

    /// Print the manual page (roff) and exit: `server --man | man -l -`.
    #[arg(long, hide = true)]
    pub man: bool,
}

/// A section of a man page beyond what clap knows: a title, a paragraph, and
/// a list of terms with their descriptions.
#[derive(Debug, Clone, Default)]
pub struct ManSection {
    pub title: String,
    pub intro: String,
    pub entries: Vec<(String, String)>,
}

impl DocsArgs {
    /// True when the binary should print documentation instead of running.
    pub fn requested(&self) -> bool {
        self.completions.is_some() || self.man
    }

    /// Prints the completion script or the man page of `command` to stdout.
    pub fn print(&self, command: clap::Command, sections: &[ManSection]) -> std::io::Result<()> {
        let mut stdout = std::io::stdout().lock();
        if let Some(shell) = self.completions {
            completions(shell, command, &mut stdout)?;
        } else if self.man {
            stdout.write_all(&man_page(command, sections)?)?;
        }
        stdout.flush()
    }
}

/// The completion script of `command` for `shell`.
pub fn completions(
    shell: Shell,
    mut command: clap::Command,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let name = command.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    out.write_all(&script)
}

/// The man page (section 1, roff) of `command`, with `sections` after its options.
pub fn man_page(command: clap::Command, sections: &[ManSection]) -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(command.clone()).manual("Meeting");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    let mut roff = Roff::default();
    for section in sections {
        roff.control("SH", [section.title.to_uppercase().as_str()]);
        if !section.intro.is_empty() {
            roff.text([roman(section.intro.as_str())]);
        }
        for (term, description) in &section.entries {
            roff.control("TP", []);
            roff.text([bold(term.as_str())]);
            roff.text([roman(description.as_str())]);
        }
    }
    roff.to_writer(&mut page)?;
    if command.get_after_long_help().is_some() || command.get_after_help().is_some() {
        man.render_extra_section(&mut page)?;
    }
    man.render_version_section(&mut page)?;
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> clap::Command {
        clap::Command::new("example")
            .version("1.2.3")
            .about("Does one thing well.")
            .arg(
                clap::Arg::new("bind")
                    .long("bind")
                    .help("Address to listen on."),
            )
    }

    #[test]
    fn a_man_page_has_the_options_and_the_extra_sections() {
        let sections = [ManSection {
            title: "Commands".into(),
            intro: "Typed once connected.".into(),
            entries: vec![("/quit".into(), "leave and exit".into())],
        }];
        let page = String::from_utf8(man_page(example(), &sections).expect("renders"))
            .expect("roff is text");
        assert!(page.contains(".TH example 1"), "{page}");
        assert!(page.contains("\\-\\-bind"), "{page}");
        assert!(page.contains(".SH COMMANDS"), "{page}");
        assert!(
            page.contains("/quit") && page.contains("leave and exit"),
            "{page}"
        );
        assert!(page.contains("1.2.3"), "{page}");
    }

    #[test]
    fn completions_name_the_binary_and_its_options() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut script = Vec::new();
            completions(shell, example(), &mut script).expect("writes");
            let script = String::from_utf8(script).expect("text");
            assert!(script.contains("example"), "{shell}: {script}");
            assert!(script.contains("bind"), "{shell}: {script}");
        }
    }
}
