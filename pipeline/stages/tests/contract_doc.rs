//! `schemas/README.md` against the code: its "Error kinds" table lists
//! exactly the kinds a dead letter can carry, and its "Limits" table names
//! every parse limit with its default and the wire, id and depth limits
//! with their values. No broker needed.

use docflow_parse::{ParseError, ParseLimits};
use docflow_schemas::{CodecError, Limits, MAX_DEPTH, MAX_ID_BYTES, MAX_MESSAGE_BYTES};
use docflow_store::StoreError;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn readme() -> String {
    std::fs::read_to_string(repo().join("schemas/README.md")).unwrap()
}

/// The rows of the markdown table under `## {heading}`, as cells.
fn table(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let start = doc.find(&format!("\n## {heading}\n")).unwrap_or_else(|| panic!("no section {heading}"));
    let section = &doc[start + 4..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .skip(1)
        .map(|l| l.trim_matches('|').split(" | ").map(|c| c.trim().to_string()).collect())
        .collect()
}

/// Kinds given as literals in `StageError::user_input("…")` (and `external`,
/// `internal`) in the non-test source of every crate; `docflow process`
/// (`pipeline/stages/src/offline/`) writes no dead letters and is left out.
fn literal_kinds() -> BTreeSet<String> {
    let re = regex::Regex::new(r#"StageError::(?:user_input|external|internal)\(\s*"([a-z0-9_]+)""#).unwrap();
    let mut out = BTreeSet::new();
    let mut stack = vec![repo().join("pipeline"), repo().join("schemas/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() && !["tests", "fuzz", "target", "examples", "benches", "offline"].contains(&name.as_str()) {
                stack.push(path);
            } else if name.ends_with(".rs") && path.components().any(|c| c.as_os_str() == "src") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                out.extend(re.captures_iter(code).map(|c| c[1].to_string()));
            }
        }
    }
    out
}

#[test]
fn error_kinds_in_the_contract_match_the_code() {
    let doc = readme();
    let documented: BTreeSet<String> = table(&doc, "Error kinds").iter().map(|row| row[0].trim_matches('`').to_string()).collect();
    let mut code: BTreeSet<String> = literal_kinds();
    code.extend(CodecError::KINDS.iter().map(|k| k.to_string()));
    code.extend(ParseError::KINDS.iter().map(|k| k.to_string()));
    code.extend(StoreError::KINDS.iter().map(|k| k.to_string()));
    let undocumented: Vec<_> = code.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&code).collect();
    assert!(undocumented.is_empty() && stale.is_empty(), "kinds in the code but not in schemas/README.md: {undocumented:?}; documented but not in the code: {stale:?}");
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

#[test]
fn limits_in_the_contract_match_the_code() {
    let doc = readme();
    let rows = table(&doc, "Limits");
    let row = |needle: &str| {
        rows.iter().find(|r| r[2].contains(needle)).unwrap_or_else(|| panic!("no Limits row for {needle}")).clone()
    };
    // Every parse limit, by its config name, with its default.
    let defaults = serde_json::to_value(ParseLimits::default()).unwrap();
    for (name, value) in defaults.as_object().unwrap() {
        let r = row(&format!(" {name}`"));
        let v = value.as_u64().unwrap();
        let want = if name.ends_with("_bytes") {
            human_bytes(v)
        } else if name.ends_with("_ms") && v % 1000 == 0 {
            format!("{} s", v / 1000)
        } else {
            v.to_string()
        };
        assert!(r[1].starts_with(&want), "{name}: the contract says {:?}, the code {want}", r[1]);
    }
    assert_eq!(row("Limits::max_encoded_bytes")[1], human_bytes(Limits::DEFAULT.max_encoded_bytes as u64));
    assert_eq!(row("Limits::max_decoded_bytes")[1], human_bytes(Limits::DEFAULT.max_decoded_bytes as u64));
    assert_eq!(row("MAX_MESSAGE_BYTES")[1], human_bytes(MAX_MESSAGE_BYTES as u64));
    assert_eq!(row("MAX_DEPTH")[1], MAX_DEPTH.to_string());
    assert_eq!(row("MAX_ID_BYTES")[1], human_bytes(MAX_ID_BYTES as u64));
    assert!(row("MAX_ORIGINAL_BYTES")[1].starts_with(&human_bytes(docflow_runtime::dlq::MAX_ORIGINAL_BYTES as u64)));
    // The stage reads what the wire allows, and the parse stage what a record holds.
    assert_eq!(docflow_runtime::StageConfig::default().max_record_bytes, Limits::DEFAULT.max_encoded_bytes);
    assert_eq!(ParseLimits::default().max_document_bytes, Limits::DEFAULT.max_encoded_bytes);
    assert_eq!(ParseLimits::default().max_json_depth, MAX_DEPTH);
    // topics.toml says the same record size.
    let topics = std::fs::read_to_string(repo().join("topics/topics.toml")).unwrap();
    assert!(topics.contains(&format!("max_message_bytes = {MAX_MESSAGE_BYTES}")), "topics/topics.toml max_message_bytes");
}
