//! What members say to each other besides the chat: private messages (one
//! addressee, enforced here: nobody else is told), raised hands (shown to
//! everyone, lowered by the member or the host) and short reactions.
//!
//! They take the same request budget as every request, and a private
//! message the same checks as a chat message.

use super::{KeptChat, MeetingRules, check_chat_text, is_invisible};
use common::protocol::{MAX_REACTION_BYTES, MAX_REACTION_GRAPHEMES};
use common::{ClientId, Event};
use unicode_segmentation::UnicodeSegmentation;

/// Checks a reaction: one to `MAX_REACTION_GRAPHEMES` things a person sees
/// as one character each (an emoji with its skin tone or its joined parts is
/// one), nothing invisible on its own, no spaces or control characters.
pub fn validate_reaction(emoji: &str) -> Result<String, String> {
    let emoji = emoji.trim();
    let explain = || {
        format!(
            "a reaction is 1 to {MAX_REACTION_GRAPHEMES} characters (like 👍 or 🎉), without spaces or control characters"
        )
    };
    let graphemes: Vec<&str> = emoji.graphemes(true).collect();
    if graphemes.is_empty()
        || graphemes.len() > MAX_REACTION_GRAPHEMES
        || emoji.len() > MAX_REACTION_BYTES
        || emoji.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(explain());
    }
    // Joiners and variation selectors belong inside an emoji (👩‍💻, ❤️);
    // anything else invisible, or one that starts a character, hides text.
    let inside_emoji = |c: char| matches!(c, '\u{200D}' | '\u{FE0E}' | '\u{FE0F}');
    for grapheme in graphemes {
        let mut chars = grapheme.chars();
        let starts_visible = chars.next().is_some_and(|c| !is_invisible(c));
        if !starts_visible || chars.any(|c| is_invisible(c) && !inside_emoji(c)) {
            return Err(format!(
                "a reaction cannot contain invisible or direction-changing characters; {}",
                explain()
            ));
        }
    }
    Ok(emoji.to_string())
}

