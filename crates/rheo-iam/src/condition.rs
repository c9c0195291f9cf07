//! The `Condition` block: operators, their `IfExists` and set (`ForAnyValue:`,
//! `ForAllValues:`) forms, and the request's values for each key. Keys are matched
//! case-insensitively, as IAM matches them; values as each operator says.

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::facts::{CtxValue, Facts};
use crate::pattern::{arn_match, glob};
use crate::policy::PolicyError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    IpAddress,
    NotIpAddress,
    Bool,
    Null,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
}

impl Op {
    fn parse(name: &str) -> Option<Op> {
        Some(match name {
            "StringEquals" => Op::StringEquals,
            "StringNotEquals" => Op::StringNotEquals,
            "StringEqualsIgnoreCase" => Op::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Op::StringNotEqualsIgnoreCase,
            "StringLike" => Op::StringLike,
            "StringNotLike" => Op::StringNotLike,
            "ArnEquals" => Op::ArnEquals,
            "ArnLike" => Op::ArnLike,
            "ArnNotEquals" => Op::ArnNotEquals,
            "ArnNotLike" => Op::ArnNotLike,
            "IpAddress" => Op::IpAddress,
            "NotIpAddress" => Op::NotIpAddress,
            "Bool" => Op::Bool,
            "Null" => Op::Null,
            "DateEquals" => Op::DateEquals,
            "DateNotEquals" => Op::DateNotEquals,
            "DateLessThan" => Op::DateLessThan,
            "DateLessThanEquals" => Op::DateLessThanEquals,
            "DateGreaterThan" => Op::DateGreaterThan,
            "DateGreaterThanEquals" => Op::DateGreaterThanEquals,
            _ => return None,
        })
    }

    /// A negated operator matches when the value matches none of the policy's values, and
    /// (IAM's rule) is true when the key is absent.
    fn negated(self) -> bool {
        matches!(
            self,
            Op::StringNotEquals
                | Op::StringNotEqualsIgnoreCase
                | Op::StringNotLike
                | Op::ArnNotEquals
                | Op::ArnNotLike
                | Op::NotIpAddress
                | Op::DateNotEquals
        )
    }

