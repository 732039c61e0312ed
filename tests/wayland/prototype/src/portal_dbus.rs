//! The same ScreenCast portal client as `portal.rs`, on the `dbus` crate
//! (libdbus) instead of zbus: blocking-native, no proc macros, ~6 s to build
//! instead of ~100 s of CPU for the zbus stack (see REPORT.md).
//!
//! The Request/Response pattern is handled on the calling thread: a match
//! rule on the predicted request path is added BEFORE the call, then
//! `Connection::process(timeout)` dispatches until the callback saw the Response.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dbus::arg::{AppendAll, PropMap, RefArg, Variant};
use dbus::blocking::Connection;
use dbus::message::MatchRule;
use dbus::strings::Path;

use crate::portal_common::{
    CURSOR_EMBEDDED, DEST, PATH, PERSIST_UNTIL_REVOKED, REQUEST, RESPONSE_TIMEOUT, SCREENCAST,
    SESSION, SOURCE_MONITOR, new_token,
};
pub use crate::portal_common::{PortalError, ScreenCastPortal, Stream};

/// Timeout of a plain method call (the answer to the call, not the user's Response).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl From<dbus::Error> for PortalError {
    fn from(e: dbus::Error) -> Self {
        PortalError::DBus(e.to_string())
    }
}

pub struct ScreenCastSession {
    conn: Connection,
    session: Path<'static>,
    pub streams: Vec<Stream>,
    pub restore_token: Option<String>,
}

impl ScreenCastSession {
    pub fn start(restore_token: Option<&str>) -> Result<Self, PortalError> {
        let conn = Connection::new_session()?;
        let session = create_session(&conn)?;
        select_sources(&conn, &session, restore_token)?;
        let (streams, restore_token) = start(&conn, &session)?;
        Ok(ScreenCastSession {
            conn,
            session,
            streams,
            restore_token,
        })
    }
}

impl ScreenCastPortal for ScreenCastSession {
    fn streams(&self) -> &[Stream] {
        &self.streams
    }

    fn restore_token(&self) -> Option<&str> {
        self.restore_token.as_deref()
    }

    fn open_pipewire_remote(&self) -> Result<OwnedFd, PortalError> {
        let options = PropMap::new();
        let (fd,): (OwnedFd,) = self.conn.with_proxy(DEST, PATH, CALL_TIMEOUT).method_call(
            SCREENCAST,
            "OpenPipeWireRemote",
            (self.session.clone(), options),
        )?;
        Ok(fd)
    }

    fn close(self: Box<Self>) -> Result<(), PortalError> {
        let () = self
            .conn
            .with_proxy(DEST, self.session.clone(), CALL_TIMEOUT)
            .method_call(SESSION, "Close", ())?;
        Ok(())
    }
}

fn create_session(conn: &Connection) -> Result<Path<'static>, PortalError> {
    const STEP: &str = "CreateSession";
    let results = request(conn, STEP, |handle_token| {
        let mut options = PropMap::new();
        options.insert("handle_token".into(), var(handle_token));
        options.insert("session_handle_token".into(), var(new_token()));
        (options,)
    })?;
    // "s" per the spec, "o" in some versions: as_str() reads both.
    let handle = results.get("session_handle").and_then(|v| v.0.as_str());
    handle
        .and_then(|s| Path::new(s.to_string()).ok())
        .ok_or_else(|| PortalError::Malformed {
            step: STEP,
            what: format!("session_handle = {handle:?}"),
        })
}

fn select_sources(
    conn: &Connection,
    session: &Path<'static>,
    restore_token: Option<&str>,
) -> Result<(), PortalError> {
    request(conn, "SelectSources", |handle_token| {
        let mut options = PropMap::new();
        options.insert("handle_token".into(), var(handle_token));
        options.insert("types".into(), var(SOURCE_MONITOR));
        options.insert("multiple".into(), var(false));
        options.insert("cursor_mode".into(), var(CURSOR_EMBEDDED));
        options.insert("persist_mode".into(), var(PERSIST_UNTIL_REVOKED));
        if let Some(token) = restore_token {
            options.insert("restore_token".into(), var(token.to_string()));
        }
        (session.clone(), options)
    })?;
    Ok(())
}

