//! The entry count a zip declares in its end records, read before the zip reader is let
//! near the central directory.
//!
//! The zip reader holds the whole central directory in memory and trusts the count it
//! finds, so a hostile artifact of a million empty entries costs hundreds of megabytes
//! before any check can run. No crate offers the count alone: it is read here from the
//! file's last bytes, following the zip64 locator where the 16-bit count overflows.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

pub(super) const EOCD_SIGNATURE: u64 = 0x0605_4b50;
pub(super) const ZIP64_LOCATOR_SIGNATURE: u64 = 0x0706_4b50;
pub(super) const ZIP64_EOCD_SIGNATURE: u64 = 0x0606_4b50;
pub(super) const EOCD_LEN: usize = 22;
pub(super) const ZIP64_LOCATOR_LEN: usize = 20;
pub(super) const ZIP64_EOCD_LEN: usize = 56;
/// The end of a zip that holds its end records: the end of central directory record with
/// the longest comment, and the zip64 locator and record before it.
pub(super) const TAIL_LEN: usize =
    EOCD_LEN + u16::MAX as usize + ZIP64_LOCATOR_LEN + ZIP64_EOCD_LEN;

/// The entry count a zip file declares in its end records, or `None` if it has none.
pub(super) fn declared_entries_of(file: &mut File) -> io::Result<Option<u64>> {
    let len = file.seek(SeekFrom::End(0))?;
    let start = len.saturating_sub(TAIL_LEN as u64);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity(TAIL_LEN);
    file.take(TAIL_LEN as u64).read_to_end(&mut tail)?;
    Ok(declared_entries(&tail, start))
}

/// The entry count that a zip's end records declare, read from `tail`, the file's last
/// bytes, which begin at offset `tail_start`: that of the last end of central directory
/// record whose comment fits, or, when a zip64 locator precedes it, that of the zip64 record
/// the locator points to (the 16-bit count is 0xFFFF past 65,535 entries). `None` when there
/// is no end record.
pub(super) fn declared_entries(tail: &[u8], tail_start: u64) -> Option<u64> {
    let eocd = (0..tail.len().saturating_sub(EOCD_LEN - 1))
        .rev()
        .find(|&at| {
            le(tail, at, 4) == Some(EOCD_SIGNATURE)
                && le(tail, at + 20, 2)
                    .is_some_and(|comment| at + EOCD_LEN + comment as usize <= tail.len())
        })?;
    let entries = le(tail, eocd + 10, 2)?;
    let locator = eocd
        .checked_sub(ZIP64_LOCATOR_LEN)
        .filter(|&at| le(tail, at, 4) == Some(ZIP64_LOCATOR_SIGNATURE));
    let zip64 = locator.and_then(|at| {
        // Where the locator says, else right before it (an archive with data in front).
        let said = le(tail, at + 8, 8)?
            .checked_sub(tail_start)
            .and_then(|at| usize::try_from(at).ok());
        [said, at.checked_sub(ZIP64_EOCD_LEN)]
            .into_iter()
            .flatten()
            .find(|&record| le(tail, record, 4) == Some(ZIP64_EOCD_SIGNATURE))
            .and_then(|record| le(tail, record + 32, 8))
    });
    Some(zip64.unwrap_or(entries))
}

