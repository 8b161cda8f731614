//! The scan gate: per-severity thresholds over basic or enhanced scan results, with an
//! allow-list whose entries expire, and an explicit policy for images without a result.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{GatePolicy, OnUnscanned, SEVERITIES};
use crate::date::Date;

/// What DescribeImageScanFindings said about one image manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ScanResult {
    /// `ScanNotFoundException`: the image was never scanned.
    #[default]
    NotFound,
    Found {
        status: String,
        description: Option<String>,
        findings: Findings,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    /// Basic scanning's `findingSeverityCounts`; a severity with no findings is absent.
    pub counts: BTreeMap<String, u64>,
    pub basic: Vec<BasicFinding>,
    pub enhanced: Vec<EnhancedFinding>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicFinding {
    pub name: String,
    pub severity: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnhancedFinding {
    /// Ids the allow-list may name: vulnerability id (CVE), finding ARN.
    pub ids: Vec<String>,
    pub severity: String,
    /// `ACTIVE`, `SUPPRESSED` or `CLOSED`; only active findings count.
    pub status: String,
}

/// The gate's verdict on one image manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateLine {
    pub label: String,
    pub passed: bool,
    /// The counts or the reason that decided it.
    pub detail: String,
}

impl GateLine {
    pub fn text(&self) -> String {
        format!(
            "{}: {} ({})",
            self.label,
            if self.passed { "passed" } else { "FAILED" },
            self.detail
        )
    }
}

/// The gate over every runnable manifest of the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateReport {
    pub lines: Vec<GateLine>,
}

impl GateReport {
    pub fn passed(&self) -> bool {
        self.lines.iter().all(|l| l.passed)
    }

    pub fn text(&self) -> String {
        let verdict = if self.passed() { "passed" } else { "failed" };
        let lines: Vec<String> = self.lines.iter().map(GateLine::text).collect();
        format!("Scan gate {verdict}: {}", lines.join("; "))
    }
}

/// Evaluates each `(label, scan)` pair: a single image has one, an index one per platform.
pub fn evaluate_all(
    policy: &GatePolicy,
    scans: &[(String, ScanResult)],
    today: Date,
) -> GateReport {
    GateReport {
        lines: scans
            .iter()
            .map(|(label, scan)| evaluate(policy, label, scan, today))
            .collect(),
    }
}

