//! Log lines for the full-screen view. While the view owns the terminal, a
//! log line written to stderr would land in the middle of the picture, so the
//! client's `tracing` output goes through this writer into the chat pane.

use crossbeam_channel::Sender;
use std::io::Write;

/// A `tracing_subscriber` writer that sends each event as one line.
#[derive(Clone)]
pub struct LogWriter(Sender<String>);

impl LogWriter {
    pub fn new(lines: Sender<String>) -> LogWriter {
        LogWriter(lines)
    }
}

/// One log event being written; sent when `tracing` is done with it.
pub struct LogLine {
    text: Vec<u8>,
    to: Sender<String>,
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine {
            text: Vec::new(),
            to: self.0.clone(),
        }
    }
}

impl Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.text);
        let text = text.trim_end();
        if !text.is_empty() {
            let _ = self.to.send(text.to_string());
        }
    }
}
