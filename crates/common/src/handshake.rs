//! The handshake: the first exchange on every connection, written once for
//! every peer that opens one (the client, loadgen, the tests' raw peers).
//!
//! ```text
//! control socket:  hello {protocol, name}             -> welcome {id, name, token}
//! media socket:    attach {kind, id, token}           -> attached {kind}
//! control socket:  resume {id, token, events_seen, requests_sent}
//!                                                     -> resumed {id, name, requests_handled, events_lost}
//! ```
//!
//! Each step sends one request and reads the one frame that answers it. The
//! server answers a request it will not take with an `error` event instead,
//! which comes back as `HandshakeError::Refused` with the server's words;
//! anything else as the error that says what went wrong.
//!
//! A connection is a `FrameReader` over a `Read + Write` stream: the request
//! is written to the stream under the reader, and the answer read through it,
//! so whatever the server sends after the answer (a resume's replayed events)
//! stays buffered in the reader for its owner. How long to wait, and what to
//! tell people when it fails, is the caller's: this module owns the bytes.

use crate::error::ProtocolError;
use crate::frame::{Frame, FrameReader};
use crate::ids::ClientId;
use crate::media::MediaKind;
use crate::message::{Event, Request, Returning};
use crate::protocol::PROTOCOL_VERSION;
use std::fmt;
use std::io::{self, Read, Write};

/// What `welcome` said: who we are on this server.
#[derive(Clone, PartialEq, Eq)]
pub struct Welcome {
    pub id: ClientId,
    /// Our name as the server stored it.
    pub name: String,
    /// The secret that attaches media sockets and resumes the session.
    pub token: String,
}

impl fmt::Debug for Welcome {
    /// Never the token: it is what lets anyone attach as us.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Welcome")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What `resumed` said: the session is back on this connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resumed {
    pub id: ClientId,
    pub name: String,
    /// Requests of ours the server had carried out; the later ones must be sent again.
    pub requests_handled: u64,
    /// Events it no longer kept for us: the current state follows instead.
    pub events_lost: u64,
}

/// The server answered with an `error`: its message. Asking again will not
/// help (for `attach` and `resume`, the session no longer exists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the server refused: {}", self.0)
    }
}

impl std::error::Error for Refused {}

