//! Remote control from this side: what a controller types becomes X input
//! events (`common::InputEvent`) for the screen it was granted.
//!
//! Keys travel as X keysyms, so a terminal needs no knowledge of the remote
//! keyboard: a character is its keysym (Latin-1 its code point, anything else
//! `0x0100_0000 + code point`), a named key (Return, F5, ...) its X11 keysym
//! from `NAMED_KEYS`. The owner's side maps keysyms to its own keyboard.

use common::InputEvent;

/// Named keys and their X11 keysyms (X11/keysymdef.h).
pub const NAMED_KEYS: &[(&str, u32)] = &[
    ("Return", 0xff0d),
    ("Enter", 0xff0d),
    ("BackSpace", 0xff08),
    ("Tab", 0xff09),
    ("Escape", 0xff1b),
    ("Delete", 0xffff),
    ("Insert", 0xff63),
    ("Home", 0xff50),
    ("Left", 0xff51),
    ("Up", 0xff52),
    ("Right", 0xff53),
    ("Down", 0xff54),
    ("PageUp", 0xff55),
    ("PageDown", 0xff56),
    ("End", 0xff57),
    ("space", 0x20),
    ("Shift", 0xffe1),
    ("Control", 0xffe3),
    ("Alt", 0xffe9),
    ("Super", 0xffeb),
    ("F1", 0xffbe),
    ("F2", 0xffbf),
    ("F3", 0xffc0),
    ("F4", 0xffc1),
    ("F5", 0xffc2),
    ("F6", 0xffc3),
    ("F7", 0xffc4),
    ("F8", 0xffc5),
    ("F9", 0xffc6),
    ("F10", 0xffc7),
    ("F11", 0xffc8),
    ("F12", 0xffc9),
];

/// Mouse buttons as X numbers them.
pub const BUTTON_LEFT: u8 = 1;
pub const BUTTON_MIDDLE: u8 = 2;
pub const BUTTON_RIGHT: u8 = 3;
pub const WHEEL_UP: u8 = 4;
pub const WHEEL_DOWN: u8 = 5;

/// The keysym of one character.
pub fn keysym_for_char(character: char) -> u32 {
    let code = u32::from(character);
    match character {
        '\n' | '\r' => 0xff0d,
        '\t' => 0xff09,
        // Latin-1 printable characters are their own keysyms.
        ' '..='~' | '\u{a0}'..='\u{ff}' => code,
        _ => 0x0100_0000 + code,
    }
}

/// A key by name (`Return`, `F5`, case-insensitive), a single character, or a
/// keysym number (`0xff0d`).
pub fn parse_key(name: &str) -> Result<u32, String> {
    if let Some((_, keysym)) = NAMED_KEYS
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
    {
        return Ok(*keysym);
    }
    let mut chars = name.chars();
    if let (Some(character), None) = (chars.next(), chars.next()) {
        return Ok(keysym_for_char(character));
    }
    if let Some(hex) = name.strip_prefix("0x") {
        return u32::from_str_radix(hex, 16).map_err(|_| format!("'{name}' is no keysym"));
    }
    let names: Vec<&str> = NAMED_KEYS.iter().map(|(n, _)| *n).collect();
    Err(format!(
        "unknown key '{name}': a character, a keysym like 0xff0d, or one of {}",
        names.join(" ")
    ))
}

/// A key pressed and released.
pub fn tap(keysym: u32) -> [InputEvent; 2] {
    [
        InputEvent::Key { keysym, down: true },
        InputEvent::Key {
            keysym,
            down: false,
        },
    ]
}

/// A click of `button` at (`x`, `y`).
pub fn click(x: u32, y: u32, button: u8) -> [InputEvent; 3] {
    [
        InputEvent::Pointer { x, y },
        InputEvent::Button { button, down: true },
        InputEvent::Button {
            button,
            down: false,
        },
    ]
}

fn parse_button(name: &str) -> Result<u8, String> {
    match name {
        "left" | "1" => Ok(BUTTON_LEFT),
        "middle" | "2" => Ok(BUTTON_MIDDLE),
        "right" | "3" => Ok(BUTTON_RIGHT),
        other => Err(format!("'{other}' is not left, middle or right")),
    }
}

fn button_name(button: u8) -> &'static str {
    match button {
        BUTTON_MIDDLE => "middle",
        BUTTON_RIGHT => "right",
        _ => "left",
    }
}

/// How `/input` is typed: the `COMMANDS` row of `/input` lists these, and a
/// line of none of these forms is answered with them.
pub const INPUT_USAGE: &[&str] = &[
    "/input type TEXT",
    "/input key NAME [down|up]",
    "/input click X Y [left|middle|right]",
    "/input press X Y [left|middle|right]",
    "/input release [X Y] [left|middle|right]",
    "/input move X Y",
    "/input scroll up|down [X Y]",
];

