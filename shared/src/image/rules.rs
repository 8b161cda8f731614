//! The naming rules ECR and the distribution spec enforce, checked before a call fails.

/// ECR repository names: lowercase path components joined by `/`, 2-256 characters.
pub fn is_ecr_repository_name(name: &str) -> bool {
    (2..=256).contains(&name.len()) && name.split('/').all(is_name_component)
}

fn is_name_component(part: &str) -> bool {
    // [a-z0-9]+(?:[._-][a-z0-9]+)*
    let bytes = part.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let sep = |b: u8| matches!(b, b'.' | b'_' | b'-');
    !bytes.is_empty()
        && alnum(bytes[0])
        && alnum(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| alnum(b) || sep(b))
        && !bytes.windows(2).any(|w| sep(w[0]) && sep(w[1]))
}

/// Tags: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    (1..=128).contains(&bytes.len())
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `sha256:` with 64 lowercase hex digits, or `sha512:` with 128.
pub fn is_digest(digest: &str) -> bool {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match digest.split_once(':') {
        Some(("sha256", h)) => hex(h, 64),
        Some(("sha512", h)) => hex(h, 128),
        _ => false,
    }
}

/// A 12-digit AWS account id (an ECR registry id).
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Region names such as `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// A digest shortened for people to its first 12 digits: `sha256:1a2b3c4d5e6f`; anything
/// shorter or without an algorithm as it is.
pub fn short_digest(digest: &str) -> &str {
    match digest.split_once(':') {
        Some((algorithm, hex)) => match hex.char_indices().nth(12) {
            Some((end, _)) => &digest[..algorithm.len() + 1 + end],
            None => digest,
        },
        None => digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn repository_names() {
        for good in ["web", "team/web-app_v2.1", "a1", "a.b/c_d/e-f"] {
            assert!(is_ecr_repository_name(good), "{good}");
        }
        let long = "a".repeat(257);
        for bad in [
            "w", "Web", "web/", "/web", "web--app", "-web", "web.", "a//b", &long,
        ] {
            assert!(!is_ecr_repository_name(bad), "{bad}");
        }
    }

    #[test]
    fn tags() {
        let longest = "a".repeat(128);
        for good in ["v1.4.2", "sha-1a2b3c", "_x", "LATEST", &longest] {
            assert!(is_tag(good), "{good}");
        }
        let long = "a".repeat(129);
        for bad in ["", ".v1", "-v1", "v 1", "v1:2", "#{Build.TAG}", "é", &long] {
            assert!(!is_tag(bad), "{bad}");
        }
    }

    #[test]
    fn digests() {
        let sha512 = format!("sha512:{}", "a".repeat(128));
        assert!(is_digest(D) && is_digest(&sha512));
        for bad in [
            &D.to_uppercase(),
            "sha256:abc",
            "md5:00",
            "sha256",
            &D.replace('0', "g"),
        ] {
            assert!(!is_digest(bad), "{bad}");
        }
    }

    #[test]
    fn accounts_and_regions() {
        assert!(is_account_id("123456789012"));
        for bad in ["12345678901", "1234567890123", "12345678901x", ""] {
            assert!(!is_account_id(bad), "{bad}");
        }
        for good in ["us-east-1", "us-gov-west-1", "cn-north-1", "eu-central-2"] {
            assert!(is_region(good), "{good}");
        }
        for bad in ["useast1", "US-east-1", "us-east-x", "us--1", "use-east-1"] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn short_digests() {
        let rows = [
            (D, "sha256:0123456789ab"),
            ("sha256:abc", "sha256:abc"),
            ("odd", "odd"),
            ("sha256:ééééééééééééé", "sha256:éééééééééééé"),
        ];
        for (digest, short) in rows {
            assert_eq!(short_digest(digest), short, "{digest}");
        }
    }
}
