//! Asking which server to join when the LAN has several, in the line and
//! JSON modes (the full-screen view has its own list, `tui::pick_server`).
//! Both take one line: the server's number in the list, its name, or its
//! address; a blank line or the end of input gives up.

use super::{Browse, FoundServer};
use serde_json::json;
use std::io::{BufRead, Write};

/// What the user chose.
#[derive(Debug, PartialEq, Eq)]
pub enum Choice {
    /// The server at this index of the list.
    Server(usize),
    /// A blank line, or input ended.
    GaveUp,
}

/// Most wrong answers before the client gives up (a script answering
/// nonsense must not loop for ever).
const MOST_TRIES: usize = 5;

/// The server `answer` names: its number (from 1), its name (any case) or
/// one of its addresses. Only servers this client can join are taken.
pub fn parse_answer(answer: &str, servers: &[FoundServer]) -> Result<Choice, String> {
    let answer = answer.trim();
    if answer.is_empty() {
        return Ok(Choice::GaveUp);
    }
    let index = match answer.parse::<usize>() {
        Ok(n) if (1..=servers.len()).contains(&n) => Some(n - 1),
        Ok(_) => return Err(format!("pick a number from 1 to {}", servers.len())),
        Err(_) => servers.iter().position(|server| {
            server.name.eq_ignore_ascii_case(answer)
                || server
                    .addresses
                    .iter()
                    .any(|addr| addr.to_string() == answer || addr.ip().to_string() == answer)
        }),
    };
    match index {
        Some(index) if servers[index].compatible() => Ok(Choice::Server(index)),
        Some(index) => Err(format!(
            "{} speaks another protocol version: this client cannot join it",
            servers[index].name
        )),
        None => Err(format!(
            "no server here is called '{}': answer with its number",
            crate::clean::clean(answer)
        )),
    }
}

/// The `servers` event of the JSON mode: what the browse found, how long it
/// took, and whether the client now waits for a choice.
pub fn servers_event(browse: &Browse, asks: bool) -> serde_json::Value {
    json!({
        "event": "servers",
        "servers": browse.servers,
        "first_answer_ms": browse.first_answer.map(|d| d.as_millis() as u64),
        "browse_ms": browse.took.as_millis() as u64,
        "asks": asks,
    })
}

/// Lists the servers, numbered, as the line mode shows them.
pub fn list_lines(servers: &[FoundServer], out: &mut impl Write) -> std::io::Result<()> {
    for (n, server) in servers.iter().enumerate() {
        writeln!(out, "{:>2}. {}", n + 1, server.describe())?;
        if let Some(fingerprint) = &server.fingerprint {
            writeln!(out, "    key {fingerprint} (as announced: not yet checked)")?;
        }
    }
    Ok(())
}

