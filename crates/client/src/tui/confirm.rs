//! Questions before what cannot be taken back: quitting and leaving leave
//! the meeting (a locked one lets nobody back in, one with a lobby makes you
//! wait again), `/cancel` ends it for everyone. A typed line, a key and the
//! members menu all ask here; the answer is `keys`'s (y or Enter says yes).

use super::model::{Confirmation, ViewModel};
use crate::command::{Command, Entered};

/// The question about `entered`, if it cannot be taken back: quitting and
/// leaving leave the meeting (a locked one lets nobody back in, one with a
/// lobby makes you wait again), `/cancel` ends it for everyone.
fn question_for(model: &ViewModel, entered: &Entered) -> Option<String> {
    let state = &model.state;
    let question = match entered.command()? {
        Command::Quit if state.meeting.is_some() => "leave the meeting and quit?".to_string(),
        Command::Quit => "quit the client?".to_string(),
        Command::Leave => match (&state.meeting, &state.waiting_for) {
            (Some(id), _) => {
                let id = crate::clean::clean(id.as_str());
                let host = state.host().is_some_and(|h| h.id == model.me);
                let again = if state.locked && !host {
                    " (it is locked: you cannot come back in)"
                } else if state.lobby && !host {
                    " (its lobby is on: you would wait to come back in)"
                } else {
                    ""
                };
                format!("leave meeting {id}?{again}")
            }
            (None, Some(id)) => format!(
                "stop waiting to be let into meeting {}?",
                crate::clean::clean(id.as_str())
            ),
            (None, None) => return None, // the main loop says there is nothing to leave
        },
        Command::Cancel => match &model.state.meeting {
            Some(id) => format!(
                "end meeting {} for everyone?",
                crate::clean::clean(id.as_str())
            ),
            None => return None, // the main loop says there is nothing to end
        },
        _ => return None,
    };
    Some(question)
}

/// Sends `entered`, or first asks about it if it cannot be taken back.
pub fn confirm_or_send(model: &mut ViewModel, entered: Entered) -> Option<Entered> {
    match question_for(model, &entered) {
        Some(question) => {
            model.confirm = Some(Confirmation { entered, question });
            None
        }
        None => Some(entered),
    }
}

/// A command a key made, sent or first asked about.
pub fn confirm_or_make(model: &mut ViewModel, command: Command) -> Option<Entered> {
    confirm_or_send(model, Entered::made(command))
}
