//! Content digests: `sha256:<hex>` of bytes, whole or streamed.

/// `sha256:<64 hex digits>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let mut hasher = Hasher::new();
    hasher.update(bytes);
    hasher.finish()
}

/// A digest computed over chunks as they stream past.
pub struct Hasher(ring::digest::Context);

impl Hasher {
    pub fn new() -> Self {
        Hasher(ring::digest::Context::new(&ring::digest::SHA256))
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> String {
        let digest = self.0.finish();
        let mut out = String::with_capacity(71);
        out.push_str("sha256:");
        for b in digest.as_ref() {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn digests_as_registries_do() {
        assert_eq!(
            super::sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
