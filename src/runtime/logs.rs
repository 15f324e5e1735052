//! The container log: podman's `k8s-file` format, one line per output line
//! (`<RFC 3339 time> <stdout|stderr> <F|P> <text>`, `P` for a partial line
//! whose rest follows). Written by the monitor, read by `logs`.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use super::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Longest partial line kept back before it is written as a `P` entry.
const MAX_PENDING: usize = 16 * 1024;

/// Appends output to a log file, splitting it into timestamped lines.
pub struct LogWriter {
    file: std::fs::File,
    pending: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(path: &Path) -> Result<LogWriter> {
        let file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .into_parts()
            .0;
        Ok(LogWriter {
            file,
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Adds `bytes` of `stream`: complete lines are written at once.
    pub fn write(&mut self, stream: Stream, bytes: &[u8]) -> Result<()> {
        let mut out = Vec::new();
        let pending = &mut self.pending[stream as usize];
        pending.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(pos) = pending[start..].iter().position(|b| *b == b'\n') {
            entry(&mut out, stream, true, &pending[start..start + pos]);
            start += pos + 1;
        }
        pending.drain(..start);
        if pending.len() >= MAX_PENDING {
            entry(&mut out, stream, false, pending);
            pending.clear();
        }
        self.file.write_all(&out)?;
        Ok(())
    }

    /// The stream ended: a last line without a newline is written partial.
    pub fn finish(&mut self, stream: Stream) -> Result<()> {
        let pending = std::mem::take(&mut self.pending[stream as usize]);
        if !pending.is_empty() {
            let mut out = Vec::new();
            entry(&mut out, stream, false, &pending);
            self.file.write_all(&out)?;
        }
        Ok(())
    }
}

fn entry(out: &mut Vec<u8>, stream: Stream, full: bool, text: &[u8]) {
    let time = humantime::format_rfc3339_nanos(SystemTime::now());
    let tag = if full { "F" } else { "P" };
    let _ = write!(out, "{time} {} {tag} ", stream.as_str());
    out.extend_from_slice(text);
    out.push(b'\n');
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub time: &'a str,
    pub stream: Stream,
    /// The text, with its newline unless the line was partial.
    pub full: bool,
    pub text: &'a [u8],
}

/// Parses one log line (without its newline); `None` if malformed.
pub fn parse(line: &[u8]) -> Option<Entry<'_>> {
    let mut parts = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(parts.next()?).ok()?;
    let stream = match parts.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let full = match parts.next()? {
        b"F" => true,
        b"P" => false,
        _ => return None,
    };
    Some(Entry {
        time,
        stream,
        full,
        text: parts.next().unwrap_or_default(),
    })
}

/// What `logs` shows.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Only the last N lines.
    pub tail: Option<usize>,
    /// Only entries at or after this time.
    pub since: Option<SystemTime>,
    /// Prefix every line with its time.
    pub timestamps: bool,
}

/// `--since`: an RFC 3339 time, Unix seconds, or a duration before `now`
/// (`10m`, `1h30m`, `45s`).
pub fn parse_since(value: &str, now: SystemTime) -> Option<SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(value) {
        return Some(t);
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs));
    }
    humantime::parse_duration(value)
        .ok()
        .and_then(|d| now.checked_sub(d))
}

/// Renders the entries of `log` that `query` selects, in order, as
/// (stream, bytes) chunks.
pub fn select(log: &[u8], query: &LogQuery) -> Vec<(Stream, Vec<u8>)> {
    let entries: Vec<Entry> = log
        .split(|b| *b == b'\n')
        .filter_map(parse)
        .filter(|e| {
            query
                .since
                .is_none_or(|since| humantime::parse_rfc3339(e.time).is_ok_and(|t| t >= since))
        })
        .collect();
    // --tail counts whole lines: a full entry ends one.
    let skip = match query.tail {
        Some(n) => {
            let mut lines = 0;
            let mut start = entries.len();
            for (i, e) in entries.iter().enumerate().rev() {
                if e.full {
                    if lines == n {
                        break;
                    }
                    lines += 1;
                }
                start = i;
            }
            if n == 0 {
                entries.len()
            } else {
                start
            }
        }
        None => 0,
    };
    let mut out = Vec::new();
    let mut at_line_start = [true, true];
    for e in &entries[skip..] {
        let mut bytes = Vec::new();
        if query.timestamps && at_line_start[e.stream as usize] {
            bytes.extend_from_slice(e.time.as_bytes());
            bytes.push(b' ');
        }
        bytes.extend_from_slice(e.text);
        if e.full {
            bytes.push(b'\n');
        }
        at_line_start[e.stream as usize] = e.full;
        out.push((e.stream, bytes));
    }
    out
}

