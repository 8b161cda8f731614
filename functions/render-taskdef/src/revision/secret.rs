//! Where a value read on the instance at deploy time comes from: a Secrets Manager secret
//! or an SSM parameter. Only the reference goes into the revision, never the value.

use shared::aws::account::Arn;

/// A secret's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// A Secrets Manager secret, by ARN; the region is the ARN's.
    SecretsManager { arn: String, region: String },
    /// An SSM parameter by ARN (with its region) or by name (region from the settings).
    Ssm {
        name: String,
        region: Option<String>,
    },
}

impl SecretRef {
    /// Reads `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`,
    /// `arn:<partition>:ssm:<region>:<account>:parameter/<name>` or `/<name>`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a Secrets Manager secret ARN (`arn:aws:secretsmanager:<region>:<account>:secret:<name>`) or an SSM parameter ARN or name (`/path/name`)"
            )
        };
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        if s.starts_with('/') && s.len() > 1 {
            return Ok(Self::Ssm {
                name: s.to_owned(),
                region: None,
            });
        }
        let arn = Arn::parse(s).filter(|a| !a.region.is_empty() && !a.account.is_empty());
        match arn {
            Some(a) if a.service == "secretsmanager" => {
                let (name, selector) = match a.resource.strip_prefix("secret:") {
                    Some(rest) => rest
                        .split_once(':')
                        .map_or((rest, None), |(n, r)| (n, Some(r))),
                    None => return Err(bad()),
                };
                if name.is_empty() {
                    return Err(bad());
                }
                if selector.is_some() {
                    return Err(format!(
                        "`{s}` selects a JSON key or version of the secret, which the instance cannot read without a JSON tool; keep the value in a secret of its own and give that secret's ARN"
                    ));
                }
                Ok(Self::SecretsManager {
                    arn: s.to_owned(),
                    region: a.region.to_owned(),
                })
            }
            Some(a)
                if a.service == "ssm"
                    && !a.resource.contains(':')
                    && a.resource
                        .strip_prefix("parameter/")
                        .is_some_and(|name| !name.is_empty()) =>
            {
                Ok(Self::Ssm {
                    name: s.to_owned(),
                    region: Some(a.region.to_owned()),
                })
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let sm = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf";
        assert_eq!(
            SecretRef::parse(sm),
            Ok(SecretRef::SecretsManager {
                arn: sm.into(),
                region: "eu-west-1".into()
            })
        );
        let ssm = "arn:aws:ssm:us-east-1:123456789012:parameter/web/key";
        assert_eq!(
            SecretRef::parse(ssm),
            Ok(SecretRef::Ssm {
                name: ssm.into(),
                region: Some("us-east-1".into())
            })
        );
        assert_eq!(
            SecretRef::parse("/web/key"),
            Ok(SecretRef::Ssm {
                name: "/web/key".into(),
                region: None
            })
        );
        for bad in [
            "db",
            "/",
            "",
            "arn:aws:s3:::bucket",
            "/a b",
            "arn:aws:ssm:us-east-1:1:parameter/",
            "arn:aws:ssm:us-east-1:1:parameter/a:b",
            "arn:aws:ssm::1:parameter/a",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
            "arn:aws:secretsmanager:eu-west-1::secret:db",
            "arn:aws:secretsmanager:eu-west-1:123456789012:db",
        ] {
            assert!(SecretRef::parse(bad).is_err(), "{bad}");
        }
        for selected in [format!("{sm}:password::"), format!("{sm}:")] {
            let e = SecretRef::parse(&selected).unwrap_err();
            assert!(e.contains("JSON key"), "{e}");
        }
    }
}
