//! `connections sandbox --data PATH` where PATH is not a readable file: a usage error (exit 2)
//! that names the flag and the path, never a start-up failure (exit 4) that blames the network.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::path::PathBuf;
use std::process::Command;

#[test]
fn a_data_path_that_is_not_a_readable_file_is_exit_2_naming_the_flag_and_the_path() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let missing = dir.join(format!("no-such-data-{}.json", std::process::id()));
    for path in [&dir, &missing] {
        let out = Command::new(env!("CARGO_BIN_EXE_connections"))
            .args(["sandbox", "--listen", "127.0.0.1:0", "--data"])
            .arg(path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", path.display());
        assert!(
            out.stdout.is_empty(),
            "no base URL for a sandbox that did not start"
        );
        assert!(err.contains("--data"), "names the flag: {err}");
        assert!(
            err.contains(path.to_str().unwrap()),
            "names the path: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
