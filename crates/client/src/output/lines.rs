//! The line front end: one human line (or a few) per event on stdout, with
//! a `> ` prompt kept under the latest one at an interactive terminal.
//! Everything printed passes `clean_lines` once more as a whole, whatever
//! the wording already cleaned.

use super::wording::EventText;
use super::{FrontEnd, LocalEvent, MemberLevel};
use crate::clean::clean_lines;
use crate::meeting::MeetingState;
use common::{ClientId, Event};
use std::collections::HashMap;
use std::io::Write;

/// Human lines on stdout.
pub struct Lines {
    /// Interactive terminal: keep a `> ` prompt under the latest event.
    prompt: bool,
    text: EventText,
}

impl Lines {
    pub fn new(me: ClientId) -> Lines {
        use std::io::IsTerminal;
        let prompt = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        Lines {
            prompt,
            text: EventText::new(me),
        }
    }

    /// A human line (or several): cleaned once more as a whole, whatever the
    /// wording already did.
    fn line(&self, text: &str) {
        let text = clean_lines(text);
        let mut out = std::io::stdout().lock();
        if self.prompt {
            // Replace the prompt line with the event, then draw the prompt again.
            let _ = write!(out, "\r\x1b[2K{text}\n> ");
        } else {
            let _ = writeln!(out, "{text}");
        }
        let _ = out.flush();
    }
}

impl Drop for Lines {
    /// The session is over (quit, or the connection dropped): take the
    /// prompt away, so the shell's prompt does not follow a dead `> `.
    fn drop(&mut self) {
        if self.prompt {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
        }
    }
}

impl FrontEnd for Lines {
    fn meeting(&mut self, state: &MeetingState) {
        self.text.set_meeting(state);
    }

    fn server(&mut self, event: &Event) {
        // Handshake details (`None`; the token is a secret) are not for the user.
        if let Some(text) = self.text.server(event) {
            self.line(&text);
        }
    }

    fn local(&mut self, event: &LocalEvent) {
        let text = self.text.local(event);
        self.line(&text);
    }

    fn members(&mut self, event: &Event, levels: &HashMap<ClientId, MemberLevel>) {
        self.text.levels = levels.clone();
        self.server(event);
        self.text.levels.clear();
    }
}