pub fn evaluate(policy: &GatePolicy, label: &str, scan: &ScanResult, today: Date) -> GateLine {
    let u = &policy.unscanned;
    let unscanned = |on: OnUnscanned, reason: String, key: &str| {
        let passed = on == OnUnscanned::Pass;
        let detail = if passed {
            format!("{reason}; passed because scanGate.{key} is \"pass\"")
        } else {
            format!("{reason}; failing closed (set scanGate.{key} to \"pass\" to accept this)")
        };
        GateLine {
            label: label.to_string(),
            passed,
            detail,
        }
    };
    let (status, description, findings) = match scan {
        ScanResult::NotFound => {
            return unscanned(
                u.no_scan,
                "no scan result: enable scan on push or run StartImageScan".to_string(),
                "onNoScan",
            );
        }
        ScanResult::Found {
            status,
            description,
            findings,
        } => (status.as_str(), description, findings),
    };
    let because = |what: &str| match description.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => format!("{what} (status {status}: {d})"),
        None => format!("{what} (status {status})"),
    };
    match status {
        "COMPLETE" | "ACTIVE" => {}
        "IN_PROGRESS" | "PENDING" => {
            return unscanned(
                u.in_progress,
                because("the scan is still in progress; run again when it completes"),
                "onInProgress",
            );
        }
        "SCAN_ELIGIBILITY_EXPIRED" => {
            return unscanned(
                u.expired,
                because("the image is no longer scanned (scan eligibility expired)"),
                "onExpired",
            );
        }
        "UNSUPPORTED_IMAGE" => {
            return unscanned(
                u.unsupported,
                because("the scanner does not support this image"),
                "onUnsupported",
            );
        }
        _ => return unscanned(u.failed, because("no usable scan result"), "onFailed"),
    }
    let tally = tally(policy, findings, today);
    let over: Vec<String> = policy
        .max
        .iter()
        .filter(|(severity, max)| tally.counts.get(*severity).copied().unwrap_or(0) > **max)
        .map(|(severity, _)| severity.clone())
        .collect();
    let mut detail = counts_text(&tally.counts, &policy.max);
    if !tally.allowed.is_empty() {
        detail.push_str(&format!(
            "; allowed: {}",
            tally.allowed.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !tally.expired.is_empty() {
        detail.push_str(&format!(
            "; allow-list entries expired, counted again: {}",
            tally.expired.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !over.is_empty() {
        detail.push_str(&format!("; over the limit: {}", over.join(", ")));
    }
    GateLine {
        label: label.to_string(),
        passed: over.is_empty(),
        detail,
    }
}

struct Tally {
    counts: BTreeMap<String, u64>,
    allowed: BTreeSet<String>,
    expired: BTreeSet<String>,
}

enum Allowed {
    Yes(Date),
    Expired(Date),
    No,
}

fn allowed(policy: &GatePolicy, ids: &[&str], today: Date) -> Allowed {
    let mut expired = None;
    for entry in &policy.allow {
        if ids.iter().any(|id| id.eq_ignore_ascii_case(&entry.id)) {
            if entry.until >= today {
                return Allowed::Yes(entry.until);
            }
            expired = Some(entry.until);
        }
    }
    expired.map_or(Allowed::No, Allowed::Expired)
}

fn tally(policy: &GatePolicy, findings: &Findings, today: Date) -> Tally {
    let mut t = Tally {
        counts: BTreeMap::new(),
        allowed: BTreeSet::new(),
        expired: BTreeSet::new(),
    };
    if !findings.enhanced.is_empty() {
        // Enhanced scanning: count active findings one by one.
        for f in &findings.enhanced {
            if !(f.status.is_empty() || f.status.eq_ignore_ascii_case("ACTIVE")) {
                continue;
            }
            let ids: Vec<&str> = f.ids.iter().map(String::as_str).collect();
            let severity = f.severity.to_ascii_uppercase();
            match allowed(policy, &ids, today) {
                Allowed::Yes(until) => {
                    t.allowed.insert(format!(
                        "{} ({severity}, until {until})",
                        ids.first().copied().unwrap_or("?")
                    ));
                }
                Allowed::Expired(until) => {
                    t.expired.insert(format!(
                        "{} (expired {until})",
                        ids.first().copied().unwrap_or("?")
                    ));
                    *t.counts.entry(severity).or_default() += 1;
                }
                Allowed::No => *t.counts.entry(severity).or_default() += 1,
            }
        }
        return t;
    }
    // Basic scanning: the severity counts, less the allowed findings.
    for (severity, n) in &findings.counts {
        *t.counts.entry(severity.to_ascii_uppercase()).or_default() += n;
    }
    let from_list = findings.counts.is_empty();
    for f in &findings.basic {
        let severity = f.severity.to_ascii_uppercase();
        match allowed(policy, &[f.name.as_str()], today) {
            Allowed::Yes(until) => {
                t.allowed
                    .insert(format!("{} ({severity}, until {until})", f.name));
                if !from_list && let Some(n) = t.counts.get_mut(&severity) {
                    *n = n.saturating_sub(1);
                }
            }
            Allowed::Expired(until) => {
                t.expired.insert(format!("{} (expired {until})", f.name));
                if from_list {
                    *t.counts.entry(severity).or_default() += 1;
                }
            }
            Allowed::No if from_list => *t.counts.entry(severity).or_default() += 1,
            Allowed::No => {}
        }
    }
    t
}

/// `CRITICAL 0/0, HIGH 2/3, MEDIUM 7`: gated severities show their limit; a missing
/// severity counts as zero.
fn counts_text(counts: &BTreeMap<String, u64>, max: &BTreeMap<String, u64>) -> String {
    let mut order: Vec<&str> = SEVERITIES.to_vec();
    order.extend(
        counts
            .keys()
            .map(String::as_str)
            .filter(|s| !SEVERITIES.contains(s)),
    );
    let parts: Vec<String> = order
        .into_iter()
        .filter_map(|severity| {
            let n = counts.get(severity).copied().unwrap_or(0);
            match max.get(severity) {
                Some(limit) => Some(format!("{severity} {n}/{limit}")),
                None if n > 0 => Some(format!("{severity} {n}")),
                None => None,
            }
        })
        .collect();
    if parts.is_empty() {
        "no findings".to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Allowance, Unscanned};

    fn today() -> Date {
        Date::parse("2026-06-15").unwrap()
    }

    fn policy(max: &[(&str, u64)], allow: &[(&str, &str)]) -> GatePolicy {
        GatePolicy {
            max: max.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            allow: allow
                .iter()
                .map(|(id, until)| Allowance {
                    id: id.to_string(),
                    until: Date::parse(until).unwrap(),
                })
                .collect(),
            unscanned: Unscanned::default(),
        }
    }

    fn basic(counts: &[(&str, u64)], findings: &[(&str, &str)]) -> ScanResult {
        ScanResult::Found {
            status: "COMPLETE".into(),
            description: None,
            findings: Findings {
                counts: counts.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
                basic: findings
                    .iter()
                    .map(|(n, s)| BasicFinding {
                        name: n.to_string(),
                        severity: s.to_string(),
                    })
                    .collect(),
                enhanced: vec![],
            },
        }
    }

    fn enhanced(findings: &[(&str, &str, &str)]) -> ScanResult {
        ScanResult::Found {
            status: "ACTIVE".into(),
            description: None,
            findings: Findings {
                counts: BTreeMap::from([("HIGH".to_string(), 99)]), // ignored: the list decides
                basic: vec![],
                enhanced: findings
                    .iter()
                    .map(|(id, s, st)| EnhancedFinding {
                        ids: vec![
                            id.to_string(),
                            format!("arn:aws:inspector2:us-east-1:1:finding/{id}"),
                        ],
                        severity: s.to_string(),
                        status: st.to_string(),
                    })
                    .collect(),
            },
        }
    }

    fn status(status: &str) -> ScanResult {
        ScanResult::Found {
            status: status.into(),
            description: Some("details".into()),
            findings: Findings::default(),
        }
    }

    #[test]
    fn basic_counts_within_limits_pass() {
        let line = evaluate(
            &policy(&[("CRITICAL", 0), ("HIGH", 3)], &[]),
            "image",
            &basic(&[("HIGH", 3), ("MEDIUM", 7)], &[]),
            today(),
        );
        assert!(line.passed);
        assert_eq!(line.detail, "CRITICAL 0/0, HIGH 3/3, MEDIUM 7");
    }

    #[test]
    fn basic_counts_over_limit_fail_and_name_the_severity() {
        let line = evaluate(
            &policy(&[("CRITICAL", 0), ("HIGH", 3)], &[]),
            "image",
            &basic(&[("CRITICAL", 1), ("HIGH", 4)], &[]),
            today(),
        );
        assert!(!line.passed);
        assert_eq!(
            line.detail,
            "CRITICAL 1/0, HIGH 4/3; over the limit: CRITICAL, HIGH"
        );
        assert_eq!(
            line.text(),
            "image: FAILED (CRITICAL 1/0, HIGH 4/3; over the limit: CRITICAL, HIGH)"
        );
    }

    #[test]
    fn missing_severity_counts_as_zero() {
        let line = evaluate(
            &policy(&[("CRITICAL", 0)], &[]),
            "image",
            &basic(&[], &[]),
            today(),
        );
        assert!(line.passed);
        assert_eq!(line.detail, "CRITICAL 0/0");
        assert_eq!(
            evaluate(&policy(&[], &[]), "image", &basic(&[], &[]), today()).detail,
            "no findings"
        );
    }

    #[test]
    fn allowed_basic_finding_is_subtracted() {
        let p = policy(&[("CRITICAL", 0)], &[("CVE-2024-0001", "2026-06-15")]);
        let line = evaluate(
            &p,
            "image",
            &basic(&[("CRITICAL", 1)], &[("CVE-2024-0001", "CRITICAL")]),
            today(),
        );
        assert!(line.passed, "{}", line.detail);
        assert_eq!(
            line.detail,
            "CRITICAL 0/0; allowed: CVE-2024-0001 (CRITICAL, until 2026-06-15)"
        );
    }

    #[test]
    fn expired_allowance_counts_again() {
        let p = policy(&[("CRITICAL", 0)], &[("CVE-2024-0001", "2026-06-14")]);
        let line = evaluate(
            &p,
            "image",
            &basic(&[("CRITICAL", 1)], &[("CVE-2024-0001", "CRITICAL")]),
            today(),
        );
        assert!(!line.passed);
        assert!(
            line.detail.contains("CRITICAL 1/0")
                && line.detail.contains("CVE-2024-0001 (expired 2026-06-14)"),
            "{}",
            line.detail
        );
    }

    #[test]
    fn basic_findings_without_counts_are_tallied() {
        let p = policy(&[("HIGH", 0)], &[("CVE-2", "2027-01-01")]);
        let line = evaluate(
            &p,
            "image",
            &basic(&[], &[("CVE-1", "HIGH"), ("CVE-2", "HIGH")]),
            today(),
        );
        assert!(!line.passed);
        assert!(line.detail.starts_with("HIGH 1/0"), "{}", line.detail);
    }

    #[test]
    fn enhanced_counts_active_findings_only() {
        let scan = enhanced(&[
            ("CVE-1", "HIGH", "ACTIVE"),
            ("CVE-2", "HIGH", "SUPPRESSED"),
            ("CVE-3", "CRITICAL", "CLOSED"),
            ("CVE-4", "medium", "ACTIVE"),
        ]);
        let line = evaluate(
            &policy(&[("CRITICAL", 0), ("HIGH", 1)], &[]),
            "linux/amd64",
            &scan,
            today(),
        );
        assert!(line.passed, "{}", line.detail);
        assert_eq!(line.detail, "CRITICAL 0/0, HIGH 1/1, MEDIUM 1");
    }

    #[test]
    fn enhanced_allow_list_matches_cve_or_arn() {
        let scan = enhanced(&[
            ("CVE-1", "CRITICAL", "ACTIVE"),
            ("CVE-2", "CRITICAL", "ACTIVE"),
        ]);
        let p = policy(
            &[("CRITICAL", 0)],
            &[
                ("cve-1", "2026-12-31"),
                ("arn:aws:inspector2:us-east-1:1:finding/CVE-2", "2026-12-31"),
            ],
        );
        let line = evaluate(&p, "image", &scan, today());
        assert!(line.passed, "{}", line.detail);
        assert!(
            line.detail
                .contains("allowed: CVE-1 (CRITICAL, until 2026-12-31), CVE-2"),
            "{}",
            line.detail
        );
        let p = policy(&[("CRITICAL", 0)], &[("CVE-1", "2026-01-01")]);
        let line = evaluate(&p, "image", &scan, today());
        assert!(!line.passed);
        assert!(
            line.detail.contains("CRITICAL 2/0") && line.detail.contains("expired 2026-01-01"),
            "{}",
            line.detail
        );
    }

    #[test]
    fn unscanned_states_fail_closed_by_default_with_reason() {
        let p = policy(&[("CRITICAL", 0)], &[]);
        let cases = [
            (ScanResult::NotFound, "no scan result", "onNoScan"),
            (status("IN_PROGRESS"), "still in progress", "onInProgress"),
            (status("PENDING"), "still in progress", "onInProgress"),
            (
                status("SCAN_ELIGIBILITY_EXPIRED"),
                "eligibility expired",
                "onExpired",
            ),
            (
                status("UNSUPPORTED_IMAGE"),
                "does not support",
                "onUnsupported",
            ),
            (status("FAILED"), "no usable scan result", "onFailed"),
            (
                status("FINDINGS_UNAVAILABLE"),
                "no usable scan result",
                "onFailed",
            ),
            (
                status("LIMIT_EXCEEDED"),
                "no usable scan result",
                "onFailed",
            ),
            (status("SOMETHING_NEW"), "status SOMETHING_NEW", "onFailed"),
        ];
        for (scan, reason, key) in cases {
            let line = evaluate(&p, "image", &scan, today());
            assert!(!line.passed, "{scan:?}");
            assert!(
                line.detail.contains(reason)
                    && line.detail.contains(key)
                    && line.detail.contains("failing closed"),
                "{}",
                line.detail
            );
        }
        assert!(
            evaluate(&p, "image", &status("FAILED"), today())
                .detail
                .contains("details")
        );
    }

    #[test]
    fn unscanned_states_can_be_configured_to_pass() {
        let mut p = policy(&[], &[]);
        p.unscanned = Unscanned {
            no_scan: OnUnscanned::Pass,
            in_progress: OnUnscanned::Pass,
            expired: OnUnscanned::Pass,
            unsupported: OnUnscanned::Pass,
            failed: OnUnscanned::Pass,
        };
        for scan in [
            ScanResult::NotFound,
            status("IN_PROGRESS"),
            status("SCAN_ELIGIBILITY_EXPIRED"),
            status("UNSUPPORTED_IMAGE"),
            status("FAILED"),
        ] {
            let line = evaluate(&p, "image", &scan, today());
            assert!(
                line.passed && line.detail.contains("is \"pass\""),
                "{}",
                line.detail
            );
        }
        // Each setting is independent.
        p.unscanned.in_progress = OnUnscanned::Fail;
        assert!(!evaluate(&p, "image", &status("IN_PROGRESS"), today()).passed);
        assert!(evaluate(&p, "image", &ScanResult::NotFound, today()).passed);
    }

    #[test]
    fn report_fails_when_any_platform_fails() {
        let p = policy(&[("CRITICAL", 0)], &[]);
        let scans = vec![
            ("linux/amd64".to_string(), basic(&[], &[])),
            ("linux/arm64".to_string(), basic(&[("CRITICAL", 2)], &[])),
        ];
        let report = evaluate_all(&p, &scans, today());
        assert!(!report.passed());
        assert_eq!(
            report.text(),
            "Scan gate failed: linux/amd64: passed (CRITICAL 0/0); linux/arm64: FAILED (CRITICAL 2/0; over the limit: CRITICAL)"
        );
        assert!(evaluate_all(&p, &scans[..1], today()).passed());
    }
}
