//! tracing on stderr: human text (journald adds time stamps) or JSON lines.
//! `RUST_LOG` overrides the level chosen by `-v`/`-q`. Nothing logged here
//! carries the API key: it lives in a `Secret` and a sensitive header. URL
//! credentials (tokens of private feeds and their enclosures, signatures)
//! are redacted from every line as it is written, whatever logged it.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use super::LogFormat;

#[derive(Debug, Clone, Copy)]
pub enum Level {
    Warn,
    Info,
}

pub fn init(format: LogFormat, default: Level, verbose: u8, quiet: u8) {
    let base: i8 = match default {
        Level::Warn => 1,
        Level::Info => 2,
    };
    let level = match base + verbose as i8 - quiet as i8 {
        i8::MIN..=0 => "error",
        1 => "warn",
        2 => "info",
        3 => "debug",
        _ => "trace",
    };
    // Our own crate at the chosen level; libraries stay at warn unless -vv.
    let others = if verbose >= 2 { level } else { "warn" };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{others},clipwatch={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Redacting(std::io::stderr()))
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if let Err(err) = result {
        eprintln!("clipwatch: logging not set up: {err}");
    }
}

/// A writer that redacts URL credentials from what it is given. The fmt
/// layer writes each event with one `write_all` of the whole line, so URLs
/// are never split across calls.
struct Redacting<W>(W);

impl<W: std::io::Write> std::io::Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) if text.contains("http") => {
                self.0
                    .write_all(crate::secret::redact_urls_in(text).as_bytes())?;
            }
            _ => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
