//! The full-screen list of the servers found on the LAN, shown before the
//! view when `client` was given no address and several answered
//! (`discover`). It takes the terminal for as long as the choice lasts and
//! gives it back, so the view can take it next.

use super::terminal::TerminalGuard;
use crate::discover::FoundServer;
use crate::discover::choose::Choice;
use ratatui::Frame;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};

/// Shows `servers` and waits for a choice: arrows (or j/k) and Enter, a
/// digit for one of the first nine; Esc, q or Ctrl-C give up. Servers that
/// speak another protocol are shown but cannot be picked.
pub fn pick_server(servers: &[FoundServer]) -> std::io::Result<Choice> {
    let _guard = TerminalGuard::enter()?;
    let mut terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let mut picker = Picker::new(servers.len());
    loop {
        terminal.draw(|frame| draw(frame, servers, &mut picker.state))?;
        let Event::Key(key) = event::read()? else {
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        let chosen = match key.code {
            _ if ctrl_c => return Ok(Choice::GaveUp),
            KeyCode::Esc | KeyCode::Char('q') => return Ok(Choice::GaveUp),
            KeyCode::Up | KeyCode::Char('k') => {
                picker.step(-1);
                None
            }
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                picker.step(1);
                None
            }
            KeyCode::Enter => picker.state.selected(),
            KeyCode::Char(digit @ '1'..='9') => {
                let index = digit as usize - '1' as usize;
                (index < servers.len()).then_some(index)
            }
            _ => None,
        };
        if let Some(index) = chosen
            && servers[index].compatible()
        {
            return Ok(Choice::Server(index));
        }
    }
}

/// Which row is selected.
struct Picker {
    state: ListState,
    rows: usize,
}

impl Picker {
    fn new(rows: usize) -> Picker {
        Picker {
            state: ListState::default().with_selected(Some(0)),
            rows,
        }
    }

    fn step(&mut self, by: isize) {
        let now = self.state.selected().unwrap_or(0) as isize;
        let rows = self.rows.max(1) as isize;
        self.state
            .select(Some((now + by).rem_euclid(rows) as usize));
    }
}

/// The list: one row per server (name, address, meetings) and its
/// announced key beneath, with the keys to press at the bottom.
fn draw(frame: &mut Frame, servers: &[FoundServer], state: &mut ListState) {
    let [list_area, help_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(frame.area());
    let items: Vec<ListItem> = servers
        .iter()
        .enumerate()
        .map(|(n, server)| {
            let mut lines = vec![Line::from(format!("{}. {}", n + 1, server.describe()))];
            if let Some(fingerprint) = &server.fingerprint {
                lines.push(Line::from(Span::styled(
                    format!("   key {fingerprint} (as announced)"),
                    Style::default().add_modifier(Modifier::DIM),
                )));
            }
            ListItem::new(lines)
        })
        .collect();
    let list = List::new(items)
        .block(Block::bordered().title(" Servers on this LAN "))
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .highlight_symbol("> ");
    frame.render_stateful_widget(list, list_area, state);
    frame.render_widget(
        Paragraph::new("↑↓ choose · Enter join · 1-9 join that one · Esc quit"),
        help_area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;

    #[test]
    fn the_list_shows_each_server_its_key_and_the_keys_to_press() {
        let servers = vec![
            FoundServer {
                name: "alpha".into(),
                addresses: vec!["10.0.0.1:6338".parse().expect("addr")],
                fingerprint: Some("SHA256:AB".into()),
                meetings: Some(2),
                version: Some(common::protocol::PROTOCOL_VERSION),
            },
            FoundServer {
                name: "beta".into(),
                addresses: vec!["10.0.0.2:7000".parse().expect("addr")],
                fingerprint: None,
                meetings: None,
                version: None,
            },
        ];
        let mut terminal = Terminal::new(TestBackend::new(70, 10)).expect("terminal");
        let mut picker = Picker::new(servers.len());
        picker.step(1);
        terminal
            .draw(|frame| draw(frame, &servers, &mut picker.state))
            .expect("draws");
        let screen: String = terminal
            .backend()
            .buffer()
            .content()
            .chunks(70)
            .map(|row| row.iter().map(|cell| cell.symbol()).collect::<String>() + "\n")
            .collect();
        assert!(
            screen.contains("1. alpha  10.0.0.1:6338  2 meetings"),
            "{screen}"
        );
        assert!(screen.contains("key SHA256:AB (as announced)"), "{screen}");
        assert!(
            screen.contains("> 2. beta  10.0.0.2:7000  (no encryption)"),
            "{screen}"
        );
        assert!(screen.contains("Enter join"), "{screen}");
        picker.step(1);
        assert_eq!(picker.state.selected(), Some(0), "wraps around");
    }
}