/// Why a handshake step did not end as asked.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The request could not be written.
    #[error("could not talk to the server")]
    Send(#[source] io::Error),
    /// No answer could be read: the network failed, or what came is not a
    /// frame of this protocol.
    #[error("no answer from the server (is it a meeting server?)")]
    Read(#[source] ProtocolError),
    /// The server closed the connection instead of answering.
    #[error("the server closed the connection during the handshake")]
    Closed,
    /// The answer is a frame but not an event.
    #[error(transparent)]
    Malformed(ProtocolError),
    /// The server answered with an `error`.
    #[error(transparent)]
    Refused(Refused),
    /// The server answered with another event than the one that answers
    /// `request`.
    #[error("the server answered {request} with {answer:?}")]
    Unexpected {
        request: &'static str,
        answer: Box<Event>,
    },
}

/// `hello` as this version of the protocol says it.
pub fn hello_request(name: &str) -> Request {
    Request::Hello {
        protocol: PROTOCOL_VERSION,
        name: name.to_string(),
        returning: None,
    }
}

/// Says `hello` as `name` on a new control connection; `welcome` gives our
/// id, our name as stored, and our session token.
pub fn hello<S: Read + Write>(
    connection: &mut FrameReader<S>,
    name: &str,
) -> Result<Welcome, HandshakeError> {
    hello_returning(connection, name, None)
}

/// `hello`, saying who we were on a server of the cluster that died
/// (`returning`): `welcome` gives the same id back if the server took the
/// proof, a new one if not.
pub fn hello_returning<S: Read + Write>(
    connection: &mut FrameReader<S>,
    name: &str,
    returning: Option<Returning>,
) -> Result<Welcome, HandshakeError> {
    let request = Request::Hello {
        protocol: PROTOCOL_VERSION,
        name: name.to_string(),
        returning,
    };
    match exchange(connection, &request)? {
        Event::Welcome {
            id, name, token, ..
        } => Ok(Welcome { id, name, token }),
        answer => Err(unexpected("hello", answer)),
    }
}

/// Attaches a new connection as session `id`'s socket for `kind`, proved by
/// its `token`. The answer must be `attached` of that same kind.
pub fn attach<S: Read + Write>(
    connection: &mut FrameReader<S>,
    kind: MediaKind,
    id: ClientId,
    token: &str,
) -> Result<(), HandshakeError> {
    let request = Request::Attach {
        kind,
        id,
        token: token.to_string(),
    };
    match exchange(connection, &request)? {
        Event::Attached { kind: attached } if attached == kind => Ok(()),
        answer => Err(unexpected("attach", answer)),
    }
}

/// Resumes session `id` on a new control connection: `events_seen` control
/// events were received so far (`welcome` is the first), `requests_sent`
/// requests sent. The events after `events_seen` follow `resumed` on the
/// same reader.
pub fn resume<S: Read + Write>(
    connection: &mut FrameReader<S>,
    id: ClientId,
    token: &str,
    events_seen: u64,
    requests_sent: u64,
) -> Result<Resumed, HandshakeError> {
    let request = Request::Resume {
        id,
        token: token.to_string(),
        events_seen,
        requests_sent,
    };
    match exchange(connection, &request)? {
        Event::Resumed {
            id,
            name,
            requests_handled,
            events_lost,
        } => Ok(Resumed {
            id,
            name,
            requests_handled,
            events_lost,
        }),
        answer => Err(unexpected("resume", answer)),
    }
}

/// Sends `request` and reads the one event that answers it; an `error`
/// event is the server's refusal.
fn exchange<S: Read + Write>(
    connection: &mut FrameReader<S>,
    request: &Request,
) -> Result<Event, HandshakeError> {
    let stream = connection.get_mut();
    Frame::control(request)
        .write_to(stream)
        .and_then(|()| stream.flush())
        .map_err(HandshakeError::Send)?;
    let frame = connection
        .read_frame()
        .map_err(HandshakeError::Read)?
        .ok_or(HandshakeError::Closed)?;
    match frame
        .parse_control::<Event>()
        .map_err(HandshakeError::Malformed)?
    {
        Event::Error { message } => Err(HandshakeError::Refused(Refused(message))),
        event => Ok(event),
    }
}

fn unexpected(request: &'static str, answer: Event) -> HandshakeError {
    HandshakeError::Unexpected {
        request,
        answer: Box::new(answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameKind;

    /// A peer's end of a connection: reads what the server says (`incoming`),
    /// keeps what the peer writes.
    struct Pipe {
        incoming: io::Cursor<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.incoming.read(buf)
        }
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A connection on which the server will say `answers`, in order.
    fn connection(answers: &[Event]) -> FrameReader<Pipe> {
        let incoming = answers
            .iter()
            .flat_map(|event| Frame::control(event).into_bytes())
            .collect();
        let pipe = Pipe {
            incoming: io::Cursor::new(incoming),
            written: Vec::new(),
        };
        FrameReader::new(pipe, &[FrameKind::Control])
    }

    fn sent(connection: &FrameReader<Pipe>) -> Vec<u8> {
        connection.get_ref().written.clone()
    }

    #[test]
    fn hello_says_the_documented_bytes_and_returns_the_welcome() {
        let mut conn = connection(&[Event::Welcome {
            protocol: PROTOCOL_VERSION,
            id: ClientId(7),
            name: "ana".into(),
            token: "00112233445566778899aabbccddeeff".into(),
        }]);
        let welcome = hello(&mut conn, "ana").expect("welcome");
        assert_eq!(welcome.id, ClientId(7));
        assert_eq!(welcome.name, "ana");
        assert_eq!(welcome.token, "00112233445566778899aabbccddeeff");
        assert!(
            !format!("{welcome:?}").contains("0011"),
            "no token in Debug"
        );
        // docs/PROTOCOL.md, byte-level examples.
        let mut expected = vec![0x01, 0, 0, 0, 0x2d];
        expected.extend_from_slice(br#"{"request":"hello","protocol":1,"name":"ana"}"#);
        assert_eq!(sent(&conn), expected);
    }

    #[test]
    fn an_error_is_the_servers_refusal_in_its_words() {
        let mut conn = connection(&[Event::Error {
            message: "invalid session token".into(),
        }]);
        match attach(&mut conn, MediaKind::Audio, ClientId(3), "bad") {
            Err(HandshakeError::Refused(refused)) => {
                assert_eq!(refused, Refused("invalid session token".into()));
                assert_eq!(
                    refused.to_string(),
                    "the server refused: invalid session token"
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let request: Request =
            FrameReader::new(io::Cursor::new(sent(&conn)), &[FrameKind::Control])
                .read_frame()
                .expect("a frame")
                .expect("not the end")
                .parse_control()
                .expect("a request");
        assert_eq!(
            request,
            Request::Attach {
                kind: MediaKind::Audio,
                id: ClientId(3),
                token: "bad".into()
            }
        );
    }

    #[test]
    fn attached_of_another_kind_is_not_an_answer() {
        let mut conn = connection(&[Event::Attached {
            kind: MediaKind::Video,
        }]);
        match attach(&mut conn, MediaKind::Audio, ClientId(3), "t") {
            Err(HandshakeError::Unexpected { request, answer }) => {
                assert_eq!(request, "attach");
                assert_eq!(
                    *answer,
                    Event::Attached {
                        kind: MediaKind::Video
                    }
                );
            }
            other => panic!("expected an unexpected answer, got {other:?}"),
        }
    }

    #[test]
    fn resumed_comes_back_typed_and_the_replay_stays_in_the_reader() {
        let replayed = Event::Pong;
        let mut conn = connection(&[
            Event::Resumed {
                id: ClientId(4),
                name: "bo".into(),
                requests_handled: 2,
                events_lost: 0,
            },
            replayed.clone(),
        ]);
        let resumed = resume(&mut conn, ClientId(4), "t", 9, 3).expect("resumed");
        assert_eq!(
            resumed,
            Resumed {
                id: ClientId(4),
                name: "bo".into(),
                requests_handled: 2,
                events_lost: 0
            }
        );
        let next = conn.read_frame().expect("reads").expect("the replay");
        assert_eq!(next.parse_control::<Event>().expect("an event"), replayed);
    }

    #[test]
    fn a_close_before_the_answer_says_so() {
        let mut conn = connection(&[]);
        assert!(matches!(
            hello(&mut conn, "ana"),
            Err(HandshakeError::Closed)
        ));
    }
}