fn start(
    conn: &Connection,
    session: &Path<'static>,
) -> Result<(Vec<Stream>, Option<String>), PortalError> {
    const STEP: &str = "Start";
    let results = request(conn, STEP, |handle_token| {
        let mut options = PropMap::new();
        options.insert("handle_token".into(), var(handle_token));
        (session.clone(), "", options)
    })?;
    let streams = results.get("streams").and_then(|v| parse_streams(&*v.0));
    let streams = streams
        .filter(|s| !s.is_empty())
        .ok_or_else(|| PortalError::Malformed {
            step: STEP,
            what: format!("streams = {:?}", results.get("streams")),
        })?;
    let token = results
        .get("restore_token")
        .and_then(|v| v.0.as_str())
        .map(str::to_string);
    Ok((streams, token))
}

/// streams: a(ua{sv}); each item iterates as (node id, properties).
fn parse_streams(streams: &dyn RefArg) -> Option<Vec<Stream>> {
    let mut out = Vec::new();
    for item in streams.as_iter()? {
        let mut fields = item.as_iter()?;
        let node_id = fields.next()?.as_u64()? as u32;
        // a{sv} iterates as key, value, key, value...; size is a (ii) struct
        let mut size = None;
        if let Some(props) = fields.next() {
            let mut kv = props.as_iter()?;
            while let (Some(k), Some(v)) = (kv.next(), kv.next()) {
                if k.as_str() == Some("size") {
                    // the value is a variant around the (ii) struct
                    let inner = v.as_iter()?.next()?;
                    let mut wh = inner.as_iter()?;
                    size = Some((wh.next()?.as_i64()? as i32, wh.next()?.as_i64()? as i32));
                }
            }
        }
        out.push(Stream { node_id, size });
    }
    Some(out)
}

/// Calls `method` and waits for its Response on the request object, which we
/// listen to before calling. Code 0 -> results, 1 -> Declined, else Failed.
fn request<A: AppendAll>(
    conn: &Connection,
    method: &'static str,
    body: impl FnOnce(String) -> A,
) -> Result<PropMap, PortalError> {
    let handle_token = new_token();
    let request_path = request_path(conn, &handle_token)?;
    // The callback must be Send (dbus' blocking Connection requires it), hence Arc<Mutex>.
    let answer: Arc<Mutex<Option<(u32, PropMap)>>> = Arc::default();
    let rule = MatchRule::new_signal(REQUEST, "Response").with_path(request_path.clone());
    let slot = answer.clone();
    let match_token = conn.add_match(rule, move |(code, results): (u32, PropMap), _, _| {
        *slot.lock().unwrap() = Some((code, results));
        true // keep the callback; remove_match below drops it and the bus-side rule
    })?;

    let (returned,): (Path<'static>,) = conn.with_proxy(DEST, PATH, CALL_TIMEOUT).method_call(
        SCREENCAST,
        method,
        body(handle_token),
    )?;
    if returned != request_path {
        let _ = conn.remove_match(match_token);
        return Err(PortalError::Malformed {
            step: method,
            what: format!("request path {returned} != {request_path}"),
        });
    }
    let deadline = Instant::now() + RESPONSE_TIMEOUT;
    while answer.lock().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = conn.remove_match(match_token);
            // closing the request also closes a dialog still shown for it
            let _: Result<(), _> = conn
                .with_proxy(DEST, request_path.clone(), CALL_TIMEOUT)
                .method_call(REQUEST, "Close", ());
            return Err(PortalError::Timeout { step: method });
        }
        conn.process(Duration::from_millis(100))?;
    }
    let _ = conn.remove_match(match_token);
    let (code, results) = answer.lock().unwrap().take().expect("checked above");
    match code {
        0 => Ok(results),
        1 => Err(PortalError::Declined { step: method }),
        code => Err(PortalError::Failed { step: method, code }),
    }
}

fn request_path(conn: &Connection, token: &str) -> Result<Path<'static>, PortalError> {
    Path::new(crate::portal_common::request_path(
        &conn.unique_name(),
        token,
    ))
    .map_err(PortalError::DBus)
}

fn var<T: RefArg + 'static>(value: T) -> Variant<Box<dyn RefArg>> {
    Variant(Box::new(value))
}