/// One `/input` line, as typed: what a controller does to the screen it
/// controls. `events` turns it into X input events; `Display` writes it
/// back as the line it parses from, so the full-screen view's control mode
/// hands the main loop these instead of lines to parse again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputAction {
    /// `type TEXT`: each character pressed and released.
    Type(String),
    /// `key NAME [down|up]`: a key tapped (`down` None), pressed or released.
    Key {
        name: String,
        keysym: u32,
        down: Option<bool>,
    },
    /// `click X Y [BUTTON]`.
    Click { x: u32, y: u32, button: u8 },
    /// `press X Y [BUTTON]`: a button held down there (a drag starts).
    Press { x: u32, y: u32, button: u8 },
    /// `release [X Y] [BUTTON]`: let go, there or where the pointer is.
    Release { at: Option<(u32, u32)>, button: u8 },
    /// `move X Y`.
    Move { x: u32, y: u32 },
    /// `scroll up|down [X Y]`.
    Scroll { up: bool, at: Option<(u32, u32)> },
}

impl InputAction {
    /// `key NAME` (tapped, or `down` held and let go) for a named key or a
    /// character; None for a name `parse_key` does not know.
    pub fn key(name: &str, down: Option<bool>) -> Option<InputAction> {
        let keysym = parse_key(name).ok()?;
        Some(InputAction::Key {
            name: name.to_string(),
            keysym,
            down,
        })
    }

    /// Parses what follows `/input`: `key NAME [down|up]`, `type TEXT`,
    /// `click X Y [BUTTON]`, `press X Y [BUTTON]`, `release [X Y] [BUTTON]`,
    /// `move X Y`, `scroll up|down [X Y]`; BUTTON is left (the default),
    /// middle or right. A press, moves and a release make a drag.
    pub fn parse(rest: &str) -> Result<InputAction, String> {
        let rest = rest.trim_start();
        let (verb, args) = rest.split_once(' ').unwrap_or((rest, ""));
        let words: Vec<&str> = args.split_whitespace().collect();
        let number = |text: &str| {
            text.parse::<u32>()
                .map_err(|_| format!("'{text}' is not a pixel position"))
        };
        let button = |word: Option<&&str>| word.map_or(Ok(BUTTON_LEFT), |b| parse_button(b));
        match (verb, words.as_slice()) {
            ("key", [name]) => Ok(InputAction::Key {
                name: (*name).to_string(),
                keysym: parse_key(name)?,
                down: None,
            }),
            ("key", [name, state @ ("down" | "up")]) => Ok(InputAction::Key {
                name: (*name).to_string(),
                keysym: parse_key(name)?,
                down: Some(*state == "down"),
            }),
            ("type", _) if !args.is_empty() => {
                if args.chars().count() * 2 > common::protocol::MAX_INPUT_EVENTS {
                    return Err(format!(
                        "/input type sends at most {} characters at once",
                        common::protocol::MAX_INPUT_EVENTS / 2
                    ));
                }
                Ok(InputAction::Type(args.to_string()))
            }
            ("click", [x, y, more @ ..]) if more.len() <= 1 => Ok(InputAction::Click {
                x: number(x)?,
                y: number(y)?,
                button: button(more.first())?,
            }),
            ("press", [x, y, more @ ..]) if more.len() <= 1 => Ok(InputAction::Press {
                x: number(x)?,
                y: number(y)?,
                button: button(more.first())?,
            }),
            ("release", [x, y, more @ ..]) if more.len() <= 1 => Ok(InputAction::Release {
                at: Some((number(x)?, number(y)?)),
                button: button(more.first())?,
            }),
            // A release where the pointer is (it left the shared screen).
            ("release", more) if more.len() <= 1 => Ok(InputAction::Release {
                at: None,
                button: button(more.first())?,
            }),
            ("move", [x, y]) => Ok(InputAction::Move {
                x: number(x)?,
                y: number(y)?,
            }),
            ("scroll", [direction, position @ ..]) => {
                let up = match *direction {
                    "up" => true,
                    "down" => false,
                    other => return Err(format!("scroll '{other}': up or down")),
                };
                let at = match position {
                    [x, y] => Some((number(x)?, number(y)?)),
                    _ => None,
                };
                Ok(InputAction::Scroll { up, at })
            }
            _ => Err(format!("usage: {}", INPUT_USAGE.join(", "))),
        }
    }

