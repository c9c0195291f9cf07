//! Wildcard matching as IAM does it: `*` matches any run of characters (none included), `?`
//! exactly one. Action names are matched case-insensitively, ARNs component by component and
//! case-sensitively.

/// Whether `text` matches `pattern` (`*` and `?` wildcards). Linear in practice: the classic
/// backtrack-to-last-star walk, with no allocation.
pub fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let same = |a: u8, b: u8| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0usize, 0usize);
    // Where the last `*` was, and the text position it is currently taken to cover up to.
    let mut star: Option<(usize, usize)> = None;
    while let Some(&tc) = t.get(ti) {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&pc) if pc == b'?' || same(pc, tc) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// The six colon-separated components of an ARN (`arn:partition:service:region:account:resource`,
/// the resource may hold further colons), or `None` for anything else.
pub fn arn_parts(arn: &str) -> Option<[&str; 6]> {
    let mut it = arn.splitn(6, ':');
    let parts = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    (parts[0] == "arn").then_some(parts)
}

/// The account component of an ARN, when it has one.
pub fn arn_account(arn: &str) -> Option<&str> {
    arn_parts(arn).map(|p| p[4]).filter(|a| !a.is_empty())
}

/// Whether `arn` matches the ARN pattern `pattern`: `*` alone matches everything; otherwise
/// each of the six components is matched on its own (a wildcard does not cross a component's
/// colon), case-sensitively, as IAM matches `Resource` and the `Arn*` operators.
pub fn arn_match(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match (arn_parts(pattern), arn_parts(arn)) {
        (Some(p), Some(a)) => p.iter().zip(a.iter()).all(|(p, a)| glob(p, a, false)),
        // An ARN pattern with too few components matches nothing; a pattern that is no ARN at
        // all can still name a non-ARN value exactly or by wildcard.
        (None, _) if pattern.starts_with("arn:") => false,
        (Some(_), None) => false,
        _ => glob(pattern, arn, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(glob("*", "", false));
        assert!(glob("*", "anything", false));
        assert!(glob("kinesis:Put*", "kinesis:PutRecords", false));
        assert!(glob("kinesis:put*", "kinesis:PutRecords", true));
        assert!(!glob("kinesis:put*", "kinesis:PutRecords", false));
        assert!(glob("kinesis:Get?ecords", "kinesis:GetRecords", false));
        assert!(!glob("kinesis:Get?ecords", "kinesis:GetRRecords", false));
        assert!(glob("a*b*c", "aXXbYYc", false));
        assert!(!glob("a*b*c", "aXXbYY", false));
        assert!(glob("*Stream*", "kinesis:DescribeStreamSummary", false));
        assert!(!glob("abc", "abcd", false));
        assert!(!glob("abcd", "abc", false));
        assert!(glob("ab**", "ab", false));
    }

    #[test]
    fn arns_match_component_by_component() {
        let arn = "arn:aws:kinesis:us-east-1:111111111111:stream/orders";
        assert!(arn_match("*", arn));
        assert!(arn_match("arn:aws:kinesis:*:*:stream/*", arn));
        assert!(arn_match(
            "arn:aws:kinesis:us-east-?:111111111111:stream/ord*",
            arn
        ));
        assert!(!arn_match("arn:aws:kinesis:*:222222222222:stream/*", arn));
        // A `*` in the region does not swallow the account.
        assert!(!arn_match("arn:aws:kinesis:*:stream/orders", arn));
        assert!(!arn_match("arn:aws:kinesis:*:*:Stream/*", arn));
        let consumer = "arn:aws:kinesis:us-east-1:111111111111:stream/orders/consumer/c:1700000000";
        assert!(arn_match(
            "arn:aws:kinesis:*:*:stream/orders/consumer/*",
            consumer
        ));
        assert!(!arn_match("arn:aws:kinesis:*:*:stream/other/*", consumer));
        assert_eq!(arn_account(arn), Some("111111111111"));
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
        assert_eq!(arn_account("*"), None);
    }
}
