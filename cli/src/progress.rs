//! A one-line progress indicator on standard error, shown only when standard
//! error is a terminal and the data is large.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Below this many bytes nothing is shown.
const THRESHOLD: u64 = 8 * 1024 * 1024;
/// Minimum time between two updates.
const INTERVAL: Duration = Duration::from_millis(200);
const MIB: u64 = 1024 * 1024;

/// Counts bytes and redraws `\r<verb>: N MiB [of M MiB]` now and then.
#[derive(Debug)]
pub struct Progress {
    verb: &'static str,
    total: Option<u64>,
    done: u64,
    enabled: bool,
    shown: bool,
    last: Option<Instant>,
}

impl Progress {
    /// A progress counter for `verb` ("sealing"); `total` is the input size
    /// when known.
    pub fn new(verb: &'static str, total: Option<u64>) -> Self {
        Self {
            verb,
            total,
            done: 0,
            enabled: std::io::stderr().is_terminal(),
            shown: false,
            last: None,
        }
    }

    /// Record `n` more bytes processed.
    pub fn add(&mut self, n: usize) {
        self.done = self.done.saturating_add(n as u64);
        if !self.enabled || self.done.max(self.total.unwrap_or(0)) < THRESHOLD {
            return;
        }
        if self.last.is_some_and(|t| t.elapsed() < INTERVAL) {
            return;
        }
        self.last = Some(Instant::now());
        self.draw();
    }

    fn draw(&mut self) {
        let line = match self.total {
            Some(total) if total > 0 => format!(
                "\r{}: {} MiB of {} MiB ({}%)   ",
                self.verb,
                self.done / MIB,
                total.div_ceil(MIB),
                (self.done.min(total) * 100) / total
            ),
            _ => format!("\r{}: {} MiB   ", self.verb, self.done / MIB),
        };
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        self.shown = true;
    }

    /// Draw the final count and end the line.
    pub fn finish(mut self) {
        if self.shown {
            self.draw();
        }
        // Drop ends the line.
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.shown {
            // End the progress line so that what follows (an error) starts clean.
            let _ = std::io::stderr().lock().write_all(b"\n");
        }
    }
}