/// The little-endian number in `len` bytes at `at`, if they are there.
pub(super) fn le(bytes: &[u8], at: usize, len: usize) -> Option<u64> {
    let field = bytes.get(at..at.checked_add(len)?)?;
    Some(field.iter().rev().fold(0, |n, &b| n << 8 | u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::test_support::{build, eocd, zip_of_empty};
    use crate::artifacts::{ArtifactError, ArtifactZip, ZipLimits};
    use std::io::Cursor;
    use zip::write::SimpleFileOptions;

    #[test]
    fn the_end_record_declares_the_entry_count() {
        let zip = build(&[("a", b"1"), ("b/c", b"2"), ("d/", b"")]);
        assert_eq!(declared_entries(&zip, 0), Some(3));
        assert_eq!(declared_entries(&zip[10..], 10), Some(3));

        // The longest comment, and an end record inside it whose comment would not fit.
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer
            .start_file("a", SimpleFileOptions::default())
            .unwrap();
        let mut comment = eocd(50_000, 0);
        comment[20..22].copy_from_slice(&u16::MAX.to_le_bytes());
        comment.resize(u16::MAX as usize, b'x');
        writer.set_raw_comment(comment.into_boxed_slice()).unwrap();
        let zip = writer.finish().unwrap().into_inner();
        let tail_start = zip.len() - TAIL_LEN;
        assert_eq!(
            declared_entries(&zip[tail_start..], tail_start as u64),
            Some(1)
        );
        let limits = ZipLimits {
            max_entries: 1,
            ..ZipLimits::default()
        };
        assert_eq!(
            ArtifactZip::parse("Src", zip, limits).unwrap().find("a"),
            Some("a")
        );
    }

    #[test]
    fn zip64_end_records_are_followed() {
        // More than 65,535 entries: the 16-bit count says 0xFFFF, the zip64 record the truth.
        let zip = zip_of_empty(70_000, |i| format!("{i:x}"));
        let eocd_at = zip.len() - EOCD_LEN;
        assert_eq!(le(&zip, eocd_at + 10, 2), Some(0xFFFF));
        let tail_start = zip.len() - TAIL_LEN;
        assert_eq!(
            declared_entries(&zip[tail_start..], tail_start as u64),
            Some(70_000)
        );
        let e = ArtifactZip::parse("Src", zip.clone(), ZipLimits::default()).unwrap_err();
        assert!(e.to_string().contains("70000 entries"), "{e}");
        let limits = ZipLimits {
            max_entries: 70_000,
            ..ZipLimits::default()
        };
        assert_eq!(
            ArtifactZip::parse("Src", zip.clone(), limits)
                .unwrap()
                .paths()
                .count(),
            70_000
        );

        // Data in front: the locator's offset is off, the record sits right before it.
        let prefixed = [&[0u8; 100][..], &zip].concat();
        assert_eq!(declared_entries(&prefixed, 0), Some(70_000));

        // Forced zip64 (an extensible data sector) with the real count in both records.
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for name in ["a", "b"] {
            writer
                .start_file(name, SimpleFileOptions::default().large_file(true))
                .unwrap();
        }
        writer.set_raw_zip64_extensible_data_sector(vec![0; 8].into_boxed_slice());
        let zip = writer.finish().unwrap().into_inner();
        let locator_at = zip.len() - EOCD_LEN - ZIP64_LOCATOR_LEN;
        assert_eq!(le(&zip, locator_at, 4), Some(ZIP64_LOCATOR_SIGNATURE));
        assert_eq!(declared_entries(&zip, 0), Some(2));
        let z = ArtifactZip::parse("Src", zip, ZipLimits::default()).unwrap();
        assert_eq!(z.paths().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn a_truncated_or_garbage_tail_has_no_entry_count() {
        let zip = build(&[("a.json", b"{}")]);
        for bad in [
            &b""[..],
            b"PK\x05\x06",
            b"{\"not\": \"zip\"}",
            &zip[..zip.len() - 1],
            &zip[..zip.len() / 2],
        ] {
            assert_eq!(declared_entries(bad, 0), None, "{bad:?}");
            let e = ArtifactZip::parse("Src", bad.to_vec(), ZipLimits::default()).unwrap_err();
            assert!(matches!(e, ArtifactError::NotAZip { .. }), "{e}");
        }
        // A count of 0xFFFF with no zip64 records, and a locator pointing nowhere.
        assert_eq!(declared_entries(&eocd(0xFFFF, 0), 0), Some(0xFFFF));
        let mut locator = 0x0706_4b50u32.to_le_bytes().to_vec();
        locator.extend([0xEE; 16]);
        let tail = [locator, eocd(7, 0)].concat();
        assert_eq!(declared_entries(&tail, 0), Some(7));
    }
}
