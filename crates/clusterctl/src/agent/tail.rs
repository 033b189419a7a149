//! Following one output file as `tail -F` does: the file may not exist yet, may be truncated
//! (`> file`, FileStream's size rotation reopening it), or moved away and replaced
//! (TimedRotatingFileStream, logrotate): the rest of the old file is read through the open
//! descriptor before the new one is opened, so no line is lost in a rotation.
//!
//! Lines longer than [`MAX_LINE`] bytes are cut there and marked ([`CUT_MARK`]); the rest of such
//! a line is skipped up to its newline. Bytes that are not UTF-8 are written `\xNN`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The longest line kept, in bytes.
pub const MAX_LINE: usize = 16 * 1024;
/// Appended to a line that was cut at [`MAX_LINE`] bytes.
pub const CUT_MARK: &str = " [line cut at 16384 bytes]";
/// At start-up, at most this much of an existing file is read back as history.
const BACKLOG: u64 = 256 * 1024;
/// At most this much is read per poll, so one flooding file cannot starve the others.
const READ_CHUNK: usize = 1 << 20;

/// One followed file.
pub struct Tail {
    path: PathBuf,
    file: Option<File>,
    /// Device and inode of the open file: another one at `path` means it was replaced.
    id: (u64, u64),
    offset: u64,
    /// Bytes of a line whose newline has not come yet.
    partial: Vec<u8>,
    /// Inside a line that was already cut: bytes are skipped until its newline.
    skipping: bool,
    /// The first open reads only the end of a file that existed before the agent.
    first: bool,
}

impl Tail {
    /// Follows `path` (which may not exist yet).
    pub fn new(path: PathBuf) -> Self {
        Tail { path, file: None, id: (0, 0), offset: 0, partial: Vec::new(), skipping: false, first: true }
    }

    /// Follows `path` from its very start, whatever its size: a file made for a watcher the
    /// agent learns of late (a `run` job), where every line is wanted.
    pub fn from_start(path: PathBuf) -> Self {
        Tail { first: false, ..Tail::new(path) }
    }

    /// The followed path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Reads what was written since the last call and returns the complete lines.
    pub fn poll(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let current = std::fs::metadata(&self.path).ok();
        let replaced = current.as_ref().is_some_and(|meta| (meta.dev(), meta.ino()) != self.id);
        if self.file.is_some() {
            if replaced {
                // Whatever the old file still holds comes first (rotation, moved away).
                self.read_open(&mut lines);
                self.file = None;
            } else {
                // The size is from before this read: smaller than what was already read means
                // truncated in place (a file that grows while it is read is not).
                if current.as_ref().is_some_and(|meta| meta.len() < self.offset) {
                    self.offset = 0;
                    self.partial.clear();
                    self.skipping = false;
                    if let Some(file) = self.file.as_mut() {
                        let _ = file.seek(SeekFrom::Start(0));
                    }
                }
                self.read_open(&mut lines);
            }
        }
        if self.file.is_none() && current.is_some() {
            self.open(&mut lines);
        }
        self.first = false;
        lines
    }

    /// Opens the file at `path`; a file present at start-up is read from near its end.
    fn open(&mut self, lines: &mut Vec<String>) {
        let Ok(mut file) = File::open(&self.path) else { return };
        let Ok(meta) = file.metadata() else { return };
        self.id = (meta.dev(), meta.ino());
        self.offset = 0;
        self.partial.clear();
        self.skipping = false;
        if self.first && meta.len() > BACKLOG {
            self.offset = meta.len() - BACKLOG;
            let _ = file.seek(SeekFrom::Start(self.offset));
            // Somewhere inside a line: what precedes the next newline is no whole line.
            self.skipping = true;
        }
        self.file = Some(file);
        self.read_open(lines);
    }

    /// Reads the open file to its end (at most [`READ_CHUNK`] per call).
    fn read_open(&mut self, lines: &mut Vec<String>) {
        let Some(mut file) = self.file.take() else { return };
        let mut buffer = vec![0; 64 * 1024];
        let mut total = 0;
        while total < READ_CHUNK {
            match file.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    total += n;
                    self.offset += n as u64;
                    self.take(&buffer[..n], lines);
                }
            }
        }
        self.file = Some(file);
    }

    /// Splits `bytes` into lines, cutting and skipping as documented.
    fn take(&mut self, mut bytes: &[u8], lines: &mut Vec<String>) {
        while !bytes.is_empty() {
            let newline = bytes.iter().position(|b| *b == b'\n');
            let (chunk, rest, ended) = match newline {
                Some(at) => (&bytes[..at], &bytes[at + 1..], true),
                None => (bytes, &bytes[bytes.len()..], false),
            };
            bytes = rest;
            if !self.skipping {
                let room = MAX_LINE - self.partial.len();
                if chunk.len() > room {
                    self.partial.extend_from_slice(&chunk[..room]);
                    lines.push(format!("{}{CUT_MARK}", escape(&self.partial)));
                    self.partial.clear();
                    self.skipping = !ended;
                    continue;
                }
                self.partial.extend_from_slice(chunk);
                if ended {
                    let line = self.partial.strip_suffix(b"\r").unwrap_or(&self.partial);
                    lines.push(escape(line));
                    self.partial.clear();
                }
            } else if ended {
                self.skipping = false;
            }
        }
    }
}

/// `bytes` as text: valid UTF-8 as is, every other byte as `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "tail_tests.rs"]
mod tests;
