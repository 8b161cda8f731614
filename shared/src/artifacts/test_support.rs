//! Zips for the artifact tests: built with the zip writer, or by hand where the writer
//! would refuse or would hold too much in memory.

use super::build_zip;
use std::io::{self, Cursor, Write};

/// A deflated zip of `(path, contents)` pairs.
pub fn build(files: &[(&str, &[u8])]) -> Vec<u8> {
    build_zip(files).unwrap()
}

/// A zip of `count` empty stored files named by `name`.
pub fn zip_of_empty(count: usize, name: impl Fn(usize) -> String) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..count {
        writer.start_file(name(i), stored).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// An end of central directory record, as `declared_entries` reads it.
pub fn eocd(entries: u16, directory_offset: u32) -> Vec<u8> {
    let mut record = 0x0605_4b50u32.to_le_bytes().to_vec();
    record.extend([0; 4]);
    record.extend(entries.to_le_bytes());
    record.extend(entries.to_le_bytes());
    record.extend(46u32.to_le_bytes());
    record.extend(directory_offset.to_le_bytes());
    record.extend([0; 2]);
    record
}

/// The process's peak resident memory in MiB, where the system tells it.
pub fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? / 1024)
}

/// Writes a zip of `count` empty stored files, a zip64 one past 65,535, without holding
/// its directory in memory as a zip writer would.
pub fn write_empty_entries(out: &mut impl Write, count: u32) -> io::Result<()> {
    let name = |i: u32| format!("f{i:07}");
    const LOCAL: u64 = 30 + 8;
    for i in 0..count {
        out.write_all(&0x0403_4b50u32.to_le_bytes())?;
        out.write_all(&[20, 0, 0, 0, 0, 0])?; // version, flags, stored
        out.write_all(&[0; 16])?; // time, date, CRC, sizes
        out.write_all(&[8, 0, 0, 0])?; // name and extra field lengths
        out.write_all(name(i).as_bytes())?;
    }
    let start = u64::from(count) * LOCAL;
    for i in 0..count {
        out.write_all(&0x0201_4b50u32.to_le_bytes())?;
        out.write_all(&[20, 0, 20, 0, 0, 0, 0, 0])?; // versions, flags, stored
        out.write_all(&[0; 16])?; // time, date, CRC, sizes
        out.write_all(&[8, 0])?; // name length
        out.write_all(&[0; 12])?; // extra, comment, disk, attributes
        out.write_all(&((u64::from(i) * LOCAL) as u32).to_le_bytes())?;
        out.write_all(name(i).as_bytes())?;
    }
    let size = u64::from(count) * (46 + 8);
    let zip64 = count > 0xFFFF;
    if zip64 {
        out.write_all(&0x0606_4b50u32.to_le_bytes())?;
        out.write_all(&44u64.to_le_bytes())?;
        out.write_all(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0])?; // versions, disks
        for n in [u64::from(count), u64::from(count), size, start] {
            out.write_all(&n.to_le_bytes())?;
        }
        out.write_all(&0x0706_4b50u32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&(start + size).to_le_bytes())?;
        out.write_all(&1u32.to_le_bytes())?;
    }
    let short = if zip64 { 0xFFFF } else { count as u16 };
    let mut end = eocd(short, start as u32);
    end[12..16].copy_from_slice(&(size as u32).to_le_bytes());
    out.write_all(&end)
}
