//! A downloaded artifact's zip, checked before anything is extracted, and its files read
//! on demand.

use super::budget::{Budget, BudgetSpent, directory_budget};
use super::directory::first_shared_name;
use super::end_record::declared_entries_of;
use super::{ArtifactError, ZipLimits, storage};
use crate::json::{self, JsonError};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufReader, Cursor, Read, Write};
use tempfile::NamedTempFile;

/// Builds a deflated zip from `(path, contents)` pairs.
pub fn build_zip(files: &[(&str, &[u8])]) -> zip::result::ZipResult<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for (path, contents) in files {
        writer.start_file(*path, options)?;
        writer.write_all(contents)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// An input artifact's zip, checked: entry count, declared sizes, compression ratios,
/// paths, and names that occur once. It is kept in the temporary directory until dropped;
/// files are inflated only when asked for, with the size limit enforced on the bytes
/// actually produced.
pub struct ArtifactZip {
    name: String,
    pub(super) zip: NamedTempFile,
    files: Vec<Entry>,
    limits: ZipLimits,
}

/// A file in the zip: found and listed by its path with `\` read as `/` (as some Windows
/// tools write them), read by its name as stored.
struct Entry {
    path: String,
    stored: String,
    /// The uncompressed size its directory entry declares.
    declared: u64,
}

impl std::fmt::Debug for ArtifactZip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactZip")
            .field("name", &self.name)
            .field("paths", &self.paths().collect::<Vec<_>>())
            .finish()
    }
}

impl ArtifactZip {
    /// Checks a zip held in memory. It is written to the temporary directory, as a
    /// downloaded artifact is.
    pub fn parse(name: &str, bytes: Vec<u8>, limits: ZipLimits) -> Result<Self, ArtifactError> {
        let mut temp = super::transport::temp_file().map_err(|e| storage(name, &e))?;
        temp.write_all(&bytes).map_err(|e| storage(name, &e))?;
        drop(bytes);
        Self::open(name, temp, limits)
    }

