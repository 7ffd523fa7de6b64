//! What ALB refuses of a rule's conditions, checked before a rule is planned.

use super::types::{Condition, Values};
use crate::validate::AwsLimits;

/// ALB compares at most this many values in one condition.
const VALUES_PER_CONDITION: usize = 3;
/// ALB allows this many `*` and `?` wildcards in one rule.
const WILDCARDS_PER_RULE: usize = 5;

/// Unescaped `*` and `?`: the wildcards ALB counts.
pub fn wildcards(value: &str) -> usize {
    let mut escaped = false;
    let mut count = 0;
    for c in value.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '*' | '?' => count += 1,
            _ => {}
        }
    }
    count
}

/// A rule's conditions beyond what ALB accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConditionLimit {
    /// Two conditions on a field ALB takes once per rule.
    #[error("an ALB rule takes one {0} condition; this one would have several")]
    Repeated(&'static str),
    /// Too many values in one condition.
    #[error("{count} values in one {field} condition: ALB compares at most {VALUES_PER_CONDITION}")]
    ValuesPerCondition { field: String, count: usize },
    /// Too many values in the rule's conditions together.
    #[error(
        "{count} condition values (hostname, path, headers, query parameters, method, source IPs): an ALB rule allows {limit}"
    )]
    ValuesPerRule { count: usize, limit: usize },
    /// Too many wildcards in the rule.
    #[error("{0} wildcards ('*', '?') in one rule: ALB allows {WILDCARDS_PER_RULE}")]
    Wildcards(usize),
}

/// What ALB checks of a rule's conditions: at most one host, path, method and source-ip condition,
/// 3 values a condition, and per rule 5 values and 5 wildcards.
pub fn check_conditions(conditions: &[Condition], limits: &AwsLimits) -> Result<(), ConditionLimit> {
    for field in ["host-header", "path-pattern", "http-request-method", "source-ip"] {
        if conditions.iter().filter(|c| c.field == field).count() > 1 {
            return Err(ConditionLimit::Repeated(field));
        }
    }
    if let Some(c) = conditions.iter().find(|c| c.value_count() > VALUES_PER_CONDITION) {
        return Err(ConditionLimit::ValuesPerCondition { field: c.field.clone(), count: c.value_count() });
    }
    let values: usize = conditions.iter().map(Condition::value_count).sum();
    if values > limits.condition_values_per_rule {
        return Err(ConditionLimit::ValuesPerRule { count: values, limit: limits.condition_values_per_rule });
    }
    let plain = |v: &Option<Values>| v.iter().flat_map(|v| v.values.clone()).collect::<Vec<_>>();
    let mut texts = Vec::new();
    for c in conditions {
        texts.extend(plain(&c.host_header_config));
        texts.extend(plain(&c.path_pattern_config));
        texts.extend(c.http_header_config.iter().flat_map(|h| h.values.clone()));
        for kv in c.query_string_config.iter().flat_map(|q| q.values.iter()) {
            texts.extend(kv.key.clone());
            texts.push(kv.value.clone());
        }
    }
    let count: usize = texts.iter().map(|t| wildcards(t)).sum();
    if count > WILDCARDS_PER_RULE {
        return Err(ConditionLimit::Wildcards(count));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unescaped_wildcards_count() {
        assert_eq!(wildcards("/api/*"), 1);
        assert_eq!(wildcards("*.example.com"), 1);
        assert_eq!(wildcards(r"a\*b\?c"), 0);
    }

    fn values(field: &str, values: &[&str]) -> Condition {
        let v = Some(Values { values: values.iter().map(|s| (*s).to_owned()).collect(), regex_values: Vec::new() });
        match field {
            "host-header" => Condition { field: field.into(), host_header_config: v, ..Condition::default() },
            "path-pattern" => Condition { field: field.into(), path_pattern_config: v, ..Condition::default() },
            _ => Condition { field: field.into(), source_ip_config: v, ..Condition::default() },
        }
    }

    #[test]
    fn rules_within_alb_limits_pass() {
        let limits = AwsLimits::default();
        let ok = [
            values("host-header", &["*.a.io"]),
            values("path-pattern", &["/x", "/x/*"]),
            values("source-ip", &["10.0.0.0/8", "192.168.0.0/16"]),
        ];
        assert_eq!(check_conditions(&ok, &limits), Ok(()));
    }

    #[test]
    fn rules_beyond_alb_limits_are_refused() {
        let limits = AwsLimits::default();
        let six = [
            values("path-pattern", &["/x", "/x/*"]),
            values("source-ip", &["1.0.0.0/8", "2.0.0.0/8", "3.0.0.0/8"]),
            values("host-header", &["a.io"]),
        ];
        assert_eq!(check_conditions(&six, &limits), Err(ConditionLimit::ValuesPerRule { count: 6, limit: 5 }));
        let four = [values("source-ip", &["1.0.0.0/8", "2.0.0.0/8", "3.0.0.0/8", "4.0.0.0/8"])];
        assert!(check_conditions(&four, &limits).unwrap_err().to_string().contains("at most 3"));
        let twice = [values("source-ip", &["1.0.0.0/8"]), values("source-ip", &["2.0.0.0/8"])];
        assert_eq!(check_conditions(&twice, &limits), Err(ConditionLimit::Repeated("source-ip")));
        let wild = [values("path-pattern", &["/*/*/*", "/*/*/*/*"])];
        assert_eq!(check_conditions(&wild, &limits), Err(ConditionLimit::Wildcards(7)));
    }
}
