//! The README's walkthroughs run literally as written.
//!
//! Every ```` ```sh ```` block under "## Walkthroughs" is concatenated, in
//! order, into one bash script and run with `set -euo pipefail` in a fresh
//! directory, with the built `tinledger` first on `PATH` (what
//! `cargo install --path .`, which the README tells a user to run, gives
//! them). A walkthrough that names a file nothing writes, a flag that no
//! longer exists or an event the rules refuse fails this test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md")
}

/// The `sh` code blocks of the section headed `heading` (up to the next `## `).
fn sh_blocks(text: &str, heading: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut in_section = false;
    let mut block: Option<String> = None;
    for line in text.lines() {
        if let Some(b) = block.as_mut() {
            if line.trim_end() == "```" {
                blocks.push(block.take().unwrap_or_default());
            } else {
                b.push_str(line);
                b.push('\n');
            }
            continue;
        }
        if line.starts_with("## ") {
            in_section = line.trim_end() == heading;
            continue;
        }
        if in_section && line.trim_end() == "```sh" {
            block = Some(String::new());
        }
    }
    assert!(block.is_none(), "README.md: unterminated code block in {heading}");
    blocks
}

fn bin_dir() -> PathBuf {
    let bin = assert_cmd::cargo::cargo_bin("tinledger");
    bin.parent().expect("binary's directory").to_path_buf()
}

#[test]
fn readme_tells_how_to_get_tinledger_on_path() {
    let text = readme();
    let install = text.find("cargo install --path .").expect("README says `cargo install --path .`");
    let walk = text.find("## Walkthroughs").expect("README has a Walkthroughs section");
    assert!(install < walk, "`cargo install --path .` comes before the walkthroughs");
}

#[test]
fn extracting_blocks_sees_only_the_named_section() {
    let text = "# t\n## A\n```sh\necho a\n```\n## Walkthroughs\ntext\n```sh\necho 1\necho 2\n```\n```text\nno\n```\n```sh\necho 3\n```\n## B\n```sh\necho b\n```\n";
    assert_eq!(sh_blocks(text, "## Walkthroughs"), vec!["echo 1\necho 2\n".to_string(), "echo 3\n".to_string()]);
}

#[test]
fn walkthroughs_run_as_written() {
    let blocks = sh_blocks(&readme(), "## Walkthroughs");
    assert!(blocks.len() >= 8, "the walkthroughs have their code blocks ({} found)", blocks.len());
    let script = format!("set -euo pipefail\n{}", blocks.join("\n"));
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("walkthrough.sh"), &script).expect("write script");
    let path = format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap_or_default());
    let mut child = Command::new("bash")
        .arg("walkthrough.sh")
        .current_dir(dir.path())
        .env("PATH", path)
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .env_remove("TINLEDGER_LEDGER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bash");
    // Bounded: the walkthroughs take a few seconds; a hang is a failure.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("README walkthroughs did not finish in 300 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(
        out.status.success(),
        "README walkthroughs failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