    /// Checks the zip in `zip`, which is removed when the result (or the error) is dropped.
    pub(super) fn open(
        name: &str,
        zip: NamedTempFile,
        limits: ZipLimits,
    ) -> Result<Self, ArtifactError> {
        let not_a_zip = |detail: String| ArtifactError::NotAZip {
            name: name.to_owned(),
            detail,
        };
        let hostile = |reason: String| ArtifactError::Hostile {
            name: name.to_owned(),
            reason,
        };
        let too_many = |entries| {
            hostile(format!(
                "it has {entries} entries, more than the {} allowed",
                limits.max_entries
            ))
        };
        let mut file = zip.reopen().map_err(|e| storage(name, &e))?;
        // The zip reader holds the whole central directory in memory: its size is checked
        // on the end record first.
        let declared = declared_entries_of(&mut file)
            .map_err(|e| storage(name, &e))?
            .ok_or_else(|| not_a_zip("it has no end of central directory record".to_owned()))?;
        if declared > limits.max_entries as u64 {
            return Err(too_many(declared));
        }
        let budget = directory_budget(&limits);
        let reader = Budget {
            inner: BufReader::new(file),
            left: budget,
        };
        let archive = zip::ZipArchive::new(reader).map_err(|e| {
            if BudgetSpent::caused(&e) {
                hostile(format!(
                    "its central directory takes more than the {budget} bytes allowed for {} entries",
                    limits.max_entries
                ))
            } else {
                not_a_zip(e.to_string())
            }
        })?;
        if archive.len() > limits.max_entries {
            return Err(too_many(archive.len() as u64));
        }
        // The reader keeps one of the entries that share a name: say which name it was.
        if archive.has_duplicate_names() {
            let mut reader = Budget {
                inner: BufReader::new(zip.reopen().map_err(|e| storage(name, &e))?),
                left: budget,
            };
            let start = archive.central_directory_start();
            let (first, second) = first_shared_name(&mut reader, start, declared)
                .ok()
                .flatten()
                .unwrap_or_else(|| ("?".to_owned(), "?".to_owned()));
            return Err(hostile(duplicate(&first, &second)));
        }
        let mut total: u64 = 0;
        let mut files = Vec::with_capacity(archive.len());
        let mut seen: HashMap<String, String> = HashMap::with_capacity(archive.len());
        for i in 0..archive.len() {
            let entry = archive
                .by_index_data(i)
                .map_err(|e| not_a_zip(e.to_string()))?;
            let stored = entry
                .name()
                .map_err(|e| not_a_zip(format!("an entry name is unreadable: {e}")))?
                .into_owned();
            if let Some(reason) = unsafe_path(&stored) {
                return Err(hostile(format!("entry `{stored}` {reason}")));
            }
            let path = stored.replace('\\', "/");
            if let Some(first) = seen.insert(path.clone(), stored.clone()) {
                return Err(hostile(duplicate(&first, &stored)));
            }
            let size = entry.size();
            total = total.saturating_add(size);
            if total > limits.max_total_uncompressed {
                return Err(hostile(format!(
                    "its entries declare more than {} bytes uncompressed (a zip bomb?)",
                    limits.max_total_uncompressed
                )));
            }
            if size > (1 << 20) && size / entry.compressed_size().max(1) > limits.max_ratio {
                return Err(hostile(format!(
                    "entry `{stored}` inflates {size} bytes from {} (more than {}:1, a zip bomb?)",
                    entry.compressed_size(),
                    limits.max_ratio
                )));
            }
            if !entry.is_dir() {
                files.push(Entry {
                    path,
                    stored,
                    declared: size,
                });
            }
        }
        Ok(Self {
            name: name.to_owned(),
            zip,
            files,
            limits,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|f| f.path.as_str())
    }

    /// Finds a file by exact path, else by a unique file name anywhere in the zip.
    pub fn find(&self, name_or_path: &str) -> Option<&str> {
        self.locate(name_or_path).ok().map(|f| f.path.as_str())
    }

    fn locate(&self, wanted: &str) -> Result<&Entry, ArtifactError> {
        let normalized = wanted.replace('\\', "/");
        let wanted_path = normalized.trim_start_matches("./").trim_start_matches('/');
        if let Some(f) = self.files.iter().find(|f| f.path == wanted_path) {
            return Ok(f);
        }
        let base = wanted_path.rsplit('/').next().unwrap_or(wanted_path);
        let matches: Vec<&Entry> = self
            .files
            .iter()
            .filter(|f| !wanted_path.contains('/') && f.path.rsplit('/').next() == Some(base))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(ArtifactError::MissingFile {
                artifact: self.name.clone(),
                file: wanted.to_owned(),
                contents: self.contents_summary(),
            }),
            many => Err(ArtifactError::Ambiguous {
                artifact: self.name.clone(),
                file: wanted.to_owned(),
                matches: many
                    .iter()
                    .map(|f| f.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn contents_summary(&self) -> String {
        const SHOWN: usize = 20;
        if self.files.is_empty() {
            return "nothing (the zip is empty)".to_owned();
        }
        let mut out = self.paths().take(SHOWN).collect::<Vec<_>>().join(", ");
        if self.files.len() > SHOWN {
            out.push_str(&format!(" and {} more", self.files.len() - SHOWN));
        }
        out
    }

    /// The contents of a file, found as [`ArtifactZip::find`] does.
    pub fn file(&self, name_or_path: &str) -> Result<Vec<u8>, ArtifactError> {
        let found = self.locate(name_or_path)?;
        let limit = self.limits.max_file_bytes;
        let out = self.inflate(found, limit)?;
        if out.len() as u64 > limit {
            return Err(self.bad(found, format!("it is larger than {limit} bytes")));
        }
        Ok(out)
    }

    /// A JSON file, found as [`ArtifactZip::find`] does, parsed within the limits'
    /// [`JsonLimits`](crate::json::JsonLimits) and with duplicate keys refused. No more than
    /// the size limit is ever inflated.
    pub fn json(&self, name_or_path: &str) -> Result<Value, ArtifactError> {
        let found = self.locate(name_or_path)?;
        let limits = &self.limits.json;
        let cap = limits.max_bytes.min(self.limits.max_file_bytes);
        let bytes = self.inflate(found, cap)?;
        let refused = |source| ArtifactError::Json {
            artifact: self.name.clone(),
            file: found.path.clone(),
            source,
        };
        if bytes.len() as u64 > cap {
            return Err(refused(JsonError::TooLarge {
                size: found.declared.max(bytes.len() as u64),
                limit: cap,
            }));
        }
        json::parse(&bytes, limits).map_err(refused)
    }

    /// Up to `limit + 1` bytes of an entry: one more than allowed says it is too large.
    fn inflate(&self, found: &Entry, limit: u64) -> Result<Vec<u8>, ArtifactError> {
        let file = self.zip.reopen().map_err(|e| storage(&self.name, &e))?;
        // The bytes `open` checked, read the same way again: no budget needed.
        let mut archive = zip::ZipArchive::new(BufReader::new(file))
            .map_err(|e| self.bad(found, e.to_string()))?;
        let entry = archive
            .by_name(&found.stored)
            .map_err(|e| self.bad(found, e.to_string()))?;
        let mut out = Vec::new();
        entry
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| self.bad(found, e.to_string()))?;
        Ok(out)
    }

    fn bad(&self, found: &Entry, detail: String) -> ArtifactError {
        ArtifactError::BadFile {
            artifact: self.name.clone(),
            file: found.path.clone(),
            detail,
        }
    }
}

/// Why two entries that name the same file are refused: a reader would pick one silently.
fn duplicate(first: &str, second: &str) -> String {
    let names = if first == second {
        format!("two entries named `{first}`")
    } else {
        format!("entries `{first}` and `{second}`, the same path once `\\` is read as `/`")
    };
    format!(
        "it has {names}; which one is read would be left to chance. Build the artifact with each file once"
    )
}

/// Why a zip entry path is refused, if it is.
fn unsafe_path(path: &str) -> Option<&'static str> {
    let normalized = path.replace('\\', "/");
    if normalized.starts_with('/') || normalized.as_bytes().get(1) == Some(&b':') {
        return Some("has an absolute path");
    }
    if normalized.split('/').any(|part| part == "..") {
        return Some("climbs out of the artifact with `..`");
    }
    if normalized.contains('\0') {
        return Some("has a NUL byte in its name");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::end_record::{TAIL_LEN, declared_entries};
    use crate::artifacts::test_support::{build, eocd, write_empty_entries, zip_of_empty};
    use crate::error::{Failure, FailureType};

    #[test]
    fn finds_by_path_and_by_unique_name() {
        let z = ArtifactZip::parse(
            "Src",
            build(&[("deploy/taskdef.json", b"{}"), ("README.md", b"hi")]),
            ZipLimits::default(),
        )
        .unwrap();
        assert_eq!(z.find("deploy/taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.find("./deploy/taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.find("taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.file("README.md").unwrap(), b"hi");
        assert_eq!(z.find("other/taskdef.json"), None);
    }

    #[test]
    fn missing_file_names_artifact_file_and_contents() {
        let z =
            ArtifactZip::parse("Src", build(&[("a.json", b"1")]), ZipLimits::default()).unwrap();
        let e = z.file("taskdef.json").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("`Src`") && text.contains("`taskdef.json`") && text.contains("a.json")
        );
        assert_eq!(e.failure_type(), FailureType::ConfigurationError);
    }

    #[test]
    fn ambiguous_name_asks_for_the_path() {
        let z = ArtifactZip::parse(
            "Src",
            build(&[("a/taskdef.json", b"1"), ("b/taskdef.json", b"2")]),
            ZipLimits::default(),
        )
        .unwrap();
        assert!(matches!(
            z.file("taskdef.json"),
            Err(ArtifactError::Ambiguous { .. })
        ));
        assert_eq!(z.file("b/taskdef.json").unwrap(), b"2");
    }

    #[test]
    fn refuses_parent_and_absolute_paths() {
        for bad in [
            "../evil.json",
            "a/../../evil",
            "/etc/passwd",
            "..\\x",
            "C:/x",
        ] {
            let e =
                ArtifactZip::parse("Src", build(&[(bad, b"x")]), ZipLimits::default()).unwrap_err();
            assert!(matches!(e, ArtifactError::Hostile { .. }), "{bad}: {e}");
            assert_eq!(e.failure_type(), FailureType::ConfigurationError);
        }
    }

    #[test]
    fn refuses_a_high_ratio_entry() {
        let zeros = vec![0u8; 4 << 20];
        let e = ArtifactZip::parse("Src", build(&[("bomb", &zeros)]), ZipLimits::default())
            .unwrap_err();
        assert!(e.to_string().contains("zip bomb"), "{e}");
    }

    #[test]
    fn refuses_too_many_entries_and_too_much_declared() {
        let names: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let limits = ZipLimits {
            max_entries: 10,
            ..ZipLimits::default()
        };
        assert!(matches!(
            ArtifactZip::parse("Src", build(&files), limits),
            Err(ArtifactError::Hostile { .. })
        ));
        let limits = ZipLimits {
            max_total_uncompressed: 10,
            ..ZipLimits::default()
        };
        assert!(matches!(
            ArtifactZip::parse("Src", build(&files), limits),
            Err(ArtifactError::Hostile { .. })
        ));
    }

    #[test]
    fn file_limit_holds_on_inflated_bytes() {
        let z = ArtifactZip::parse(
            "Src",
            build(&[("big", &[7u8; 4096])]),
            ZipLimits {
                max_file_bytes: 100,
                ..ZipLimits::default()
            },
        )
        .unwrap();
        assert!(matches!(z.file("big"), Err(ArtifactError::BadFile { .. })));
    }

    #[test]
    fn not_a_zip_is_a_configuration_error() {
        let e = ArtifactZip::parse("Src", b"{\"not\": \"zip\"}".to_vec(), ZipLimits::default())
            .unwrap_err();
        assert!(matches!(e, ArtifactError::NotAZip { .. }));
        assert_eq!(e.failure_type(), FailureType::ConfigurationError);
    }

    #[test]
    fn too_many_entries_are_refused_before_the_directory_is_read() {
        let mut zip = zip_of_empty(20, |i| format!("f{i}"));
        // Break the central directory: reading it would now fail.
        let directory = zip.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        zip[directory] = 0;
        let e = ArtifactZip::parse("Src", zip.clone(), ZipLimits::default()).unwrap_err();
        assert!(matches!(e, ArtifactError::NotAZip { .. }), "{e}");
        let limits = ZipLimits {
            max_entries: 10,
            ..ZipLimits::default()
        };
        let e = ArtifactZip::parse("Src", zip, limits).unwrap_err();
        assert!(matches!(e, ArtifactError::Hostile { .. }), "{e}");
        assert!(
            e.to_string()
                .contains("20 entries, more than the 10 allowed"),
            "{e}"
        );
    }

    #[test]
    fn an_end_record_that_hides_a_larger_directory_is_refused() {
        // A bogus last end record: the zip reader rejects it and falls back to the real one,
        // whose count was never checked.
        let mut zip = zip_of_empty(8_000, |i| format!("a/rather/long/directory/name/{i}.json"));
        zip.extend(eocd(1, u32::MAX - 1));
        let tail_start = zip.len() - TAIL_LEN;
        assert_eq!(
            declared_entries(&zip[tail_start..], tail_start as u64),
            Some(1)
        );
        let limits = ZipLimits {
            max_entries: 10,
            ..ZipLimits::default()
        };
        let e = ArtifactZip::parse("Src", zip, limits).unwrap_err();
        assert!(matches!(e, ArtifactError::Hostile { .. }), "{e}");
        assert!(
            e.to_string().contains("central directory takes more than"),
            "{e}"
        );
    }

    #[test]
    fn backslash_paths_are_found_listed_and_read() {
        let zip = build(&[("deploy\\taskdef.json", b"{}"), ("README.md", b"hi")]);
        let stored = b"deploy\\taskdef.json";
        assert!(zip.windows(stored.len()).any(|w| w == stored));
        let z = ArtifactZip::parse("Src", zip, ZipLimits::default()).unwrap();
        assert_eq!(
            z.paths().collect::<Vec<_>>(),
            ["deploy/taskdef.json", "README.md"]
        );
        assert_eq!(z.find("taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.find("deploy/taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.find("deploy\\taskdef.json"), Some("deploy/taskdef.json"));
        assert_eq!(z.file("deploy/taskdef.json").unwrap(), b"{}");
        assert_eq!(z.file("taskdef.json").unwrap(), b"{}");
    }

    #[test]
    fn the_hand_written_zip_is_a_zip() {
        for count in [3, 70_000] {
            let mut zip = Vec::new();
            write_empty_entries(&mut zip, count).unwrap();
            let limits = ZipLimits {
                max_entries: 70_000,
                ..ZipLimits::default()
            };
            let z = ArtifactZip::parse("Src", zip, limits).unwrap();
            assert_eq!(z.paths().count(), count as usize);
            assert_eq!(z.file("f0000002").unwrap(), b"");
        }
    }

    /// A zip whose entries `x1` and `x2` are both renamed `x1`, as the writer would refuse.
    fn twice_named(first: &[u8], second: &[u8]) -> Vec<u8> {
        let zip = build(&[("deploy/x1", first), ("deploy/x2", second)]);
        let mut out = Vec::with_capacity(zip.len());
        let mut i = 0;
        while i < zip.len() {
            if zip[i..].starts_with(b"deploy/x2") {
                out.extend(b"deploy/x1");
                i += 9;
            } else {
                out.push(zip[i]);
                i += 1;
            }
        }
        out
    }

    #[test]
    fn two_entries_with_one_name_are_refused() {
        let e =
            ArtifactZip::parse("Src", twice_named(b"{}", b"[]"), ZipLimits::default()).unwrap_err();
        assert!(matches!(e, ArtifactError::Hostile { .. }), "{e}");
        assert_eq!(e.failure_type(), FailureType::ConfigurationError);
        assert!(
            e.to_string()
                .contains("`Src` was refused: it has two entries named `deploy/x1`"),
            "{e}"
        );
        let e = ArtifactZip::parse(
            "Src",
            build(&[
                ("deploy\\taskdef.json", b"{}"),
                ("deploy/taskdef.json", b"[]"),
            ]),
            ZipLimits::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains(
                "entries `deploy\\taskdef.json` and `deploy/taskdef.json`, the same path once `\\` is read as `/`"
            ),
            "{e}"
        );
    }

    #[test]
    fn json_files_are_parsed_within_the_limits() {
        let limits = ZipLimits {
            json: crate::json::JsonLimits {
                max_bytes: 64,
                max_nodes: 10,
                max_depth: 4,
            },
            ..ZipLimits::default()
        };
        let numbers = format!("[{}1]", "1,".repeat(20));
        let z = ArtifactZip::parse(
            "Src",
            build(&[
                ("deploy/taskdef.json", b"\xef\xbb\xbf{\"family\": \"web\"}"),
                ("big.json", &[b' '; 100]),
                ("many.json", numbers.as_bytes()),
                (
                    "twice.json",
                    br#"{"containerDefinitions": [{"image": "a", "image": "b"}]}"#,
                ),
                ("bad.json", b"{"),
            ]),
            limits,
        )
        .unwrap();
        assert_eq!(z.json("taskdef.json").unwrap()["family"], "web");
        let refused = |file: &str| match z.json(file).unwrap_err() {
            ArtifactError::Json {
                artifact,
                file,
                source,
            } => {
                assert_eq!(artifact, "Src");
                (file, source)
            }
            other => panic!("{other}"),
        };
        assert_eq!(
            refused("big.json"),
            (
                "big.json".into(),
                JsonError::TooLarge {
                    size: 100,
                    limit: 64
                }
            )
        );
        assert!(matches!(
            refused("many.json").1,
            JsonError::TooManyNodes { limit: 10, .. }
        ));
        assert_eq!(
            refused("twice.json").1.duplicate_path().as_deref(),
            Some("containerDefinitions[0].image")
        );
        assert!(refused("bad.json").1.is_syntax());
        let e = z.json("twice.json").unwrap_err();
        assert_eq!(e.failure_type(), FailureType::ConfigurationError);
        assert!(
            e.to_string().starts_with(
                "`twice.json` in input artifact `Src` has the key `image` twice in `containerDefinitions[0]`"
            ),
            "{e}"
        );
        assert!(matches!(
            z.json("nope.json"),
            Err(ArtifactError::MissingFile { .. })
        ));
    }
}
