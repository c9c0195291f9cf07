//! The dependency rules of ARCHITECTURE.md, enforced: every workspace crate's manifest may name
//! only the workspace crates its row of the "Dependency rules" table allows, in any dependency
//! section. The table is the one source: adding an edge means editing ARCHITECTURE.md, which
//! is where an architecture change is reviewed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Crate name -> (state, allowed workspace dependencies), from the table of ARCHITECTURE.md.
type Rules = BTreeMap<String, (String, BTreeSet<String>)>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The rules of the "Dependency rules" table.
fn rules(architecture: &str) -> Rules {
    let section = architecture
        .split("\n## Dependency rules")
        .nth(1)
        .expect("ARCHITECTURE.md has a '## Dependency rules' section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut rules = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // ["", crate, state, allowed, invariant, ""]
        assert!(cells.len() >= 5, "malformed rule row: {line}");
        let name = cells[1].trim_matches('`').to_string();
        let allowed = cells[3]
            .split(',')
            .map(|c| c.trim().trim_matches('`'))
            .filter(|c| c.starts_with("rheo-"))
            .map(str::to_string)
            .collect();
        let previous = rules.insert(name.clone(), (cells[2].to_string(), allowed));
        assert!(previous.is_none(), "{name} has two rows");
    }
    rules
}

/// Workspace member directories, from the root manifest.
fn members(root_manifest: &toml::Table) -> Vec<String> {
    root_manifest["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

/// Every dependency name (normal, dev, build; also under `[target.'cfg(..)'.*]`) of a manifest.
fn dependency_names(manifest: &toml::Table) -> BTreeSet<String> {
    let sections = ["dependencies", "dev-dependencies", "build-dependencies"];
    let mut tables: Vec<&toml::Table> = sections
        .iter()
        .filter_map(|s| manifest.get(*s).and_then(toml::Value::as_table))
        .collect();
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        for target in targets.values().filter_map(toml::Value::as_table) {
            tables.extend(
                sections
                    .iter()
                    .filter_map(|s| target.get(*s).and_then(toml::Value::as_table)),
            );
        }
    }
    let mut names = BTreeSet::new();
    for table in tables {
        for (key, value) in table {
            // `foo = { package = "rheo-log", ... }` renames; the package is what counts.
            let package = value
                .get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(key);
            names.insert(package.to_string());
        }
    }
    names
}

/// The violations of `rules` by the crate `name` whose manifest is `manifest`, given the
/// workspace's crate names.
fn violations(
    rules: &Rules,
    workspace: &BTreeSet<String>,
    name: &str,
    manifest: &toml::Table,
) -> Vec<String> {
    let Some((_, allowed)) = rules.get(name) else {
        return vec![format!(
            "{name} has no row in ARCHITECTURE.md's dependency rules"
        )];
    };
    dependency_names(manifest)
        .into_iter()
        .filter(|d| workspace.contains(d) || d.starts_with("rheo-"))
        .filter(|d| !allowed.contains(d))
        .map(|d| format!("{name} depends on {d}, which its rule does not allow"))
        .collect()
}

fn load() -> (Rules, Vec<(String, toml::Table)>) {
    let root = root();
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let root_manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let crates = members(&root_manifest)
        .into_iter()
        .map(|dir| {
            let manifest: toml::Table = std::fs::read_to_string(root.join(&dir).join("Cargo.toml"))
                .unwrap()
                .parse()
                .unwrap();
            let name = manifest["package"]["name"].as_str().unwrap().to_string();
            (name, manifest)
        })
        .collect();
    (rules(&architecture), crates)
}

#[test]
fn every_workspace_crate_keeps_to_its_dependency_rule() {
    let (rules, crates) = load();
    let workspace: BTreeSet<String> = crates.iter().map(|(n, _)| n.clone()).collect();
    let mut problems = Vec::new();
    for (name, manifest) in &crates {
        problems.extend(violations(&rules, &workspace, name, manifest));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_table_names_the_crates_that_exist_and_only_allows_known_ones() {
    let (rules, crates) = load();
    assert!(rules.len() >= crates.len(), "the table is missing rows");
    for (name, _) in &crates {
        let (state, _) = &rules[name];
        assert_eq!(state, "crate", "{name} exists but its row says {state}");
    }
    let existing: BTreeSet<&str> = crates.iter().map(|(n, _)| n.as_str()).collect();
    for (name, (state, allowed)) in &rules {
        if state == "planned" {
            assert!(
                !existing.contains(name.as_str()),
                "{name} exists: mark it 'crate'"
            );
        }
        for dep in allowed {
            assert!(
                rules.contains_key(dep),
                "{name} allows {dep}, which has no row"
            );
            assert_ne!(dep, name, "{name} allows itself");
        }
    }
    // The bottom of the stack stays at the bottom: the engine and the service-free crates
    // never reach up to a domain, a binding or the binary.
    for low in ["rheo-stdx", "rheo-log", "rheo-proto", "rheo-http"] {
        for dep in &rules[low].1 {
            assert!(
                dep == "rheo-stdx",
                "{low} may depend on {dep}: only rheo-stdx is below it"
            );
        }
    }
}

#[test]
fn a_forbidden_edge_is_reported() {
    let (rules, crates) = load();
    let workspace: BTreeSet<String> = crates.iter().map(|(n, _)| n.clone()).collect();
    // rheo-log gaining rheo-streams as a dev-dependency, and rheo-api-kinesis reaching the
    // engine under a renamed key: both must be caught.
    let log: toml::Table = "[package]\nname = \"rheo-log\"\n[dev-dependencies]\nrheo-streams = { path = \"../rheo-streams\" }\n"
        .parse()
        .unwrap();
    assert_eq!(violations(&rules, &workspace, "rheo-log", &log).len(), 1);
    let api: toml::Table = "[target.'cfg(unix)'.dependencies]\nengine = { package = \"rheo-log\", path = \"../rheo-log\" }\n"
        .parse()
        .unwrap();
    assert_eq!(
        violations(&rules, &workspace, "rheo-api-kinesis", &api).len(),
        1
    );
    let unknown: toml::Table = "[dependencies]\n".parse().unwrap();
    assert_eq!(
        violations(&rules, &workspace, "rheo-unlisted", &unknown).len(),
        1
    );
}
