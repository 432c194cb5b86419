//! The key list of the serde structs against the module docs and the kinds.

use super::spec::{FileSpec, SectionKeys, fractal_keys, sections};

/// The `//!` lines of `mod.rs` between `[section]` and the next section header.
fn doc_block(section: &str) -> String {
    let docs: Vec<&str> = include_str!("mod.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .collect();
    let header = format!(" [{section}]");
    let start = docs
        .iter()
        .position(|l| *l == header)
        .unwrap_or_else(|| panic!("no {header} in the module docs"));
    docs[start + 1..]
        .iter()
        .take_while(|l| !(l.starts_with(" [") && l.ends_with(']')))
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

fn names(block: &str, key: &str) -> bool {
    block
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .any(|w| w == key)
}

#[test]
fn module_docs_list_every_key_and_kind() {
    for (section, keys) in sections() {
        let block = doc_block(section);
        let keys: Vec<&str> = match &keys {
            SectionKeys::Plain(keys) => keys.to_vec(),
            SectionKeys::Kinds(kinds) => {
                let mut all = vec!["kind"];
                for (kind, keys) in kinds {
                    assert!(
                        names(&block, kind),
                        "[{section}] kind {kind} not in the docs"
                    );
                    all.extend_from_slice(keys);
                }
                all
            }
        };
        for key in keys {
            assert!(names(&block, key), "{section}.{key} not in the module docs");
        }
    }
    let block = doc_block("equation");
    for key in fractal_keys() {
        assert!(
            names(&block, key),
            "equation.fractal.{key} not in the module docs"
        );
    }
}

#[test]
fn each_kind_reads_into_its_variant() {
    for (section, keys) in sections() {
        let SectionKeys::Kinds(kinds) = keys else {
            continue;
        };
        for (kind, _) in kinds {
            let mut t = toml::Table::new();
            t.insert("kind".into(), toml::Value::String(kind.into()));
            let mut root = toml::Table::new();
            root.insert(section.into(), toml::Value::Table(t));
            let spec = FileSpec::from_table(&root).unwrap();
            // the serde tag of the variant read is the kind asked for
            let v = serde_json::to_value(&spec).unwrap();
            assert_eq!(v[section]["kind"], kind, "[{section}] kind = {kind}");
        }
    }
}

#[test]
fn wrong_types_name_the_key() {
    let cases = [
        ("[domain]\ncells = \"many\"", "domain.cells", "integer"),
        ("[domain]\nlower = [0.0, \"x\"]", "domain.lower", "number"),
        ("[time]\nsteps = 1.5", "time.steps", "integer"),
        (
            "[output]\nsnapshots = 1",
            "output.snapshots",
            "true or false",
        ),
        (
            "[potential]\nkind = \"power\"\nk = \"two\"",
            "potential.k",
            "number",
        ),
        (
            "[equation.fractal]\nxi = false",
            "equation.fractal.xi",
            "number",
        ),
        (
            "[grid]\nkind = \"sparse\"\nthreads = \"all\"",
            "grid.threads",
            "integer",
        ),
        ("[initial]\nkind = 3", "initial.kind", "string"),
        ("domain = 3", "domain", "table"),
    ];
    for (text, key, expected) in cases {
        let root: toml::Table = text.parse().unwrap();
        let e = FileSpec::from_table(&root).unwrap_err().to_string();
        assert!(
            e.contains(&format!("`{key}`")) && e.contains(expected),
            "{text}: {e}"
        );
    }
}
