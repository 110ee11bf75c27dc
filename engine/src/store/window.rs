//! Reading a file in bounded windows: the replay of a segment and the reading of a hint
//! never allocate more than a window (or the one field asked for), whatever lengths the
//! file claims.

use crate::io::File;

/// Bytes read at a time.
pub(super) const WINDOW: usize = 1 << 20;

/// A file's bytes, read in bounded windows.
pub(super) struct Window<'f, F> {
    file: &'f F,
    pub len: u64,
    start: u64,
    bytes: Vec<u8>,
}

impl<'f, F: File> Window<'f, F> {
    pub(super) fn new(file: &'f F, len: u64) -> Self {
        Window { file, len, start: 0, bytes: Vec::new() }
    }

    /// Bytes `at .. at + n`, or `None` when the file ends first.
    pub(super) fn get(&mut self, at: u64, n: usize) -> std::io::Result<Option<&[u8]>> {
        let Some(end) = at.checked_add(n as u64).filter(|&end| end <= self.len) else {
            return Ok(None);
        };
        if at < self.start || end > self.start + self.bytes.len() as u64 {
            let size = (self.len - at).min(n.max(WINDOW) as u64) as usize;
            self.bytes.clear();
            self.bytes.resize(size, 0);
            self.file.read_at(at, &mut self.bytes)?;
            self.start = at;
        }
        let from = (at - self.start) as usize;
        Ok(Some(&self.bytes[from..from + n]))
    }

    /// The `n` bytes at `*at`, moving `*at` past them; `None` when the file ends first.
    pub(super) fn take(&mut self, at: &mut u64, n: usize) -> std::io::Result<Option<&[u8]>> {
        let start = *at;
        if start.checked_add(n as u64).is_some_and(|end| end <= self.len) {
            *at += n as u64;
        }
        self.get(start, n)
    }

    /// CRC32C of bytes `at .. at + n`, read in pieces; `None` when the file ends first.
    pub(super) fn crc(&mut self, at: u64, n: u64) -> std::io::Result<Option<u32>> {
        let mut crc = 0;
        let mut done = 0;
        while done < n {
            let piece = (n - done).min(WINDOW as u64) as usize;
            let Some(bytes) = self.get(at + done, piece)? else { return Ok(None) };
            crc = crc32c::crc32c_append(crc, bytes);
            done += piece as u64;
        }
        Ok(Some(crc))
    }

    /// Whether every byte from `at` on is zero.
    pub(super) fn zeros_from(&mut self, mut at: u64) -> std::io::Result<bool> {
        while at < self.len {
            let piece = (self.len - at).min(WINDOW as u64) as usize;
            let bytes = self.get(at, piece)?.expect("inside the file");
            if bytes.iter().any(|&b| b != 0) {
                return Ok(false);
            }
            at += piece as u64;
        }
        Ok(true)
    }
}
