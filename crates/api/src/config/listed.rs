//! `.env.example` and the README's configuration table list every declared key, and
//! `.env.example` shows each one's default: the declarations are the source, these files
//! follow. `.ci/check_deploy.py` takes its key list from `.env.example` (for the
//! docker-compose checks), which this test holds to the declarations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{Fallback, Settings};

/// Keys documented beside the declared ones but read elsewhere: `RUST_LOG`, by `tracing`'s
/// `EnvFilter` (see `telemetry`).
const READ_ELSEWHERE: &[&str] = &["RUST_LOG"];

fn repository_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn is_key(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `# KEY=value` lines: each key with every value it is given.
fn env_example() -> BTreeMap<String, Vec<String>> {
    let mut listed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in repository_file(".env.example").lines() {
        let line = line.trim();
        assert!(
            !line.split_once('=').is_some_and(|(k, _)| is_key(k.trim())),
            ".env.example sets {line:?}: copying it to .env must change nothing"
        );
        if let Some((key, value)) = line
            .strip_prefix('#')
            .and_then(|rest| rest.trim_start().split_once('='))
            .filter(|(key, _)| is_key(key))
        {
            listed
                .entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    listed
}

/// The keys of the README's table rows that start with a key: ``| `KEY` |``.
fn readme_table() -> BTreeSet<String> {
    repository_file("README.md")
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split_once("` |"))
        .map(|(key, _)| key.to_owned())
        .filter(|key| is_key(key))
        .collect()
}

#[test]
fn env_example_lists_every_key_once_with_its_default() {
    let keys = Settings::keys().unwrap();
    let listed = env_example();
    for key in &keys {
        let values = listed.get(key.name).map(Vec::as_slice).unwrap_or_default();
        let [value] = values else {
            panic!(
                "{}: {} lines in .env.example, not one",
                key.name,
                values.len()
            );
        };
        match key.fallback {
            Fallback::Value(default) => assert_eq!(value, default, "{}", key.name),
            Fallback::Unset(_) => assert_eq!(value, "", "{}: unset by default", key.name),
            Fallback::Computed(_) => {}
        }
    }
    let declared: BTreeSet<&str> = keys.iter().map(|k| k.name).collect();
    for key in listed.keys() {
        assert!(
            declared.contains(key.as_str()) || READ_ELSEWHERE.contains(&key.as_str()),
            ".env.example lists {key}, which authd does not read"
        );
    }
}

#[test]
fn the_readme_table_lists_every_key() {
    let table = readme_table();
    let keys = Settings::keys().unwrap();
    let names = keys
        .iter()
        .map(|k| k.name)
        .chain(READ_ELSEWHERE.iter().copied());
    for name in names {
        assert!(
            table.contains(name),
            "README.md: {name} is not in the table"
        );
    }
}
