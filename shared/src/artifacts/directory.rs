//! The central directory's entry names, read by hand for the one thing the zip reader
//! hides: entries that share a name. It keeps one of them (`has_duplicate_names` says only
//! that it happened), so the names are walked here to say which.

use super::end_record::le;
use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom};

const HEADER_SIGNATURE: u64 = 0x0201_4b50;
/// The fixed part of a central directory header; the name follows it.
const HEADER_LEN: usize = 46;

/// The first two entries, as stored, whose names are equal once `\` is read as `/`,
/// walking at most `count` headers from `start`. `None` when the walk finds none (or the
/// directory stops making sense: the zip reader has judged it already).
pub(super) fn first_shared_name<R: Read + Seek>(
    reader: &mut R,
    start: u64,
    count: u64,
) -> io::Result<Option<(String, String)>> {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut at = start;
    let mut header = [0u8; HEADER_LEN];
    for _ in 0..count {
        reader.seek(SeekFrom::Start(at))?;
        if reader.read_exact(&mut header).is_err() || le(&header, 0, 4) != Some(HEADER_SIGNATURE) {
            return Ok(None);
        }
        let field = |offset| le(&header, offset, 2).unwrap_or(0);
        let (name_len, extra_len, comment_len) = (field(28), field(30), field(32));
        let mut name = vec![0u8; name_len as usize];
        reader.read_exact(&mut name)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        if let Some(first) = seen.insert(name.replace('\\', "/"), name.clone()) {
            return Ok(Some((first, name)));
        }
        at += HEADER_LEN as u64 + name_len + extra_len + comment_len;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::test_support::build;
    use std::io::Cursor;

    fn directory_start(zip: &[u8]) -> u64 {
        zip::ZipArchive::new(Cursor::new(zip))
            .unwrap()
            .central_directory_start()
    }

    #[test]
    fn finds_the_first_shared_name() {
        let zip = build(&[("a", b"1"), ("b\\c", b"2"), ("d", b"3"), ("b/c", b"4")]);
        let start = directory_start(&zip);
        assert_eq!(
            first_shared_name(&mut Cursor::new(&zip), start, 4).unwrap(),
            Some(("b\\c".into(), "b/c".into()))
        );
        assert_eq!(
            first_shared_name(&mut Cursor::new(&zip), start, 3).unwrap(),
            None
        );
        // Not a directory where it was said to start.
        assert_eq!(
            first_shared_name(&mut Cursor::new(&zip), 1, 4).unwrap(),
            None
        );
    }
}
