//! Structured logs: one JSON object per line on standard error.
//!
//! Every field is a fixed label or a number chosen by the server: counts,
//! status codes, durations, error codes, decision codes. No message
//! content, phone number, name, user id, media id or record id is ever
//! passed here (the demo's test greps the whole log for every fixture's
//! phone numbers, names and texts).

use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

static FILE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

/// Write the log to `path` (appending) instead of standard error, for the
/// rest of the process (the demo keeps its server's log in its directory).
/// Returns false when a log file was set already.
pub fn to_file(path: &Path) -> std::io::Result<bool> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    Ok(FILE.set(Mutex::new(f)).is_ok())
}

/// One field's value.
#[derive(Debug, Clone, Copy)]
pub enum Value {
    /// A fixed label (from the server's own vocabulary).
    Label(&'static str),
    /// A number.
    Number(u64),
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Self {
        Self::Label(s)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Self::Number(n)
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Self {
        Self::Number(n as u64)
    }
}

impl From<u16> for Value {
    fn from(n: u16) -> Self {
        Self::Number(u64::from(n))
    }
}

/// Write one log line: `{"ts_ms":...,"level":...,"event":...,<fields>}`.
pub fn line(level: &'static str, event: &'static str, fields: &[(&'static str, Value)]) {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut s = format!("{{\"ts_ms\":{ts},\"level\":\"{level}\",\"event\":\"{event}\"");
    for (k, v) in fields {
        match v {
            // Labels are the server's own ASCII words: no escaping needed,
            // but quote characters are dropped all the same.
            Value::Label(l) => {
                let l: String = l.chars().filter(|c| *c != '"' && *c != '\\').collect();
                s.push_str(&format!(",\"{k}\":\"{l}\""));
            }
            Value::Number(n) => s.push_str(&format!(",\"{k}\":{n}")),
        }
    }
    s.push_str("}\n");
    match FILE.get() {
        Some(f) => {
            let mut f = f.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = f.write_all(s.as_bytes());
        }
        None => {
            let _ = std::io::stderr().lock().write_all(s.as_bytes());
        }
    }
}

/// An informational line.
pub fn info(event: &'static str, fields: &[(&'static str, Value)]) {
    line("info", event, fields);
}

/// A warning.
pub fn warn(event: &'static str, fields: &[(&'static str, Value)]) {
    line("warn", event, fields);
}