    /// The X input events it stands for.
    pub fn events(&self) -> Vec<InputEvent> {
        match self {
            InputAction::Type(text) => text.chars().flat_map(|c| tap(keysym_for_char(c))).collect(),
            InputAction::Key {
                keysym, down: None, ..
            } => tap(*keysym).to_vec(),
            InputAction::Key {
                keysym,
                down: Some(down),
                ..
            } => vec![InputEvent::Key {
                keysym: *keysym,
                down: *down,
            }],
            InputAction::Click { x, y, button } => click(*x, *y, *button).to_vec(),
            InputAction::Press { x, y, button } => vec![
                InputEvent::Pointer { x: *x, y: *y },
                InputEvent::Button {
                    button: *button,
                    down: true,
                },
            ],
            InputAction::Release { at, button } => {
                let mut events: Vec<InputEvent> = at
                    .map(|(x, y)| InputEvent::Pointer { x, y })
                    .into_iter()
                    .collect();
                events.push(InputEvent::Button {
                    button: *button,
                    down: false,
                });
                events
            }
            InputAction::Move { x, y } => vec![InputEvent::Pointer { x: *x, y: *y }],
            InputAction::Scroll { up, at } => {
                let button = if *up { WHEEL_UP } else { WHEEL_DOWN };
                let mut events: Vec<InputEvent> = at
                    .map(|(x, y)| InputEvent::Pointer { x, y })
                    .into_iter()
                    .collect();
                events.extend([
                    InputEvent::Button { button, down: true },
                    InputEvent::Button {
                        button,
                        down: false,
                    },
                ]);
                events
            }
        }
    }
}

/// What follows `/input` in the line it parses from (`press 10 20 left`).
impl std::fmt::Display for InputAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputAction::Type(text) => write!(f, "type {text}"),
            InputAction::Key {
                name, down: None, ..
            } => write!(f, "key {name}"),
            InputAction::Key {
                name,
                down: Some(down),
                ..
            } => write!(f, "key {name} {}", if *down { "down" } else { "up" }),
            InputAction::Click { x, y, button } => {
                write!(f, "click {x} {y} {}", button_name(*button))
            }
            InputAction::Press { x, y, button } => {
                write!(f, "press {x} {y} {}", button_name(*button))
            }
            InputAction::Release {
                at: Some((x, y)),
                button,
            } => write!(f, "release {x} {y} {}", button_name(*button)),
            InputAction::Release { at: None, button } => {
                write!(f, "release {}", button_name(*button))
            }
            InputAction::Move { x, y } => write!(f, "move {x} {y}"),
            InputAction::Scroll { up, at } => {
                write!(f, "scroll {}", if *up { "up" } else { "down" })?;
                match at {
                    Some((x, y)) => write!(f, " {x} {y}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// An `/input` line as tests write what they expect (`"/input move 3 4".into()`).
#[cfg(test)]
impl From<&str> for InputAction {
    fn from(line: &str) -> InputAction {
        match InputAction::parse(line.strip_prefix("/input ").unwrap_or(line)) {
            Ok(action) => action,
            Err(err) => panic!("{line}: {err}"),
        }
    }
}

/// Parses what follows `/input` into the events it stands for.
pub fn parse_input(rest: &str) -> Result<Vec<InputEvent>, String> {
    InputAction::parse(rest).map(|action| action.events())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_and_named_keys_become_keysyms() {
        assert_eq!(keysym_for_char('a'), 0x61);
        assert_eq!(keysym_for_char('é'), 0xe9, "Latin-1 is its own keysym");
        assert_eq!(keysym_for_char('€'), 0x0100_20ac);
        assert_eq!(parse_key("return"), Ok(0xff0d));
        assert_eq!(parse_key("F5"), Ok(0xffc2));
        assert_eq!(parse_key("0xff0d"), Ok(0xff0d));
        assert!(parse_key("Hyper").is_err_and(|e| e.contains("Return")));
    }

    #[test]
    fn input_lines_become_events() {
        assert_eq!(parse_input("type hi"), Ok([tap(0x68), tap(0x69)].concat()));
        assert_eq!(parse_input("click 10 20"), Ok(click(10, 20, 1).to_vec()));
        assert_eq!(
            parse_input("key Return down"),
            Ok(vec![InputEvent::Key {
                keysym: 0xff0d,
                down: true
            }])
        );
        assert_eq!(parse_input("scroll down").map(|e| e.len()), Ok(2));
        assert_eq!(
            parse_input("press 5 6 right"),
            Ok(vec![
                InputEvent::Pointer { x: 5, y: 6 },
                InputEvent::Button {
                    button: BUTTON_RIGHT,
                    down: true
                }
            ])
        );
        assert_eq!(
            parse_input("release"),
            Ok(vec![InputEvent::Button {
                button: BUTTON_LEFT,
                down: false
            }])
        );
        assert!(parse_input("click ten 20").is_err());
        assert!(parse_input("dance").is_err_and(|e| e.contains("usage")));
        assert!(parse_input(&format!("type {}", "x".repeat(40))).is_err());
    }
}
