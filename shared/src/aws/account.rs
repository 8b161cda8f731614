//! Where a call to a workload resource goes: the `account` block of a configuration.
//!
//! ```json
//! "account": {"roleArn": "arn:aws:iam::222222222222:role/deploy-health-gate",
//!             "externalId": "tools-7f3a", "region": "eu-west-1"}
//! ```
//!
//! Every key is optional. `roleArn` is assumed with `sts:AssumeRole` (with `externalId`
//! when given) for the calls to that resource; `region` is where they go. A resource ARN
//! given elsewhere in the configuration must agree with the block: its account is the
//! role's account and its region the configured region. A mismatch is a configuration
//! problem, never silently resolved; with no `region`, the region of the ARNs given (they
//! must agree) is used, else the function's own.

use crate::problem::{Problem, join};
use serde::Deserialize;

/// The `account` block: the role to act as and the region to call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Account {
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub region: Option<String>,
}

/// The parts of an ARN: `arn:<partition>:<service>:<region>:<account>:<resource>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `text` when it is an ARN, else `None` (a plain name).
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return None;
        };
        Some(Self {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

/// The region of an ARN, when it is one and names a region.
pub fn arn_region(text: &str) -> Option<&str> {
    Arn::parse(text).map(|a| a.region).filter(|r| !r.is_empty())
}

/// The account of an ARN, when it is one and names an account.
pub fn arn_account(text: &str) -> Option<&str> {
    Arn::parse(text)
        .map(|a| a.account)
        .filter(|a| !a.is_empty())
}

/// The account of an IAM role ARN (`arn:<partition>:iam::<account>:role/<name>`), when
/// it is one.
pub fn role_account(text: &str) -> Option<&str> {
    let arn = Arn::parse(text)?;
    let ok = arn.partition.starts_with("aws")
        && arn.service == "iam"
        && arn.region.is_empty()
        && crate::image::is_account_id(arn.account)
        && arn
            .resource
            .strip_prefix("role/")
            .is_some_and(|name| !name.is_empty());
    ok.then_some(arn.account)
}

impl Account {
    /// The block that changes nothing: the function's own account and region.
    pub fn home() -> Self {
        Self::default()
    }

    /// The workload account's id: the role's account.
    pub fn account_id(&self) -> Option<&str> {
        self.role_arn.as_deref().and_then(arn_account)
    }

    /// Every problem of the block itself, located under `path`.
    pub fn problems(&self, path: &str) -> Vec<Problem> {
        let mut found = Vec::new();
        if let Some(role) = &self.role_arn {
            if let Some(why) = role_problem(role) {
                found.push(Problem::new(join(path, "roleArn"), why));
            }
        } else if self.external_id.is_some() {
            found.push(Problem::new(
                join(path, "externalId"),
                "is only used with roleArn; add the role to assume or remove externalId",
            ));
        }
        if let Some(id) = &self.external_id
            && !valid_external_id(id)
        {
            found.push(Problem::new(
                join(path, "externalId"),
                "must be 2-1224 characters of letters, digits and +=,.@:/-",
            ));
        }
        if let Some(region) = &self.region
            && !crate::image::is_region(region)
        {
            found.push(Problem::new(
                join(path, "region"),
                format!("`{region}` is not a region name (for example us-east-1 or eu-west-1)"),
            ));
        }
        found
    }

    /// A resource ARN given at `path`, checked against the block: it must be in the role's
    /// account and the configured region. A plain name is always fine.
    pub fn arn_problem(&self, path: &str, arn: &str) -> Option<Problem> {
        let parsed = Arn::parse(arn)?;
        if let (Some(role_account), false) = (self.account_id(), parsed.account.is_empty())
            && role_account != parsed.account
        {
            return Some(Problem::new(
                path,
                format!(
                    "is in account {} but account.roleArn acts in account {role_account}; use a role of account {} or the resource of account {role_account}",
                    parsed.account, parsed.account
                ),
            ));
        }
        if let (Some(region), false) = (&self.region, parsed.region.is_empty())
            && region != parsed.region
        {
            return Some(Problem::new(
                path,
                format!(
                    "is in region {} but account.region is {region}; make them the same (or leave account.region out to use the ARN's)",
                    parsed.region
                ),
            ));
        }
        None
    }

    /// The block with its region settled from the ARNs a configuration gives (`(path,
    /// arn)`): the configured region, else the ARNs' region, else none (the function's).
    /// ARNs that disagree with the block or with each other are problems.
    pub fn settle<'a>(
        mut self,
        arns: impl IntoIterator<Item = (String, &'a str)>,
    ) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut seen: Option<(String, String)> = None;
        for (path, arn) in arns {
            if let Some(p) = self.arn_problem(&path, arn) {
                problems.push(p);
                continue;
            }
            let Some(region) = arn_region(arn) else {
                continue;
            };
            match &seen {
                Some((first_path, first)) if first != region => problems.push(Problem::new(
                    path,
                    format!(
                        "is in region {region} but {first_path} is in {first}; one configuration acts in one region (set account.region)"
                    ),
                )),
                Some(_) => {}
                None => seen = Some((path, region.to_owned())),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        if self.region.is_none() {
            self.region = seen.map(|(_, r)| r);
        }
        Ok(self)
    }
}

/// Why a role ARN cannot be assumed, if it cannot.
fn role_problem(role: &str) -> Option<String> {
    let shape = "must be a role ARN: arn:aws:iam::<12-digit account>:role/<name>";
    let Some(arn) = Arn::parse(role) else {
        return Some(format!("`{role}` {shape}"));
    };
    let name = arn.resource.strip_prefix("role/").unwrap_or_default();
    let ok = role_account(role).is_some()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
    (!ok).then(|| format!("`{role}` {shape}"))
}

fn valid_external_id(id: &str) -> bool {
    (2..=1224).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b))
}

/// An STS session name (2-64 characters of `[\w+=,.@-]`) from the function's name and what
/// it acts for (a job id, an alarm name): other characters become `-`, and it is cut to fit.
pub fn session_name(function: &str, what: &str) -> String {
    let raw = if what.is_empty() {
        function.to_owned()
    } else {
        format!("{function}-{what}")
    };
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    while name.len() < 2 {
        name.push('-');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(role: Option<&str>, external: Option<&str>, region: Option<&str>) -> Account {
        Account {
            role_arn: role.map(str::to_owned),
            external_id: external.map(str::to_owned),
            region: region.map(str::to_owned),
        }
    }

    const ROLE: &str = "arn:aws:iam::222222222222:role/deploy";

    #[test]
    fn block_problems_table() {
        let cases: &[(Account, &[&str])] = &[
            (Account::home(), &[]),
            (block(Some(ROLE), Some("tools-1"), Some("eu-west-1")), &[]),
            (
                block(Some("arn:aws-cn:iam::222222222222:role/a/b"), None, None),
                &[],
            ),
            (block(Some("deploy"), None, None), &["account.roleArn"]),
            (
                block(Some("arn:aws:iam::2222:role/deploy"), None, None),
                &["account.roleArn"],
            ),
            (
                block(Some("arn:aws:iam::222222222222:user/deploy"), None, None),
                &["account.roleArn"],
            ),
            (
                block(Some("arn:aws:sts::222222222222:role/deploy"), None, None),
                &["account.roleArn"],
            ),
            (block(None, Some("tools-1"), None), &["account.externalId"]),
            (block(Some(ROLE), Some("x"), None), &["account.externalId"]),
            (
                block(Some(ROLE), Some("has space"), None),
                &["account.externalId"],
            ),
            (block(None, None, Some("Europe")), &["account.region"]),
            (block(None, None, Some("us-east-1a")), &["account.region"]),
            (block(None, None, Some("us-gov-west-1")), &[]),
        ];
        for (account, want) in cases {
            let got: Vec<String> = account
                .problems("account")
                .into_iter()
                .map(|p| p.path)
                .collect();
            assert_eq!(got, *want, "{account:?}");
        }
    }

    #[test]
    fn arns_agree_with_the_block_table() {
        let tg = "arn:aws:elasticloadbalancing:eu-west-1:222222222222:targetgroup/web/1";
        let cases: &[(Account, &str, Option<&str>)] = &[
            (Account::home(), tg, None),
            (block(Some(ROLE), None, Some("eu-west-1")), tg, None),
            (block(Some(ROLE), None, None), tg, None),
            (
                block(None, None, Some("us-east-1")),
                tg,
                Some("region eu-west-1"),
            ),
            (
                block(Some("arn:aws:iam::333333333333:role/x"), None, None),
                tg,
                Some("account 222222222222"),
            ),
            (block(Some(ROLE), None, Some("us-east-1")), "web", None),
            // An S3 ARN names neither region nor account.
            (
                block(Some(ROLE), None, Some("us-east-1")),
                "arn:aws:s3:::bucket",
                None,
            ),
        ];
        for (account, arn, want) in cases {
            let got = account.arn_problem("p", arn).map(|p| p.message);
            match (got, want) {
                (None, None) => {}
                (Some(m), Some(w)) => assert!(m.contains(w), "{m}"),
                (got, want) => panic!("{account:?} {arn}: {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_region_is_settled_from_the_arns() {
        let a = "arn:aws:ecs:eu-west-1:222222222222:cluster/prod";
        let b = "arn:aws:cloudwatch:us-east-1:222222222222:alarm:web";
        let settled = block(Some(ROLE), None, None)
            .settle([("ecs.cluster".to_owned(), a)])
            .unwrap();
        assert_eq!(settled.region.as_deref(), Some("eu-west-1"));
        let kept = block(None, None, Some("eu-west-1"))
            .settle([("x".to_owned(), "web")])
            .unwrap();
        assert_eq!(kept.region.as_deref(), Some("eu-west-1"));
        let split = block(Some(ROLE), None, None)
            .settle([("a".to_owned(), a), ("b".to_owned(), b)])
            .unwrap_err();
        assert_eq!(split.len(), 1);
        assert!(
            split[0]
                .message
                .contains("one configuration acts in one region")
        );
    }

    #[test]
    fn session_names_fit_sts() {
        assert_eq!(session_name("health-gate", "7a1b"), "health-gate-7a1b");
        assert_eq!(
            session_name("rollback-trigger", "web 5xx/prod"),
            "rollback-trigger-web-5xx-prod"
        );
        assert_eq!(session_name("r", "").len(), 2);
        let long = session_name("render-taskdef", &"x".repeat(100));
        assert_eq!(long.len(), 64);
    }

    #[test]
    fn arns_split() {
        let a = Arn::parse("arn:aws:ecs:us-east-1:123456789012:service/prod/web").unwrap();
        assert_eq!(
            (a.service, a.region, a.account),
            ("ecs", "us-east-1", "123456789012")
        );
        assert_eq!(a.resource, "service/prod/web");
        assert_eq!(arn_region("web"), None);
        assert_eq!(arn_region("arn:aws:iam::1:role/x"), None);
    }

    #[test]
    fn reads_role_account() {
        assert_eq!(
            role_account("arn:aws:iam::222233334444:role/promote"),
            Some("222233334444")
        );
        assert_eq!(
            role_account("arn:aws-cn:iam::222233334444:role/path/promote"),
            Some("222233334444")
        );
        assert_eq!(role_account("arn:aws:iam::222233334444:user/bob"), None);
        assert_eq!(role_account("arn:aws:iam::222233334444:role/"), None);
        assert_eq!(role_account("arn:aws:iam::2222:role/x"), None);
        assert_eq!(role_account("arn:aws:sts::222233334444:role/x"), None);
        assert_eq!(role_account("promote"), None);
    }
}
