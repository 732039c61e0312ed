//! ScreenCast portal (org.freedesktop.portal.ScreenCast) over zbus' blocking API.
//!
//! Every portal method except OpenPipeWireRemote answers through a separate
//! `org.freedesktop.portal.Request::Response(u code, a{sv} results)` signal on a
//! request object whose path we can predict from our unique bus name and the
//! `handle_token` we pass. We subscribe to that path BEFORE calling, otherwise a
//! fast back-end (xdpw answers in ~15 ms) can answer before we listen.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::mpsc;

use crate::portal_common::{
    CURSOR_EMBEDDED, DEST, PATH, PERSIST_UNTIL_REVOKED, REQUEST, RESPONSE_TIMEOUT, SCREENCAST,
    SESSION, SOURCE_MONITOR, new_token,
};
pub use crate::portal_common::{PortalError, ScreenCastPortal, Stream};

use zbus::blocking::{Connection, Proxy, proxy::Builder};
use zbus::proxy::CacheProperties;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};

impl From<zbus::Error> for PortalError {
    fn from(e: zbus::Error) -> Self {
        PortalError::DBus(e.to_string())
    }
}

impl From<zbus::zvariant::Error> for PortalError {
    fn from(e: zbus::zvariant::Error) -> Self {
        PortalError::DBus(e.to_string())
    }
}

/// A live ScreenCast session. The session dies with the D-Bus connection, so
/// this object must live as long as the share (pitfall 6 in the notes).
pub struct ScreenCastSession {
    conn: Connection,
    session: OwnedObjectPath,
    pub streams: Vec<Stream>,
    pub restore_token: Option<String>,
}

type Results = HashMap<String, OwnedValue>;

impl ScreenCastSession {
    /// CreateSession -> SelectSources -> Start. With a valid `restore_token` the
    /// back-end skips its chooser/dialog and reuses the earlier selection.
    pub fn start(restore_token: Option<&str>) -> Result<Self, PortalError> {
        let conn = Connection::session()?;
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
        let options: HashMap<&str, Value> = HashMap::new();
        let fd: zbus::zvariant::OwnedFd =
            screencast_proxy(&self.conn)?.call("OpenPipeWireRemote", &(&*self.session, options))?;
        Ok(fd.into())
    }

    fn close(self: Box<Self>) -> Result<(), PortalError> {
        let session = proxy(&self.conn, self.session.as_ref(), SESSION)?;
        session.call::<_, _, ()>("Close", &())?;
        Ok(())
    }
}

fn create_session(conn: &Connection) -> Result<OwnedObjectPath, PortalError> {
    const STEP: &str = "CreateSession";
    let results = request(conn, STEP, |handle_token| {
        let mut options: HashMap<&str, Value> = HashMap::new();
        options.insert("handle_token", handle_token.into());
        options.insert("session_handle_token", new_token().into());
        (options,)
    })?;
    // The spec types session_handle as a string ("s"); some versions sent "o".
    match results.get("session_handle").map(|v| &**v) {
        Some(Value::Str(s)) => Ok(ObjectPath::try_from(s.as_str())?.into()),
        Some(Value::ObjectPath(p)) => Ok(p.clone().into()),
        other => Err(PortalError::Malformed {
            step: STEP,
            what: format!("session_handle = {other:?}"),
        }),
    }
}

fn select_sources(
    conn: &Connection,
    session: &OwnedObjectPath,
    restore_token: Option<&str>,
) -> Result<(), PortalError> {
    request(conn, "SelectSources", |handle_token| {
        let mut options: HashMap<&str, Value> = HashMap::new();
        options.insert("handle_token", handle_token.into());
        options.insert("types", SOURCE_MONITOR.into());
        options.insert("multiple", false.into());
        options.insert("cursor_mode", CURSOR_EMBEDDED.into());
        options.insert("persist_mode", PERSIST_UNTIL_REVOKED.into());
        if let Some(token) = restore_token {
            options.insert("restore_token", token.to_owned().into());
        }
        (&**session, options)
    })?;
    Ok(())
}

