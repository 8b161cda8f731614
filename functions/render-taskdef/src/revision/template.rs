//! A user's own revision template: their `appspec.yml` and scripts, copied with the
//! placeholders `<IMAGE_URI>` and `<IMAGE_DIGEST>` filled and every other byte as it was.
//! A placeholder this action does not know is refused with its file and line.

use super::Files;
use crate::problem::Problem;

/// The pinned image, `registry/repository@sha256:...`.
pub const IMAGE_URI: &str = "<IMAGE_URI>";
/// The image digest, `sha256:...`.
pub const IMAGE_DIGEST: &str = "<IMAGE_DIGEST>";

/// The revision's files with the placeholders filled. `label` names the template's folder
/// in messages (`SourceArtifact/deploy`). Files that are not UTF-8 text are copied as they are.
pub fn fill(label: &str, files: Files, uri: &str, digest: &str) -> Result<Files, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut used = false;
    let mut out = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            out.push((path, bytes));
            continue;
        };
        for (line, unknown) in unknown_placeholders(text) {
            problems.push(Problem::new(
                format!("{label}/{path}:{line}"),
                format!("`{unknown}` is not a placeholder this action fills; use {IMAGE_URI} or {IMAGE_DIGEST}"),
            ));
        }
        if text.contains(IMAGE_URI) || text.contains(IMAGE_DIGEST) {
            used = true;
            let filled = text.replace(IMAGE_URI, uri).replace(IMAGE_DIGEST, digest);
            out.push((path, filled.into_bytes()));
        } else {
            out.push((path, bytes));
        }
    }
    if !used && problems.is_empty() {
        problems.push(Problem::new(
            label,
            format!("no file of the revision template holds {IMAGE_URI} or {IMAGE_DIGEST}, so the image this action pins would not be deployed; put {IMAGE_URI} where your scripts pull and run the image"),
        ));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// `<NAME_WITH_UNDERSCORE>` tokens other than the two known placeholders, with their line
/// numbers (from 1). Such uppercase names in angle brackets are placeholders by this
/// project's convention (`<IMAGE1_NAME>`, `<TASK_DEFINITION>`).
pub fn unknown_placeholders(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let len = after
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..len];
            let closed = after[len..].starts_with('>');
            if closed
                && name.contains('_')
                && name.starts_with(|c: char| c.is_ascii_uppercase())
                && name != &IMAGE_URI[1..IMAGE_URI.len() - 1]
                && name != &IMAGE_DIGEST[1..IMAGE_DIGEST.len() - 1]
            {
                out.push((i + 1, format!("<{name}>")));
            }
            rest = after;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "docker.io/acme/web@sha256:ab";

    fn files(list: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(p, b)| ((*p).to_owned(), b.to_vec()))
            .collect()
    }

    #[test]
    fn placeholders_filled_everything_else_untouched() {
        let script = b"#!/bin/bash\r\ndocker run -d --name web <IMAGE_URI>  # <b>bold</b>\r\necho \"<IMAGE_DIGEST>\"\n\n";
        let binary: &[u8] = &[
            0xff, 0x00, b'<', b'I', b'M', b'A', b'G', b'E', b'_', b'U', b'R', b'I', b'>',
        ];
        let out = fill(
            "Src/deploy",
            files(&[
                ("appspec.yml", b"version: 0.0\nos: linux\n"),
                ("scripts/start.sh", script),
                ("bin/tool", binary),
            ]),
            URI,
            "sha256:ab",
        )
        .unwrap();
        assert_eq!(out[0].1, b"version: 0.0\nos: linux\n");
        assert_eq!(
            out[1].1,
            b"#!/bin/bash\r\ndocker run -d --name web docker.io/acme/web@sha256:ab  # <b>bold</b>\r\necho \"sha256:ab\"\n\n"
        );
        assert_eq!(out[2].1, binary, "binary files are copied as they are");
    }

    #[test]
    fn unknown_placeholders_are_refused_with_file_and_line() {
        let e = fill(
            "Src/deploy",
            files(&[
                ("appspec.yml", b"version: 0.0\n"),
                (
                    "start.sh",
                    b"docker pull <IMAGE_URI>\ndocker tag <IMAGE_TAG> x <IMAGE1_NAME>\n",
                ),
            ]),
            URI,
            "sha256:ab",
        )
        .unwrap_err();
        let shown: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "Src/deploy/start.sh:2: `<IMAGE_TAG>` is not a placeholder this action fills; use <IMAGE_URI> or <IMAGE_DIGEST>",
                "Src/deploy/start.sh:2: `<IMAGE1_NAME>` is not a placeholder this action fills; use <IMAGE_URI> or <IMAGE_DIGEST>",
            ]
        );
    }

    #[test]
    fn a_template_without_placeholders_is_refused() {
        let e = fill(
            "Src",
            files(&[("appspec.yml", b"version: 0.0\n")]),
            URI,
            "sha256:ab",
        )
        .unwrap_err();
        assert!(
            e[0].to_string()
                .contains("no file of the revision template holds <IMAGE_URI>"),
            "{e:?}"
        );
    }

    #[test]
    fn what_counts_as_a_placeholder() {
        for (text, found) in [
            ("<NONE> <a_b> <HTML> <<EOF", vec![]),
            ("x <MY_VALUE>", vec![(1, "<MY_VALUE>".to_owned())]),
            ("<IMAGE_URI><IMAGE_DIGEST>", vec![]),
            (
                "a\n\n<_X>\n<TASK_DEFINITION>",
                vec![(4, "<TASK_DEFINITION>".to_owned())],
            ),
        ] {
            assert_eq!(unknown_placeholders(text), found, "{text}");
        }
    }
}
