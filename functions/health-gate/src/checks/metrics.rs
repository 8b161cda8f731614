//! CloudWatch metrics through one `GetMetricData` call (metric math allowed), each judged
//! against its threshold over its window. No datapoints is never an implicit pass: each
//! metric's `missingData` policy says what it means.

use crate::config::MetricCheck;
use crate::decide::{CheckReading, Reading, human_ms};
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use shared::aws_error;

const DEFAULT_WINDOW_MS: u64 = 5 * 60_000;

/// One query's datapoints: (epoch ms, value).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub id: String,
    pub points: Vec<(u64, f64)>,
    /// CloudWatch's `InternalError` status, or messages of a partial answer.
    pub error: Option<String>,
}

fn window_ms(m: &MetricCheck) -> u64 {
    m.window.map_or(DEFAULT_WINDOW_MS, |w| w.0)
}

fn num(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The verdict of one metric over its window.
pub fn judge(m: &MetricCheck, series: Option<&Series>, now_ms: u64) -> Reading {
    let since = now_ms.saturating_sub(window_ms(m));
    if let Some(err) = series.and_then(|s| s.error.as_ref()) {
        return Reading::Error(format!("{}: {err}", m.id));
    }
    let values: Vec<f64> = series
        .map(|s| {
            s.points
                .iter()
                .filter(|(t, _)| *t >= since)
                .map(|(_, v)| *v)
                .collect()
        })
        .unwrap_or_default();
    if values.is_empty() {
        return Reading::NoData(format!(
            "{}: no datapoints in {}",
            m.id,
            human_ms(window_ms(m))
        ));
    }
    let high = values.iter().copied().fold(f64::MIN, f64::max);
    let low = values.iter().copied().fold(f64::MAX, f64::min);
    let mut parts = Vec::new();
    let mut ok = true;
    if let Some(max) = m.max {
        ok &= high <= max;
        parts.push(format!(
            "{} {} {} {}",
            m.id,
            num(high),
            if high <= max { "<=" } else { ">" },
            num(max)
        ));
    }
    if let Some(min) = m.min {
        ok &= low >= min;
        parts.push(format!(
            "{} {} {} {}",
            m.id,
            num(low),
            if low >= min { ">=" } else { "<" },
            num(min)
        ));
    }
    let detail = parts.join(", ");
    if ok {
        Reading::Pass(detail)
    } else {
        Reading::Fail(detail)
    }
}

fn query(m: &MetricCheck) -> MetricDataQuery {
    let q = MetricDataQuery::builder().id(&m.id).return_data(true);
    let q = match &m.expression {
        Some(expr) => q.expression(expr).period(m.period.unwrap_or(60) as i32),
        None => {
            let mut metric = Metric::builder()
                .namespace(m.namespace.clone().unwrap_or_default())
                .metric_name(m.metric_name.clone().unwrap_or_default());
            for (name, value) in &m.dimensions {
                metric = metric.dimensions(Dimension::builder().name(name).value(value).build());
            }
            q.metric_stat(
                MetricStat::builder()
                    .metric(metric.build())
                    .period(m.period.unwrap_or(60) as i32)
                    .stat(m.stat.clone().unwrap_or_else(|| "Average".into()))
                    .build(),
            )
        }
    };
    q.build()
}

/// Reads every metric in one call and judges each non-hidden one.
pub async fn check(client: &Client, metrics: &[MetricCheck], now_ms: u64) -> Vec<CheckReading> {
    let longest = metrics
        .iter()
        .map(window_ms)
        .max()
        .unwrap_or(DEFAULT_WINDOW_MS);
    let request = client
        .get_metric_data()
        .start_time(DateTime::from_millis(now_ms.saturating_sub(longest) as i64))
        .end_time(DateTime::from_millis(now_ms as i64))
        .set_metric_data_queries(Some(metrics.iter().map(query).collect()));
    let series: Result<Vec<Series>, String> = match request.send().await {
        Ok(out) => Ok(out
            .metric_data_results()
            .iter()
            .map(|r| Series {
                id: r.id().unwrap_or_default().to_owned(),
                points: r
                    .timestamps()
                    .iter()
                    .zip(r.values())
                    .map(|(t, v)| (t.to_millis().unwrap_or(0).max(0) as u64, *v))
                    .collect(),
                error: (r.status_code().map(|s| s.as_str()) == Some("InternalError")).then(|| {
                    let m: Vec<&str> = r.messages().iter().filter_map(|m| m.value()).collect();
                    format!("CloudWatch could not compute it ({})", m.join("; "))
                }),
            })
            .collect()),
        Err(e) => Err(aws_error("cloudwatch:GetMetricData", e).to_string()),
    };
    metrics
        .iter()
        .filter(|m| !m.hidden)
        .map(|m| {
            let reading = match &series {
                Ok(all) => judge(m, all.iter().find(|s| s.id == m.id), now_ms),
                Err(e) => Reading::Error(e.clone()),
            };
            CheckReading::new(format!("metric:{}", m.id), reading)
                .dry_run(m.dry_run)
                .missing_data(m.missing_data)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(max: Option<f64>, min: Option<f64>) -> MetricCheck {
        MetricCheck {
            id: "p99".into(),
            max,
            min,
            ..MetricCheck::default()
        }
    }

    #[test]
    fn thresholds_over_the_window() {
        let now = 10 * 60_000;
        let s = |points: Vec<(u64, f64)>| Series {
            id: "p99".into(),
            points,
            error: None,
        };
        let cases = [
            (
                metric(Some(0.3), None),
                Some(s(vec![(now - 60_000, 0.18)])),
                "passed",
                "p99 0.18 <= 0.3",
            ),
            (
                metric(Some(0.3), None),
                Some(s(vec![(now - 60_000, 0.18), (now, 0.45)])),
                "failed",
                "p99 0.45 > 0.3",
            ),
            // Outside the 5-minute window: ignored, so no data.
            (
                metric(Some(0.3), None),
                Some(s(vec![(now - 9 * 60_000, 0.9)])),
                "no-data",
                "no datapoints in 5m",
            ),
            (metric(Some(0.3), None), None, "no-data", "no datapoints"),
            (
                metric(None, Some(100.0)),
                Some(s(vec![(now, 80.0)])),
                "failed",
                "p99 80 < 100",
            ),
            (
                metric(Some(1.0), None),
                Some(Series {
                    id: "p99".into(),
                    points: vec![],
                    error: Some("bad expression".into()),
                }),
                "error",
                "bad expression",
            ),
        ];
        for (m, series, word, text) in cases {
            let r = judge(&m, series.as_ref(), now);
            assert_eq!(r.word(), word, "{r:?}");
            assert!(r.detail().contains(text), "{r:?}");
        }
    }
}
