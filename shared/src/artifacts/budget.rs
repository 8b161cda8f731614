//! The read budget: how many bytes the zip reader may read while it parses the central
//! directory, so that its memory is bounded by what the entry limit allows.

use super::ZipLimits;
use super::end_record::TAIL_LEN;
use std::io::{self, Read, Seek, SeekFrom};

/// Central directory bytes allowed for each entry. The zip reader's memory follows the bytes
/// it reads, which the entry count alone does not bound: names, extra fields and comments
/// take up to 64 KiB each, and a bogus last end record makes it fall back to an earlier one
/// whose count was never checked.
const DIRECTORY_BYTES_PER_ENTRY: u64 = 512;

/// What the zip reader may read to find the end records (it reads the tail more than once)
/// and parse the central directory.
pub(super) fn directory_budget(limits: &ZipLimits) -> u64 {
    4 * TAIL_LEN as u64 + limits.max_entries as u64 * DIRECTORY_BYTES_PER_ENTRY
}

/// A reader that fails with [`BudgetSpent`] once it has given `left` more bytes.
pub(super) struct Budget<R> {
    pub(super) inner: R,
    pub(super) left: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("read budget spent")]
pub(super) struct BudgetSpent;

impl BudgetSpent {
    pub(super) fn caused(e: &zip::result::ZipError) -> bool {
        matches!(e, zip::result::ZipError::Io(io) if io.get_ref().is_some_and(|e| e.is::<Self>()))
    }
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 && !buf.is_empty() {
            return Err(io::Error::other(BudgetSpent));
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Budget<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}