    /// The positive form of a negated operator.
    fn positive(self) -> Op {
        match self {
            Op::StringNotEquals => Op::StringEquals,
            Op::StringNotEqualsIgnoreCase => Op::StringEqualsIgnoreCase,
            Op::StringNotLike => Op::StringLike,
            Op::ArnNotEquals => Op::ArnEquals,
            Op::ArnNotLike => Op::ArnLike,
            Op::NotIpAddress => Op::IpAddress,
            Op::DateNotEquals => Op::DateEquals,
            op => op,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetMode {
    Single,
    ForAnyValue,
    ForAllValues,
}

/// A policy value, pre-parsed for the operator that uses it.
#[derive(Clone, Debug)]
enum Expected {
    Text(String),
    Cidr(IpAddr, u8),
    Time(i64),
    Flag(bool),
}

/// One `"Operator": {"key": values}` entry (one key; a block with several keys is several
/// conditions, all of which must hold).
#[derive(Clone, Debug)]
pub struct Condition {
    pub op: Op,
    pub set: SetMode,
    pub if_exists: bool,
    /// The key as written; looked up case-insensitively.
    pub key: String,
    values: Vec<Expected>,
}

pub(crate) fn parse_block(block: &Map<String, Value>) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    for (name, entries) in block {
        let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
            (SetMode::ForAnyValue, r)
        } else if let Some(r) = name.strip_prefix("ForAllValues:") {
            (SetMode::ForAllValues, r)
        } else {
            (SetMode::Single, name.as_str())
        };
        let (if_exists, base) = match rest.strip_suffix("IfExists") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let op = Op::parse(base)
            .filter(|op| !(if_exists && *op == Op::Null))
            .ok_or_else(|| PolicyError::Condition(format!("unknown operator {name}")))?;
        let Value::Object(entries) = entries else {
            return Err(PolicyError::Condition(format!(
                "{name} must map keys to values"
            )));
        };
        for (key, values) in entries {
            let raw: Vec<String> = match values {
                Value::Array(list) => list.iter().map(scalar).collect::<Option<_>>(),
                v => scalar(v).map(|s| vec![s]),
            }
            .filter(|v: &Vec<String>| !v.is_empty())
            .ok_or_else(|| {
                PolicyError::Condition(format!(
                    "{name} {key}: values must be strings, numbers or booleans"
                ))
            })?;
            let values = raw
                .into_iter()
                .map(|v| {
                    expected(op, &v).ok_or_else(|| {
                        PolicyError::Condition(format!(
                            "{name} {key}: {v:?} is not a valid value for the operator"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            out.push(Condition {
                op,
                set,
                if_exists,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn expected(op: Op, v: &str) -> Option<Expected> {
    Some(match op.positive() {
        Op::IpAddress => {
            let (ip, bits) = parse_cidr(v)?;
            Expected::Cidr(ip, bits)
        }
        Op::Bool | Op::Null => Expected::Flag(match v.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return None,
        }),
        Op::DateEquals
        | Op::DateLessThan
        | Op::DateLessThanEquals
        | Op::DateGreaterThan
        | Op::DateGreaterThanEquals => Expected::Time(parse_time_ms(v)?),
        _ => Expected::Text(v.to_string()),
    })
}

/// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (all of its bits).
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let ip: IpAddr = addr.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.trim().parse::<u8>().ok().filter(|b| *b <= max)?,
        None => max,
    };
    Some((ip, bits))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, n, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(n)), 32u32)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        // An IPv4 caller seen on a dual-stack socket as ::ffff:a.b.c.d is the IPv4 address.
        (IpAddr::V6(a), IpAddr::V4(_)) => match a.to_ipv4_mapped() {
            Some(v4) => return in_cidr(IpAddr::V4(v4), net, bits),
            None => return false,
        },
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
    };
    let bits = u32::from(bits).min(width);
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (n >> shift)
}

/// An ISO 8601 time (`2026-12-07`, `2026-12-07T10:00:00Z`, fractions and `+hh:mm` offsets
/// allowed) or epoch seconds, as milliseconds since the epoch.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
        return s.parse::<i64>().ok()?.checked_mul(1000);
    }
    let num = |a: &str| -> Option<i64> {
        (!a.is_empty() && a.bytes().all(|c| c.is_ascii_digit())).then(|| a.parse().ok())?
    };
    let (date, time) = match s.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.splitn(3, '-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if !(1..=12).contains(&m) || day < 1 || day > rheo_stdx::calendar::days_in_month(y, m) {
        return None;
    }
    let mut ms = rheo_stdx::calendar::days_from_civil(y, m, day) * 86_400_000;
    if let Some(t) = time {
        let (clock, offset_ms) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(i) = t.rfind(['+', '-']) {
            let (c, off) = t.split_at(i);
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let off = off.get(1..)?;
            let (oh, om) = off.split_once(':').unwrap_or((off, "0"));
            (c, sign * (num(oh)? * 3_600_000 + num(om)? * 60_000))
        } else {
            (t, 0)
        };
        let (clock, frac) = match clock.split_once('.') {
            Some((c, f)) => (c, Some(f)),
            None => (clock, None),
        };
        let mut hms = clock.splitn(3, ':');
        let h = num(hms.next()?)?;
        let mi = hms.next().map(num).unwrap_or(Some(0))?;
        let sec = hms.next().map(num).unwrap_or(Some(0))?;
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let frac_ms = match frac {
            Some(f) => {
                let digits: String = f.chars().chain("000".chars()).take(3).collect();
                num(&digits)?
            }
            None => 0,
        };
        ms += h * 3_600_000 + mi * 60_000 + sec * 1000 + frac_ms - offset_ms;
    }
    Some(ms)
}

/// `2026-12-07T10:00:00Z`, the form AWS gives `aws:CurrentTime`.
pub fn format_time(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1000);
    let (y, m, d) = rheo_stdx::calendar::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl Condition {
    /// Whether the condition holds for the request.
    pub fn holds(&self, facts: &Facts<'_>) -> bool {
        let value = facts.lookup(&self.key);
        if self.op == Op::Null {
            let absent = value.as_ref().is_none_or(CtxValue::is_empty);
            return self
                .values
                .iter()
                .any(|v| matches!(v, Expected::Flag(want) if *want == absent));
        }
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return match self.set {
                // IAM: ForAllValues over no values is true; ForAnyValue over none is false.
                SetMode::ForAllValues => true,
                SetMode::ForAnyValue => false,
                SetMode::Single => self.if_exists || self.op.negated(),
            };
        };
        let positive = self.op.positive();
        let negated = self.op.negated();
        // One request value against the policy's values: any of them (or, negated, none).
        let one = |v: &CtxValue<'_>| {
            let hit = self.values.iter().any(|e| matches(positive, e, v));
            hit != negated
        };
        match self.set {
            SetMode::Single | SetMode::ForAnyValue => value.any(&one),
            SetMode::ForAllValues => value.all(&one),
        }
    }
}

/// A single request value against a single policy value, for a positive operator.
fn matches(op: Op, expected: &Expected, value: &CtxValue<'_>) -> bool {
    match (op, expected) {
        (Op::IpAddress, Expected::Cidr(net, bits)) => match value {
            CtxValue::Ip(ip) => in_cidr(*ip, *net, *bits),
            other => other
                .text()
                .parse::<IpAddr>()
                .is_ok_and(|ip| in_cidr(ip, *net, *bits)),
        },
        (Op::Bool, Expected::Flag(want)) => match value {
            CtxValue::Bool(b) => b == want,
            other => other
                .text()
                .eq_ignore_ascii_case(if *want { "true" } else { "false" }),
        },
        (Op::DateEquals, Expected::Time(t)) => value.time_ms() == Some(*t),
        (Op::DateLessThan, Expected::Time(t)) => value.time_ms().is_some_and(|v| v < *t),
        (Op::DateLessThanEquals, Expected::Time(t)) => value.time_ms().is_some_and(|v| v <= *t),
        (Op::DateGreaterThan, Expected::Time(t)) => value.time_ms().is_some_and(|v| v > *t),
        (Op::DateGreaterThanEquals, Expected::Time(t)) => value.time_ms().is_some_and(|v| v >= *t),
        (Op::StringEquals, Expected::Text(e)) => value.text() == e.as_str(),
        (Op::StringEqualsIgnoreCase, Expected::Text(e)) => value.text().eq_ignore_ascii_case(e),
        (Op::StringLike, Expected::Text(e)) => glob(e, &value.text(), false),
        (Op::ArnEquals | Op::ArnLike, Expected::Text(e)) => arn_match(e, &value.text()),
        _ => false,
    }
}

impl CtxValue<'_> {
    /// The value as text (a bool as `true`/`false`, a time as ISO 8601).
    pub(crate) fn text(&self) -> Cow<'_, str> {
        match self {
            CtxValue::Str(s) => Cow::Borrowed(s),
            CtxValue::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            CtxValue::Ip(ip) => Cow::Owned(ip.to_string()),
            CtxValue::Time(ms) => Cow::Owned(format_time(*ms)),
            CtxValue::List(_) => Cow::Borrowed(""),
        }
    }

