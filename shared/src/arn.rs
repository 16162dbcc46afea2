//! Lambda function ARNs, as the rotator, the CLI and the stand-ins read them: the one
//! place that knows where the name, the region and a version or alias sit.
//!
//! Shape (Lambda API reference, "FunctionName" and "Qualifier"; IAM user guide, ARN
//! format): `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`, where the
//! qualifier is a version number, `$LATEST` or an alias.

use core::fmt;

/// A Lambda function ARN, unqualified or qualified by a version or alias.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FunctionArn {
    text: String,
    /// Byte offset of `NAME` and its end.
    name: (usize, usize),
    /// Byte offset of `REGION` and its end.
    region: (usize, usize),
}

/// A string that is not a Lambda function ARN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a Lambda function ARN (arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])"
)]
pub struct NotFunctionArn;

impl FunctionArn {
    /// Parse `text`; fails unless it has the shape above with non-empty parts.
    pub fn parse(text: &str) -> Result<Self, NotFunctionArn> {
        let parts: Vec<&str> = text.split(':').collect();
        let shaped = matches!(parts.len(), 7 | 8)
            && parts.first() == Some(&"arn")
            && parts.get(2) == Some(&"lambda")
            && parts.get(5) == Some(&"function")
            && parts.iter().all(|p| !p.is_empty());
        if !shaped {
            return Err(NotFunctionArn);
        }
        let offset = |index: usize| -> usize {
            parts.iter().take(index).map(|p| p.len() + 1).sum::<usize>()
        };
        let span = |index: usize| {
            let start = offset(index);
            (start, start + parts.get(index).map_or(0, |p| p.len()))
        };
        Ok(Self {
            text: text.to_owned(),
            name: span(6),
            region: span(3),
        })
    }

    /// The ARN as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `NAME`.
    pub fn name(&self) -> &str {
        self.text.get(self.name.0..self.name.1).unwrap_or_default()
    }

    /// `REGION`.
    pub fn region(&self) -> &str {
        self.text
            .get(self.region.0..self.region.1)
            .unwrap_or_default()
    }

    /// The version number, `$LATEST` or alias after the name, if any.
    pub fn qualifier(&self) -> Option<&str> {
        self.text.get(self.name.1..)?.strip_prefix(':')
    }

    /// The ARN without its qualifier.
    pub fn unqualified(&self) -> &str {
        self.text.get(..self.name.1).unwrap_or_default()
    }
}

impl fmt::Display for FunctionArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for FunctionArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FunctionArn({})", self.text)
    }
}

/// `NAME` of a function ARN (qualified or not); anything else (a bare function name, as
/// Lambda's `FunctionName` also takes) is returned as given.
pub fn function_name(name_or_arn: &str) -> &str {
    match FunctionArn::parse(name_or_arn) {
        Ok(arn) => {
            let (start, end) = arn.name;
            name_or_arn.get(start..end).unwrap_or(name_or_arn)
        }
        Err(NotFunctionArn) => name_or_arn,
    }
}

/// `arn` without its qualifier; anything that is not a function ARN is returned as given.
pub fn unqualified_arn(arn: &str) -> &str {
    match FunctionArn::parse(arn) {
        Ok(parsed) => arn.get(..parsed.name.1).unwrap_or(arn),
        Err(NotFunctionArn) => arn,
    }
}

/// The version number, `$LATEST` or alias of a function ARN, if it has one; `None` for
/// an unqualified ARN and for anything that is not a function ARN.
pub fn arn_qualifier(arn: &str) -> Option<&str> {
    let parsed = FunctionArn::parse(arn).ok()?;
    arn.get(parsed.name.1..)?.strip_prefix(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";

    #[test]
    fn parts_of_an_unqualified_and_a_qualified_arn() {
        let arn = FunctionArn::parse(BASE).unwrap();
        assert_eq!(
            (arn.name(), arn.region(), arn.qualifier(), arn.unqualified()),
            ("edge", "us-east-1", None, BASE)
        );
        let seven = FunctionArn::parse(&format!("{BASE}:7")).unwrap();
        assert_eq!(
            (seven.name(), seven.qualifier(), seven.unqualified()),
            ("edge", Some("7"), BASE)
        );
        let latest = FunctionArn::parse(&format!("{BASE}:$LATEST")).unwrap();
        assert_eq!(latest.qualifier(), Some("$LATEST"));
        let china = FunctionArn::parse("arn:aws-cn:lambda:cn-north-1:1:function:f").unwrap();
        assert_eq!((china.name(), china.region()), ("f", "cn-north-1"));
    }

    #[test]
    fn what_is_not_a_function_arn_is_refused_or_passed_through() {
        for text in [
            "edge",
            "",
            "arn:aws:lambda:us-east-1:1:layer:edge",
            "arn:aws:s3:::bucket",
            "arn:aws:lambda:us-east-1:1:function:",
            "arn:aws:lambda:us-east-1:1:function:edge:7:extra",
            "arn:aws:lambda::1:function:edge",
        ] {
            assert_eq!(FunctionArn::parse(text), Err(NotFunctionArn), "{text}");
            assert_eq!(function_name(text), text);
            assert_eq!(unqualified_arn(text), text);
            assert_eq!(arn_qualifier(text), None);
        }
        assert_eq!(function_name(&format!("{BASE}:7")), "edge");
        assert_eq!(unqualified_arn(&format!("{BASE}:7")), BASE);
        assert_eq!(arn_qualifier(&format!("{BASE}:7")), Some("7"));
        assert_eq!(arn_qualifier(BASE), None);
    }
}
