//! The documents list exactly the shipped policies of `policies::NAMES`
//! (plus `routing`, built from a configuration file), so that adding,
//! renaming or removing a policy without its documentation fails here.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("the document exists")
}

/// The names in the first column of the Markdown table that follows the
/// line `heading`, in order.
fn table_names(doc: &str, heading: &str) -> Vec<String> {
    let after = &doc[doc.find(heading).unwrap_or_else(|| panic!("no '{heading}'"))..];
    after
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| `")?.split_once('`').map(|(name, _)| name.to_owned()))
        .collect()
}

fn documented() -> Vec<String> {
    policies::NAMES.iter().copied().chain(["routing"]).map(str::to_owned).collect()
}

/// docs/policies.md has one row per policy, in the order of `NAMES`.
#[test]
fn policies_md_table_is_the_list() {
    assert_eq!(table_names(&read("docs/policies.md"), "## The shipped policies"), documented());
}

/// The README's table and its synopsis name the same policies.
#[test]
fn readme_lists_the_policies() {
    let readme = read("README.md");
    assert_eq!(table_names(&readme, "## The shipped policies"), documented());
    let synopsis = format!("scx_relay [--policy {} | --config FILE]", policies::NAMES.join("|"));
    assert!(readme.contains(&synopsis), "README.md lacks the synopsis line '{synopsis}'");
}