impl MeetingRules {
    /// A chat message for `to` only: it and the sender (an echo) are told.
    pub(super) fn private(
        &mut self,
        id: ClientId,
        to: ClientId,
        text: String,
    ) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        check_chat_text(&text)?;
        if to == id {
            return Err("a private message goes to another member, not to yourself".to_string());
        }
        if !self.members(&meeting).contains(&to) {
            return Err(format!(
                "{} is not in meeting {meeting}: a private message goes to a member of your meeting",
                self.label(to, &meeting)
            ));
        }
        let (from, to_ref) = (self.member_ref(id), self.member_ref(to));
        let Some(m) = self.meetings.get_mut(&meeting) else {
            return Err(super::NOT_IN_MEETING.to_string());
        };
        let seq = m.chat.next_seq();
        let event = Event::Private {
            meeting: meeting.clone(),
            from,
            to: to_ref,
            text,
            seq,
        };
        self.say(
            meeting,
            KeptChat {
                seq,
                event,
                between: Some([id, to]),
            },
        );
        Ok(())
    }

    /// Raises or lowers a hand: your own, or (lowering only) any member's as
    /// the host. Everyone in the meeting is told of a change.
    pub(super) fn hand(
        &mut self,
        id: ClientId,
        raised: bool,
        member: Option<ClientId>,
    ) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        let whose = member.unwrap_or(id);
        if whose != id {
            if raised {
                return Err("only a member raises their own hand".to_string());
            }
            let host = self.meetings.get(&meeting).map(|m| m.host);
            if host != Some(id) {
                return Err(
                    "only the host lowers another member's hand; /hand lowers your own".to_string(),
                );
            }
            if !self.members(&meeting).contains(&whose) {
                return Err(format!(
                    "{} is not in meeting {meeting}",
                    self.label(whose, &meeting)
                ));
            }
        }
        let who = self.label(whose, &meeting);
        let Some(participant) = self.participants.get_mut(&whose) else {
            return Err(format!("{who} is not in meeting {meeting}"));
        };
        if participant.hand == raised {
            if whose != id {
                let name = participant.name.clone();
                return Err(format!("{name}'s hand is not raised"));
            }
            return Ok(());
        }
        participant.hand = raised;
        let event = Event::Hand {
            meeting: meeting.clone(),
            member: self.member_ref(whose),
            raised,
            by: self.member_ref(id),
        };
        let members = self.members(&meeting).to_vec();
        self.tell_all(members, event);
        Ok(())
    }

    /// A reaction, shown to every member (the sender too).
    pub(super) fn react(&mut self, id: ClientId, emoji: String) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        let emoji = validate_reaction(&emoji)?;
        let event = Event::Reaction {
            meeting: meeting.clone(),
            member: self.member_ref(id),
            emoji,
        };
        let members = self.members(&meeting).to_vec();
        self.tell_all(members, event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Effect;
    use super::super::tests::told;
    use super::*;
    use common::Request;

    /// ana hosts; bo and cy are in her meeting; dee is in none.
    fn three_members() -> (MeetingRules, [ClientId; 4]) {
        let mut rules = MeetingRules::default();
        let ids = [ClientId(1), ClientId(2), ClientId(3), ClientId(4)];
        for (id, name) in ids.iter().zip(["ana", "bo", "cy", "dee"]) {
            rules.arrive(*id, name.to_string(), None);
        }
        rules.handle(ids[0], Request::Create { passcode: None });
        let meeting = rules.meeting_of(ids[0]).cloned().expect("created");
        for &id in &ids[1..3] {
            rules.handle(
                id,
                Request::Join {
                    meeting: meeting.to_string(),
                    passcode: None,
                },
            );
        }
        rules.take_effects();
        (rules, ids)
    }

    #[test]
    fn a_private_message_reaches_its_addressee_and_echoes_to_its_sender_only() {
        let (mut rules, [ana, bo, cy, dee]) = three_members();
        rules.handle(
            bo,
            Request::Private {
                to: cy,
                text: "psst".into(),
            },
        );
        let effects = rules.take_effects();
        for who in [bo, cy] {
            assert!(
                matches!(told(&effects, who).as_slice(), [Event::Private { from, to, text, .. }]
                    if from.id == bo && to.id == cy && text == "psst"),
                "{effects:?}"
            );
        }
        assert!(told(&effects, ana).is_empty() && told(&effects, dee).is_empty());

        // Not to someone outside the meeting, not to yourself, not empty.
        for (to, text) in [(dee, "hi"), (bo, "hi"), (cy, " "), (cy, "a\nb")] {
            rules.handle(
                bo,
                Request::Private {
                    to,
                    text: text.into(),
                },
            );
            let effects = rules.take_effects();
            assert!(
                matches!(told(&effects, bo).as_slice(), [Event::Error { .. }]),
                "{to} {text:?}: {effects:?}"
            );
            let delivered = effects.iter().any(|e| {
                matches!(
                    e,
                    Effect::Tell {
                        event: Event::Private { .. },
                        ..
                    }
                )
            });
            assert!(!delivered, "{to} {text:?}: {effects:?}");
        }
    }

    #[test]
    fn hands_go_up_for_everyone_and_come_down_by_the_member_or_the_host() {
        let (mut rules, [ana, bo, cy, _]) = three_members();
        let hand = |rules: &mut MeetingRules, by, raised, member| {
            rules.handle(by, Request::Hand { raised, member });
            rules.take_effects()
        };
        let effects = hand(&mut rules, bo, true, None);
        for who in [ana, bo, cy] {
            assert!(
                matches!(told(&effects, who).as_slice(), [Event::Hand { member, raised: true, .. }] if member.id == bo)
            );
        }
        rules.handle(ana, Request::Members);
        let effects = rules.take_effects();
        let Some(Event::Members { members, .. }) = told(&effects, ana).pop() else {
            panic!("{effects:?}")
        };
        assert!(members.iter().any(|m| m.id == bo && m.hand));

        // cy is not the host: cannot lower bo's hand, nor raise it.
        for raised in [false, true] {
            let effects = hand(&mut rules, cy, raised, Some(bo));
            assert!(matches!(
                told(&effects, cy).as_slice(),
                [Event::Error { .. }]
            ));
            assert!(told(&effects, bo).is_empty());
        }
        // The host can lower it.
        let effects = hand(&mut rules, ana, false, Some(bo));
        assert!(
            matches!(told(&effects, cy).as_slice(), [Event::Hand { member, raised: false, by, .. }] if member.id == bo && by.id == ana)
        );
        // Lowering it again tells nobody anything new.
        let effects = hand(&mut rules, ana, false, Some(bo));
        assert!(matches!(
            told(&effects, ana).as_slice(),
            [Event::Error { .. }]
        ));
        assert!(told(&effects, bo).is_empty());

        // Leaving lowers it: back in, it is down.
        hand(&mut rules, cy, true, None);
        let meeting = rules.meeting_of(cy).cloned().expect("in a meeting");
        rules.handle(cy, Request::Leave);
        rules.handle(
            cy,
            Request::Join {
                meeting: meeting.to_string(),
                passcode: None,
            },
        );
        let effects = rules.take_effects();
        assert!(told(&effects, cy).iter().any(
            |e| matches!(e, Event::Joined { members, .. } if members.iter().all(|m| !m.hand))
        ));
    }

    #[test]
    fn reactions_are_short_and_visible() {
        for ok in ["👍", "👍🏽", "❤️", "👩‍💻", "🎉🎉🎉", "+1", "ok"] {
            assert_eq!(validate_reaction(ok).as_deref(), Ok(ok), "{ok:?}");
        }
        for bad in [
            "",
            "   ",
            "🎉🎉🎉🎉",
            "a b",
            "\u{202e}x",
            "\u{200b}",
            "\u{200d}",
            "x\u{1b}[2J",
            "\u{e0041}",
            "ok\u{200b}",
        ] {
            assert!(validate_reaction(bad).is_err(), "{bad:?}");
        }
        let (mut rules, [ana, bo, cy, _]) = three_members();
        rules.handle(
            bo,
            Request::React {
                emoji: "👍".into()
            },
        );
        let effects = rules.take_effects();
        for who in [ana, bo, cy] {
            assert!(
                matches!(told(&effects, who).as_slice(), [Event::Reaction { member, emoji, .. }] if member.id == bo && emoji == "👍")
            );
        }
    }
}
