//! The shipped policies as the command line's help lists them, built from
//! [`policies::SHIPPED`] so that no help text repeats the list.

/// `fifo, deadline, eevdf, interactive or local`.
pub(crate) fn names_or() -> String {
    join_or(policies::NAMES.iter().map(|n| (*n).to_owned()).collect())
}

/// `fifo (what it does), deadline (what it does), ... or local (what it does)`.
pub(crate) fn described() -> String {
    join_or(policies::SHIPPED.iter().map(|(name, what)| format!("{name} ({what})")).collect())
}

/// `a, b, c or d`.
fn join_or(mut items: Vec<String>) -> String {
    match items.pop() {
        Some(last) if !items.is_empty() => format!("{} or {last}", items.join(", ")),
        Some(last) => last,
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lists read as prose, whatever their length.
    #[test]
    fn joins_with_or() {
        let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(join_or(owned(&[])), "");
        assert_eq!(join_or(owned(&["a"])), "a");
        assert_eq!(join_or(owned(&["a", "b"])), "a or b");
        assert_eq!(join_or(owned(&["a", "b", "c"])), "a, b or c");
        assert_eq!(names_or(), "fifo, deadline, eevdf, interactive or local");
    }
}