fn start(
    conn: &Connection,
    session: &OwnedObjectPath,
) -> Result<(Vec<Stream>, Option<String>), PortalError> {
    const STEP: &str = "Start";
    let results = request(conn, STEP, |handle_token| {
        let mut options: HashMap<&str, Value> = HashMap::new();
        options.insert("handle_token", handle_token.into());
        // parent_window "": we are a terminal, there is no window to attach a dialog to
        (&**session, "", options)
    })?;
    let streams = parse_streams(&results).ok_or_else(|| PortalError::Malformed {
        step: STEP,
        what: format!("streams = {:?}", results.get("streams")),
    })?;
    if streams.is_empty() {
        return Err(PortalError::Malformed {
            step: STEP,
            what: "no stream".into(),
        });
    }
    let token = match results.get("restore_token").map(|v| &**v) {
        Some(Value::Str(s)) => Some(s.to_string()),
        _ => None,
    };
    Ok((streams, token))
}

/// streams: a(ua{sv}), each (PipeWire node id, {position: (ii), size: (ii), source_type: u}).
fn parse_streams(results: &Results) -> Option<Vec<Stream>> {
    let Value::Array(array) = &**results.get("streams")? else {
        return None;
    };
    let mut streams = Vec::new();
    for item in array.iter() {
        let Value::Structure(s) = item else {
            return None;
        };
        let (Some(Value::U32(node_id)), Some(Value::Dict(props))) =
            (s.fields().first(), s.fields().get(1))
        else {
            return None;
        };
        let size = props.get::<&str, (i32, i32)>(&"size").ok().flatten();
        streams.push(Stream {
            node_id: *node_id,
            size,
        });
    }
    Some(streams)
}

/// Calls `method` with the body that `body(handle_token)` builds, then waits for
/// the Response on the request object. Code 0 gives the results, 1 Declined,
/// anything else Failed.
fn request<B>(
    conn: &Connection,
    method: &'static str,
    body: impl FnOnce(String) -> B,
) -> Result<Results, PortalError>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    let handle_token = new_token();
    let request_path = request_path(conn, &handle_token)?;
    let request = proxy(conn, request_path.as_ref(), REQUEST)?;
    // Subscribe first (the AddMatch is sent to the bus before receive_signal returns).
    let responses = request.receive_signal("Response")?;
    let (tx, rx) = mpsc::channel();
    // The blocking iterator has no timeout: a helper thread waits for the one
    // message and hands it over, so we can give up after RESPONSE_TIMEOUT.
    std::thread::Builder::new()
        .name("portal-response".into())
        .spawn(move || {
            let mut responses = responses;
            let _ = tx.send(responses.next());
        })
        .map_err(|e| PortalError::DBus(e.to_string()))?;

    let returned: OwnedObjectPath = screencast_proxy(conn)?.call(method, &body(handle_token))?;
    if returned != request_path {
        // Only very old portals (< 0.9) return another path; we would miss the Response.
        return Err(PortalError::Malformed {
            step: method,
            what: format!("request path {returned} != {request_path}"),
        });
    }
    let message = match rx.recv_timeout(RESPONSE_TIMEOUT) {
        Ok(Some(m)) => m,
        Ok(None) => {
            return Err(PortalError::Malformed {
                step: method,
                what: "signal stream ended".into(),
            });
        }
        Err(_) => {
            // Closing the request also closes any dialog still shown for it.
            let _ = request.call::<_, _, ()>("Close", &());
            return Err(PortalError::Timeout { step: method });
        }
    };
    let (code, results): (u32, Results) = message.body().deserialize()?;
    match code {
        0 => Ok(results),
        1 => Err(PortalError::Declined { step: method }),
        code => Err(PortalError::Failed { step: method, code }),
    }
}

fn request_path(conn: &Connection, token: &str) -> Result<OwnedObjectPath, PortalError> {
    let unique = conn
        .unique_name()
        .ok_or(zbus::Error::Failure("not connected to a bus".into()))?;
    Ok(ObjectPath::try_from(crate::portal_common::request_path(unique, token))?.into())
}

fn screencast_proxy(conn: &Connection) -> Result<Proxy<'static>, PortalError> {
    proxy(
        conn,
        ObjectPath::from_static_str_unchecked(PATH),
        SCREENCAST,
    )
}

/// A proxy that does not fetch properties: request objects may not exist yet,
/// and we never read properties here.
fn proxy<'a>(
    conn: &Connection,
    path: ObjectPath<'a>,
    interface: &'static str,
) -> Result<Proxy<'a>, PortalError> {
    Ok(Builder::new(conn)
        .destination(DEST)?
        .path(path)?
        .interface(interface)?
        .cache_properties(CacheProperties::No)
        .build()?)
}
