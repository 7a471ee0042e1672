//! Nesting depth of a TOML document, measured and taken apart without
//! recursion.
//!
//! The `toml` crate limits arrays and inline tables to 80 levels and dotted
//! keys and table headers to 80 parts each, but the limits combine to some
//! 6 500 nested tables in 13 KB, and dropping a parsed document recurses
//! once per level (about 1 MiB of stack for that input). Both policy
//! parsers therefore measure the depth here first, on a tree they take
//! apart level by level, and refuse a policy nested deeper than
//! [`MAX_POLICY_NESTING`](crate::retention::MAX_POLICY_NESTING) before the
//! typed parse builds (and drops) it.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A document nested deeper than the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TooDeep {
    /// The deepest nesting found (the root table is level 0, a top-level
    /// table or array level 1).
    pub depth: usize,
    /// The byte span of the first table or array (by position) that lies
    /// deeper than the limit.
    pub span: Range<usize>,
}

/// Check that no table or array in `text` is nested more than `limit`
/// levels deep.
///
/// A text that is not valid TOML is measured as far as the parser
/// recovers; if that part is not too deep, `Ok` is returned and the
/// caller's normal parse reports the syntax error.
pub(crate) fn check_nesting(text: &str, limit: usize) -> Result<(), TooDeep> {
    // The recoverable parse hands back what it built even on an error, so
    // a deep tree is never dropped recursively inside the crate.
    let (root, _errors) = DeTable::parse_recoverable(text);
    let mut deepest = 0;
    let mut first: Option<Range<usize>> = None;
    let mut work: Vec<(usize, Spanned<DeValue<'_>>)> =
        root.into_inner().into_iter().map(|(_, v)| (1, v)).collect();
    while let Some((depth, value)) = work.pop() {
        let span = value.span();
        // Move the children into the work list, so that the emptied table
        // or array drops without recursing.
        match value.into_inner() {
            DeValue::Table(table) => work.extend(table.into_iter().map(|(_, v)| (depth + 1, v))),
            DeValue::Array(array) => work.extend(array.into_iter().map(|v| (depth + 1, v))),
            _ => continue,
        }
        deepest = deepest.max(depth);
        if depth > limit && first.as_ref().is_none_or(|f| span.start < f.start) {
            first = Some(span);
        }
    }
    match first {
        None => Ok(()),
        Some(span) => Err(TooDeep {
            depth: deepest,
            span,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deepest nesting in `text` (0 for no table or array).
    fn depth(text: &str) -> usize {
        (0..)
            .find(|&limit| check_nesting(text, limit).is_ok())
            .unwrap()
    }

    #[test]
    fn depths() {
        assert_eq!(depth(""), 0);
        assert_eq!(depth("a = 1"), 0);
        assert_eq!(depth("a = []"), 1);
        assert_eq!(depth("[a]\nb = 1"), 1);
        assert_eq!(depth("[[a]]\nb = 1"), 2);
        assert_eq!(depth("a.b.c = 1"), 2);
        assert_eq!(depth("[a.b]\nc = { d = [[1]] }"), 5);
        let err = check_nesting("x = 1\ny = [[[]]]", 2).unwrap_err();
        assert_eq!(err.depth, 3);
        assert_eq!("x = 1\ny = [[[]]]".get(err.span), Some("[]"));
        // Invalid TOML: measured as far as it parses.
        assert!(check_nesting("a = [[[", 1).is_err());
        assert!(check_nesting("a = ", 1).is_ok());
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "parsing the 16 KB shipped retention policy takes many minutes under Miri"
    )]
    fn shipped_policies_are_shallow() {
        let consent = depth(crate::consent::DEFAULT_POLICY_TOML);
        let retention = depth(crate::retention::DEFAULT_POLICY);
        assert!(consent <= 4 && retention <= 4, "{consent} {retention}");
    }
}
