//! The source layout's import rule, checked: `request/` and `response/` import nothing from
//! other folders, `listing/` may use both, `token.rs` all three, and inside a folder a module
//! imports only from modules below it (the order written in each folder's `mod.rs`). Test
//! code (from the first `#[cfg(test)]` on) and comments are not looked at.

use std::collections::BTreeSet;
use std::path::Path;

/// Every module as `(folder, module, rank)`: within a folder, a module may import only
/// from a lower rank; across folders, `rank` is the folder's.
const MODULES: &[(&str, &str, u8)] = &[
    ("request", "builder", 0),
    ("request", "query", 1),
    ("request", "url", 2),
    ("request", "parts", 3),
    ("request", "http", 4),
    ("response", "retry_after", 0),
    ("response", "failure", 0),
    ("response", "decode_error", 0),
    ("response", "json", 1),
    ("response", "storage", 2),
    ("response", "model", 3),
    ("response", "error", 4),
    ("response", "decode", 5),
    ("response", "outcome", 6),
    ("listing", "retry", 0),
    ("listing", "pace", 0),
    ("listing", "paginate", 0),
    ("listing", "checkpoint", 0),
    ("listing", "listing", 1),
    ("token", "token", 0),
];

/// Folder ranks: a folder may import only from a lower one.
const FOLDERS: &[(&str, u8)] = &[
    ("request", 0),
    ("response", 0),
    ("listing", 1),
    ("token", 2),
];

/// The one permitted back-reference: the public `Storage` trait bounds its lists by
/// `Connection<Self>` and `ErrorEntry<Self>`, which are generic over `Storage`.
const EXCEPTIONS: &[(&str, &str)] = &[
    ("response/storage", "response/model"),
    ("response/storage", "response/error"),
];

fn rank(folder: &str, module: &str) -> Option<u8> {
    MODULES
        .iter()
        .find(|(f, m, _)| *f == folder && *m == module)
        .map(|(_, _, r)| *r)
}

fn folder_rank(folder: &str) -> Option<u8> {
    FOLDERS.iter().find(|(f, _)| *f == folder).map(|(_, r)| *r)
}

/// The code of a file before its tests, without comments.
fn code(text: &str) -> String {
    let end = text.find("\n#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Expands one `use` tree (`a::{b, c::{d}}`) into its paths.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        out.push(format!("{prefix}{tree}"));
        return;
    };
    let head = format!("{prefix}{}", &tree[..open]);
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                expand(&head, &inner[start..i], out);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !inner[start..].trim().is_empty() {
        expand(&head, &inner[start..], out);
    }
}

/// Every path the code names that starts with `crate::` or `super::`.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut statement: Option<String> = None;
    for line in code.lines() {
        let line = line.trim();
        let start = ["use ", "pub use ", "pub(crate) use "]
            .iter()
            .find_map(|p| line.strip_prefix(p))
            .filter(|tail| tail.starts_with("crate::") || tail.starts_with("super::"));
        match (&mut statement, start) {
            (None, Some(tail)) => statement = Some(tail.to_owned()),
            (Some(s), _) => s.push_str(line),
            (None, None) => continue,
        }
        if let Some(s) = statement.take_if(|s| s.contains(';')) {
            let tree: String = s[..s.find(';').unwrap_or(s.len())]
                .split_whitespace()
                .collect();
            expand("", &tree, &mut out);
        }
    }
    for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
        if word.starts_with("crate::") || word.starts_with("super::") {
            out.push(word.to_owned());
        }
    }
    out.retain(|p| p.starts_with("crate::") || p.starts_with("super::"));
    out
}

/// The `folder/module` a path points into, if it is one of this crate's modules.
fn target(from_folder: &str, path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split("::").collect();
    let (folder, module) = match segments.as_slice() {
        ["super", module, ..] => (from_folder, *module),
        ["crate", "request", module, ..] => ("request", *module),
        ["crate", "response", module, ..] => ("response", *module),
        ["crate", "listing_stage", module, ..] => ("listing", *module),
        ["crate", "token", ..] => ("token", "token"),
        ["crate", m @ ("decode" | "error" | "model" | "storage"), ..] => ("response", *m),
        ["crate", m @ ("pace" | "checkpoint" | "listing"), ..] => ("listing", *m),
        _ => return None,
    };
    rank(folder, module).map(|_| format!("{folder}/{module}"))
}

#[test]
fn imports_only_go_downwards() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut seen = BTreeSet::new();
    let mut wrong = Vec::new();
    for &(folder, module, own) in MODULES {
        let file = match folder {
            "token" => src.join("token.rs"),
            _ => src.join(folder).join(format!("{module}.rs")),
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for path in paths(&code(&text)) {
            let Some(to) = target(folder, &path) else {
                continue;
            };
            let from = format!("{folder}/{module}");
            let (to_folder, to_module) = to.split_once('/').unwrap();
            let ok = if to_folder == folder {
                to == from || rank(to_folder, to_module).unwrap() < own
            } else {
                folder_rank(to_folder).unwrap() < folder_rank(folder).unwrap()
            };
            if !ok && !EXCEPTIONS.contains(&(from.as_str(), to.as_str())) {
                wrong.push(format!("{from} -> {to} ({path})"));
            }
            seen.insert((from, to));
        }
    }
    assert!(wrong.is_empty(), "imports that go upwards: {wrong:#?}");
    // The check did see the imports it is about.
    assert!(seen.contains(&("response/json".into(), "response/decode_error".into())));
    assert!(seen.contains(&("listing/listing".into(), "response/outcome".into())));
}

#[test]
fn every_source_file_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for folder in ["request", "response", "listing"] {
        for entry in std::fs::read_dir(src.join(folder)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let module = name.trim_end_matches(".rs");
            assert!(
                module == "mod" || rank(folder, module).is_some(),
                "{folder}/{name} has no place in MODULES"
            );
        }
    }
}