    fn time_ms(&self) -> Option<i64> {
        match self {
            CtxValue::Time(ms) => Some(*ms),
            other => parse_time_ms(&other.text()),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, CtxValue::List(l) if l.is_empty())
    }

    fn any(&self, f: &dyn Fn(&CtxValue<'_>) -> bool) -> bool {
        match self {
            CtxValue::List(l) => l.iter().any(|s| f(&CtxValue::Str(s))),
            v => f(v),
        }
    }

    fn all(&self, f: &dyn Fn(&CtxValue<'_>) -> bool) -> bool {
        match self {
            CtxValue::List(l) => l.iter().all(|s| f(&CtxValue::Str(s))),
            v => f(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_cover_v4_and_v6() {
        let (n, b) = parse_cidr("10.1.0.0/16").unwrap();
        assert!(in_cidr("10.1.2.3".parse().unwrap(), n, b));
        assert!(!in_cidr("10.2.0.1".parse().unwrap(), n, b));
        assert!(in_cidr("::ffff:10.1.9.9".parse().unwrap(), n, b));
        let (n, b) = parse_cidr("2001:db8::/32").unwrap();
        assert!(in_cidr("2001:db8:1::5".parse().unwrap(), n, b));
        assert!(!in_cidr("2001:db9::5".parse().unwrap(), n, b));
        assert!(!in_cidr("10.1.2.3".parse().unwrap(), n, b));
        let (n, b) = parse_cidr("0.0.0.0/0").unwrap();
        assert!(in_cidr("192.0.2.1".parse().unwrap(), n, b));
        assert_eq!(
            parse_cidr("203.0.113.7"),
            Some(("203.0.113.7".parse().unwrap(), 32))
        );
        assert_eq!(parse_cidr("10.0.0.0/33"), None);
        assert_eq!(parse_cidr("nope"), None);
    }

    #[test]
    fn times_parse_in_iso_8601_and_epoch_seconds() {
        assert_eq!(parse_time_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time_ms("86400"), Some(86_400_000));
        assert_eq!(parse_time_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_time_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_time_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_time_ms("2026-13-01"), None);
        assert_eq!(parse_time_ms("2026-02-30"), None);
        let t = parse_time_ms("2026-12-07T21:05:09Z").unwrap();
        assert_eq!(format_time(t), "2026-12-07T21:05:09Z");
    }
}
