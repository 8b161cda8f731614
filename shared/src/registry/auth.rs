//! Authentication as registries do it: anonymous first; on `401` the `WWW-Authenticate`
//! challenge says how. `Basic` sends the credentials with every request; `Bearer` (Docker
//! Hub's flow) asks the challenge's `realm` for a token for `service` and the needed
//! `scope`s, with the credentials as Basic auth or anonymously, and keeps it per scope
//! until shortly before it expires.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

use base64::Engine;

/// A registry user name and password (or access token). Its `Debug` hides the password,
/// and creating it registers the password with the log scrubber.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    password: String,
    /// The Secrets Manager secret they came from, named in errors.
    pub secret: Option<String>,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        let password = password.into();
        crate::logging::register_secrets([password.as_str()]);
        Credentials {
            username: username.into(),
            password,
            secret: None,
        }
    }

    /// Names the secret they were read from (for messages).
    pub fn from_secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// `Basic base64(user:password)`; registered with the log scrubber.
    pub(crate) fn basic_header(&self) -> String {
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password));
        crate::logging::register_secrets([encoded.as_str()]);
        format!("Basic {encoded}")
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .field("secret", &self.secret)
            .finish()
    }
}

/// What a `401` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        /// The scope the registry asked for, when it said.
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` value: `Bearer realm="...",service="...",scope="..."` or
/// `Basic realm="..."`. `None` for anything else.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    Some(Challenge::Bearer {
        realm: get("realm")?,
        service: get("service"),
        scope: get("scope"),
    })
}

/// `key="value", key2=value2`: quoted values may hold commas (`scope="repository:a:pull,push"`).
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.push((key, value));
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// The access a request needs: `repository:<name>:<actions>` entries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope(Vec<String>);

impl Scope {
    pub fn pull(repository: &str) -> Self {
        Scope(vec![format!("repository:{repository}:pull")])
    }

    pub fn push(repository: &str) -> Self {
        Scope(vec![format!("repository:{repository}:pull,push")])
    }

    /// Push to `repository` and pull from `from` (a cross-repository mount).
    pub fn mount(repository: &str, from: &str) -> Self {
        let mut scope = Self::push(repository);
        if from != repository {
            scope.0.push(format!("repository:{from}:pull"));
        }
        scope
    }

    pub fn entries(&self) -> &[String] {
        &self.0
    }

    /// (repository, action) for every action granted.
    fn grants(&self) -> Vec<(&str, &str)> {
        self.0
            .iter()
            .filter_map(|e| e.strip_prefix("repository:")?.rsplit_once(':'))
            .flat_map(|(repo, actions)| actions.split(',').map(move |a| (repo, a)))
            .collect()
    }

    /// Whether a token for `other` also grants everything this scope needs (a push
    /// token serves a pull of the same repository).
    pub fn covered_by(&self, other: &Scope) -> bool {
        let granted = other.grants();
        self.grants().iter().all(|g| granted.contains(g))
    }

    /// What the scope allows, for messages: `push` or `pull`.
    pub fn action(&self) -> &'static str {
        if self.0.first().is_some_and(|s| s.ends_with("push")) {
            "push to"
        } else {
            "pull from"
        }
    }

    /// The first repository the scope names.
    pub fn repository(&self) -> &str {
        self.0
            .first()
            .and_then(|s| s.strip_prefix("repository:"))
            .and_then(|s| s.rsplit_once(':'))
            .map_or("", |(name, _)| name)
    }
}

/// A token a realm issued.
#[derive(Clone)]
pub struct Token {
    pub value: String,
    pub expires: Instant,
}

/// Tokens are refreshed this long before they expire.
const EARLY: Duration = Duration::from_secs(15);
/// The lifetime of a token when the realm does not say (the spec's default).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

/// Tokens per scope.
#[derive(Default)]
pub struct TokenCache {
    tokens: HashMap<Scope, Token>,
}

impl TokenCache {
    /// A live token for `scope`, or for a scope that covers it.
    pub fn get(&self, scope: &Scope, now: Instant) -> Option<String> {
        let live = |t: &&Token| t.expires > now + EARLY;
        self.tokens
            .get(scope)
            .filter(live)
            .or_else(|| {
                self.tokens
                    .iter()
                    .find(|(s, t)| scope.covered_by(s) && live(t))
                    .map(|(_, t)| t)
            })
            .map(|t| t.value.clone())
    }

    pub fn put(&mut self, scope: Scope, token: Token) {
        self.tokens.insert(scope, token);
    }

    pub fn forget(&mut self, scope: &Scope) {
        self.tokens.remove(scope);
    }
}

/// A realm's answer: `token` or `access_token`, and `expires_in` seconds.
#[derive(serde::Deserialize)]
pub struct TokenAnswer {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl TokenAnswer {
    pub fn into_token(self, now: Instant) -> Option<Token> {
        let value = self.token.or(self.access_token).filter(|t| !t.is_empty())?;
        crate::logging::register_secrets([value.as_str()]);
        let lifetime = self
            .expires_in
            .map_or(DEFAULT_LIFETIME, Duration::from_secs)
            .max(DEFAULT_LIFETIME);
        Some(Token {
            value,
            expires: now + lifetime,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let rows: [(&str, Option<Challenge>); 5] = [
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push""#,
                Some(Challenge::Bearer {
                    realm: "https://auth.docker.io/token".into(),
                    service: Some("registry.docker.io".into()),
                    scope: Some("repository:library/nginx:pull,push".into()),
                }),
            ),
            (
                r#"bearer realm="http://127.0.0.1:1/token", service=registry"#,
                Some(Challenge::Bearer {
                    realm: "http://127.0.0.1:1/token".into(),
                    service: Some("registry".into()),
                    scope: None,
                }),
            ),
            (r#"Basic realm="Registry Realm""#, Some(Challenge::Basic)),
            ("Bearer service=\"x\"", None),
            ("Negotiate", None),
        ];
        for (header, want) in rows {
            assert_eq!(parse_challenge(header), want, "{header}");
        }
    }

    #[test]
    fn scopes_name_repository_and_actions() {
        assert_eq!(Scope::pull("a/b").entries(), ["repository:a/b:pull"]);
        let m = Scope::mount("t", "s");
        assert_eq!(m.entries(), ["repository:t:pull,push", "repository:s:pull"]);
        assert_eq!((m.repository(), m.action()), ("t", "push to"));
        assert_eq!(Scope::mount("t", "t").entries().len(), 1);
        assert!(Scope::pull("t").covered_by(&Scope::push("t")));
        assert!(Scope::pull("s").covered_by(&m));
        assert!(!Scope::push("t").covered_by(&Scope::pull("t")));
        assert!(!Scope::pull("u").covered_by(&m));
    }

    #[test]
    fn debug_hides_the_password() {
        let c = Credentials::new("ci-bot", "hunter2-very-secret");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn tokens_expire_early() {
        let now = Instant::now();
        let mut cache = TokenCache::default();
        let scope = Scope::pull("a");
        cache.put(
            scope.clone(),
            Token {
                value: "t".into(),
                expires: now + Duration::from_secs(60),
            },
        );
        assert_eq!(cache.get(&scope, now).as_deref(), Some("t"));
        assert_eq!(cache.get(&scope, now + Duration::from_secs(50)), None);
        assert_eq!(cache.get(&Scope::push("a"), now), None);
    }
}
