//! Encryption with a key people can check: what travels is unreadable, the
//! client trusts a server on first use and remembers it, a changed or
//! unexpected key is refused, and plain TCP is never chosen silently.

use integration_tests::{ClientProcess, DEADLINE, ServerProcess, binary, wait_with_deadline};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use transport::Fingerprint;

/// A TCP relay in front of the server that keeps a copy of every byte that
/// passes, as anyone on the path could.
struct Eavesdropper {
    addr: SocketAddr,
    heard: Arc<Mutex<Vec<u8>>>,
}

impl Eavesdropper {
    fn start(server: SocketAddr) -> Eavesdropper {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let addr = listener.local_addr().expect("addr");
        let heard = Arc::new(Mutex::new(Vec::new()));
        let tap = heard.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(upstream) = TcpStream::connect(server) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone(), upstream.try_clone()),
                    (upstream.try_clone(), client.try_clone()),
                ] {
                    let (Ok(mut from), Ok(mut to)) = (from, to) else {
                        continue;
                    };
                    let tap = tap.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                            if let Ok(mut heard) = tap.lock() {
                                heard.extend_from_slice(&buf[..n]);
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Eavesdropper { addr, heard }
    }

    fn heard(&self, text: &str) -> bool {
        let heard = self.heard.lock().map(|h| h.clone()).unwrap_or_default();
        heard.windows(text.len()).any(|w| w == text.as_bytes())
    }
}

/// Two members chat through an eavesdropper; true if it heard the words.
fn chat_through_eavesdropper(server: &ServerProcess, words: &str) -> bool {
    let tap = Eavesdropper::start(server.addr());
    let mut host = ClientProcess::start(server, "ana");
    let meeting = host.create();
    let mut guest = ClientProcess::start_at(&tap.addr.to_string(), "bo", &server.trust_args())
        .expect("connects through the relay");
    guest.join(&meeting);
    guest.send(words);
    host.expect("the chat", |e| e["event"] == "chat" && e["text"] == words);
    host.send(&format!("re: {words}"));
    guest.expect("the answer", |e| {
        e["event"] == "chat" && e["text"] == format!("re: {words}")
    });
    tap.heard(words)
}

#[test]
fn nobody_on_the_path_can_read_the_meeting() {
    let words = "the launch code is 0000";
    let server = ServerProcess::start();
    assert!(server.fingerprint().is_some(), "TLS is the default");
    assert!(
        !chat_through_eavesdropper(&server, words),
        "the chat crossed the network readable"
    );
    // The same with --no-tls: the relay does hear it (so the test can tell).
    let plain = ServerProcess::start_with(&["--no-tls"]);
    assert!(chat_through_eavesdropper(&plain, words));
}

#[test]
fn the_first_connection_trusts_and_remembers_the_key_and_later_ones_check_it() {
    let server = ServerProcess::start();
    let key = server.fingerprint().expect("TLS");
    let dir = tempfile::tempdir().expect("temp dir");
    let known_hosts = dir.path().join("known_hosts");
    let args = vec![
        "--known-hosts".to_string(),
        known_hosts.display().to_string(),
    ];
    let first = ClientProcess::start_at(&server.addr().to_string(), "ana", &args)
        .expect("trusted on first use");
    let first_use = first
        .history
        .iter()
        .find(|e| e["event"] == "first_use")
        .cloned()
        .expect("the first use is reported before `connected`");
    let shown: Fingerprint = first_use["fingerprint"]
        .as_str()
        .and_then(|f| f.parse().ok())
        .expect("a fingerprint");
    assert_eq!(shown, key, "the key shown is the one the server printed");
    let remembered = std::fs::read_to_string(&known_hosts).expect("remembered");
    assert!(
        remembered.contains(&format!("{} {}", server.addr(), key.to_compact())),
        "{remembered}"
    );
    let connected = first.history.last().cloned().expect("connected");
    assert_eq!(connected["fingerprint"], first_use["fingerprint"]);

    let second = ClientProcess::start_at(&server.addr().to_string(), "bo", &args)
        .expect("the remembered key matches");
    assert!(
        !second.history.iter().any(|e| e["event"] == "first_use"),
        "{:?}",
        second.history
    );
    assert_eq!(
        std::fs::read_to_string(&known_hosts).expect("still there"),
        remembered,
        "nothing added for a known server"
    );
}

/// Runs `client ADDR --json ARGS` to its end; its exit code and output.
fn client_refused(addr: SocketAddr, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(binary("client"))
        .arg(addr.to_string())
        .args(["--json", "--name", "probe"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("client starts");
    let status = wait_with_deadline(&mut child, DEADLINE).expect("the client gives up");
    let mut output = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut output);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut output);
    }
    (status.code(), output)
}

#[test]
fn a_changed_key_is_refused_with_what_to_do() {
    let server = ServerProcess::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let known_hosts = dir.path().join("known_hosts");
    let old_key = Fingerprint::of_certificate(b"the key this server had before");
    let remembered = format!(
        "# trusted\n10.9.9.9:6338 {}\n{} {}\n",
        server.fingerprint().expect("TLS").to_compact(),
        server.addr(),
        old_key.to_compact()
    );
    std::fs::write(&known_hosts, &remembered).expect("writes");
    let path = known_hosts.display().to_string();
    let (code, output) = client_refused(server.addr(), &["--known-hosts", &path]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("ITS KEY HAS CHANGED"), "{output}");
    assert!(
        output.contains("line 3"),
        "says which line to remove: {output}"
    );
    assert!(!output.contains("\"connected\""), "{output}");
    assert_eq!(
        std::fs::read_to_string(&known_hosts).expect("kept"),
        remembered,
        "a refused key is not written down"
    );
}

#[test]
fn a_pinned_fingerprint_admits_only_that_key() {
    let server = ServerProcess::start();
    let wrong = Fingerprint::of_certificate(b"another server").to_compact();
    let (code, output) = client_refused(server.addr(), &["--fingerprint", &wrong]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("--fingerprint says"), "{output}");

    // The form the server prints (groups and spaces) pins it too.
    let printed = server.fingerprint().expect("TLS").to_string();
    let args = vec!["--fingerprint".to_string(), printed];
    ClientProcess::start_at(&server.addr().to_string(), "ana", &args).expect("the right key");
}

#[test]
fn plain_tcp_is_never_chosen_silently() {
    let tls = ServerProcess::start();
    let (code, output) = client_refused(tls.addr(), &["--no-tls"]);
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("encrypts every connection"), "{output}");

    let plain = ServerProcess::start_with(&["--no-tls"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("known_hosts").display().to_string();
    let (code, output) = client_refused(plain.addr(), &["--known-hosts", &path]);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("--no-tls"),
        "says how to connect anyway: {output}"
    );
    assert!(
        plain.stderr().contains("TLS is off"),
        "the server says so too"
    );

    let client = ClientProcess::start_with(&plain, "ana", &["--no-tls"]);
    let connected = client.history.last().cloned().expect("connected");
    assert_eq!(connected["event"], "connected");
    assert!(connected["fingerprint"].is_null(), "{connected}");
}