/// Shows the log at `log` as `query` selects, through `emit`. With `follow`,
/// keeps showing new lines until the container's owner lets go of `lock`.
pub fn show(
    log: &Path,
    lock: &Path,
    query: &LogQuery,
    follow: bool,
    mut emit: impl FnMut(Stream, &[u8]),
) -> Result<()> {
    // A container that never ran detached has no log.
    let bytes = std::fs::read(log).unwrap_or_default();
    let end = complete_lines(&bytes);
    for (stream, chunk) in select(&bytes[..end], query) {
        emit(stream, &chunk);
    }
    if !follow {
        return Ok(());
    }
    let query = LogQuery {
        tail: None,
        ..query.clone()
    };
    let mut offset = end as u64;
    loop {
        // Looked at before reading, so the last lines are read after the end.
        let running = crate::store::lock::Lock::is_held(lock);
        if let Ok(mut file) = std::fs::File::open(log) {
            use std::io::{Read, Seek};
            let mut new = Vec::new();
            file.seek(std::io::SeekFrom::Start(offset))?;
            file.read_to_end(&mut new)?;
            let end = complete_lines(&new);
            for (stream, chunk) in select(&new[..end], &query) {
                emit(stream, &chunk);
            }
            offset += end as u64;
        }
        if !running {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The length of the part of `bytes` made of whole lines.
fn complete_lines(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|p| p + 1)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_log(chunks: &[(Stream, &str)]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut w = LogWriter::open(&path).unwrap();
        for (s, text) in chunks {
            w.write(*s, text.as_bytes()).unwrap();
        }
        w.finish(Stream::Stdout).unwrap();
        w.finish(Stream::Stderr).unwrap();
        std::fs::read(&path).unwrap()
    }

    fn text(chunks: &[(Stream, Vec<u8>)]) -> String {
        chunks
            .iter()
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    #[test]
    fn lines_split_across_writes_come_back_whole() {
        let log = write_log(&[
            (Stream::Stdout, "one\ntw"),
            (Stream::Stderr, "err\n"),
            (Stream::Stdout, "o\nthree"),
        ]);
        let lines: Vec<&[u8]> = log
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), 4);
        let e = parse(lines[0]).unwrap();
        assert_eq!(
            (e.stream, e.full, e.text),
            (Stream::Stdout, true, &b"one"[..])
        );
        assert!(e.time.ends_with('Z'));
        let all = select(&log, &LogQuery::default());
        assert_eq!(text(&all), "one\nerr\ntwo\nthree");
        assert_eq!(all[1].0, Stream::Stderr);
    }

    #[test]
    fn tail_counts_lines() {
        let log = write_log(&[(Stream::Stdout, "a\nb\nc\n")]);
        let q = |n| LogQuery {
            tail: Some(n),
            ..Default::default()
        };
        assert_eq!(text(&select(&log, &q(2))), "b\nc\n");
        assert_eq!(text(&select(&log, &q(0))), "");
        assert_eq!(text(&select(&log, &q(10))), "a\nb\nc\n");
    }

    #[test]
    fn timestamps_prefix_each_line() {
        let log = write_log(&[(Stream::Stdout, "a\n")]);
        let out = select(
            &log,
            &LogQuery {
                timestamps: true,
                ..Default::default()
            },
        );
        let line = String::from_utf8(out[0].1.clone()).unwrap();
        let (time, rest) = line.split_once(' ').unwrap();
        assert!(humantime::parse_rfc3339(time).is_ok(), "{line}");
        assert_eq!(rest, "a\n");
    }

    #[test]
    fn since_accepts_times_and_durations() {
        let now = SystemTime::now();
        let ten_min = parse_since("10m", now).unwrap();
        assert_eq!(now.duration_since(ten_min).unwrap().as_secs(), 600);
        assert!(parse_since("2024-01-02T03:04:05Z", now).is_some());
        assert_eq!(
            parse_since("1700000000", now).unwrap(),
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)
        );
        let log = write_log(&[(Stream::Stdout, "a\n")]);
        let future = LogQuery {
            since: Some(now + std::time::Duration::from_secs(60)),
            ..Default::default()
        };
        assert!(select(&log, &future).is_empty());
    }
}