/// The line mode: lists the servers and asks for one until the answer
/// names one, input ends, or `MOST_TRIES` wrong answers.
pub fn ask_lines(
    servers: &[FoundServer],
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> std::io::Result<Choice> {
    writeln!(out, "Servers on this LAN:")?;
    list_lines(servers, out)?;
    ask(input, out, servers, |out, message| match message {
        None => {
            write!(out, "Join which? (number, name or address; Enter to quit) ")?;
            out.flush()
        }
        Some(problem) => writeln!(out, "{problem}"),
    })
}

/// The JSON mode: the `servers` event, then an `error` event for each
/// answer that names no server.
pub fn ask_json(
    browse: &Browse,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> std::io::Result<Choice> {
    let line = |value: &serde_json::Value| {
        crate::output::json::json_line(value).map_err(std::io::Error::other)
    };
    writeln!(out, "{}", line(&servers_event(browse, true))?)?;
    out.flush()?;
    ask(input, out, &browse.servers, |out, message| match message {
        None => Ok(()),
        Some(problem) => {
            writeln!(
                out,
                "{}",
                line(&json!({"event": "error", "message": problem}))?
            )?;
            out.flush()
        }
    })
}

fn ask<W: Write>(
    input: &mut impl BufRead,
    out: &mut W,
    servers: &[FoundServer],
    say: impl Fn(&mut W, Option<&str>) -> std::io::Result<()>,
) -> std::io::Result<Choice> {
    for _ in 0..MOST_TRIES {
        say(out, None)?;
        let mut answer = String::new();
        if input.read_line(&mut answer)? == 0 {
            return Ok(Choice::GaveUp);
        }
        match parse_answer(&answer, servers) {
            Ok(choice) => return Ok(choice),
            Err(problem) => say(out, Some(&problem))?,
        }
    }
    Ok(Choice::GaveUp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, address: &str, version: u32) -> FoundServer {
        FoundServer {
            name: name.into(),
            addresses: vec![address.parse().expect("addr")],
            fingerprint: Some("SHA256:AB".into()),
            meetings: Some(1),
            version: Some(version),
        }
    }

    fn lan() -> Vec<FoundServer> {
        vec![
            server("alpha", "10.0.0.1:6338", 1),
            server("Beta", "10.0.0.2:7000", 1),
            server("gamma", "10.0.0.3:6338", 99),
        ]
    }

    #[test]
    fn an_answer_names_a_server_by_number_name_or_address() {
        let servers = lan();
        assert_eq!(parse_answer("2\n", &servers), Ok(Choice::Server(1)));
        assert_eq!(parse_answer("beta", &servers), Ok(Choice::Server(1)));
        assert_eq!(parse_answer("10.0.0.1", &servers), Ok(Choice::Server(0)));
        assert_eq!(
            parse_answer("10.0.0.2:7000", &servers),
            Ok(Choice::Server(1))
        );
        assert_eq!(parse_answer("  ", &servers), Ok(Choice::GaveUp));
        assert!(parse_answer("4", &servers).is_err());
        assert!(parse_answer("0", &servers).is_err());
        assert!(parse_answer("delta", &servers).is_err());
        let other = parse_answer("3", &servers).expect_err("another protocol");
        assert!(other.contains("another protocol"), "{other}");
    }

    #[test]
    fn the_line_mode_lists_numbered_servers_and_asks_again_after_a_wrong_answer() {
        let servers = lan();
        let mut out = Vec::new();
        let choice = ask_lines(&servers, &mut "nine\n2\n".as_bytes(), &mut out).expect("asks");
        assert_eq!(choice, Choice::Server(1));
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.contains(" 1. alpha  10.0.0.1:6338  1 meeting"),
            "{text}"
        );
        assert!(text.contains("key SHA256:AB"), "{text}");
        assert!(text.contains("no server here is called 'nine'"), "{text}");
        assert_eq!(text.matches("Join which?").count(), 2, "{text}");
        let mut out = Vec::new();
        assert_eq!(
            ask_lines(&servers, &mut "".as_bytes(), &mut out).expect("asks"),
            Choice::GaveUp
        );
        let endless = "x\n".repeat(100);
        assert_eq!(
            ask_lines(&servers, &mut endless.as_bytes(), &mut Vec::new()).expect("asks"),
            Choice::GaveUp
        );
    }

    #[test]
    fn the_json_mode_sends_a_servers_event_and_an_error_per_wrong_answer() {
        let browse = Browse {
            servers: lan(),
            first_answer: Some(std::time::Duration::from_millis(12)),
            took: std::time::Duration::from_millis(1003),
        };
        let mut out = Vec::new();
        let choice = ask_json(&browse, &mut "7\nalpha\n".as_bytes(), &mut out).expect("asks");
        assert_eq!(choice, Choice::Server(0));
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .expect("utf-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("json"))
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["event"], "servers");
        assert_eq!(lines[0]["asks"], true);
        assert_eq!(lines[0]["first_answer_ms"], 12);
        assert_eq!(lines[0]["servers"][1]["name"], "Beta");
        assert_eq!(lines[0]["servers"][1]["addresses"][0], "10.0.0.2:7000");
        assert_eq!(lines[1]["event"], "error");
    }
}
