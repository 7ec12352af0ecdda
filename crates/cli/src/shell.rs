//! Shell completions and manual pages, generated from the clap definitions
//! in `args.rs` (clap_complete, clap_mangen), so they never drift from the
//! parser.

use crate::args::Cli;
use crate::error::CliError;
use crate::output::{emit_json, write_stdout};
use clap::CommandFactory;
use clap_complete::Shell;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The full command tree, as `man` documents it (no `help` pseudo-command).
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// `tinledger completions SHELL`: the completion script on stdout.
pub fn completions(shell: Shell) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "tinledger", &mut buf);
    write_stdout(&buf)
}

/// One manual page: clap_mangen's sections, with the `--help` examples as
/// an EXAMPLES section in no-fill mode (so commands keep their lines).
fn render(cmd: clap::Command) -> Result<Vec<u8>, CliError> {
    let examples = cmd.get_after_long_help().or_else(|| cmd.get_after_help()).map(|s| s.to_string());
    let has_args = cmd.get_arguments().any(|a| !a.is_hide_set());
    let has_subs = cmd.get_subcommands().any(|s| !s.is_hide_set());
    let has_version = cmd.get_version().is_some();
    let man = clap_mangen::Man::new(cmd);
    let mut buf = Vec::new();
    let io = |e: std::io::Error| CliError::usage(format!("cannot render manual page: {e}"));
    man.render_title(&mut buf).map_err(io)?;
    man.render_name_section(&mut buf).map_err(io)?;
    man.render_synopsis_section(&mut buf).map_err(io)?;
    man.render_description_section(&mut buf).map_err(io)?;
    if has_args {
        man.render_options_section(&mut buf).map_err(io)?;
    }
    if has_subs {
        man.render_subcommands_section(&mut buf).map_err(io)?;
    }
    if let Some(text) = examples {
        buf.extend_from_slice(examples_section(&text).as_bytes());
    }
    if has_version {
        man.render_version_section(&mut buf).map_err(io)?;
    }
    Ok(buf)
}

/// `Example(s):` text from `after_help` as a roff EXAMPLES section.
fn examples_section(text: &str) -> String {
    let mut out = String::from(".SH EXAMPLES\n.nf\n");
    for line in text.lines().skip_while(|l| l.trim_start().starts_with("Example")) {
        let esc = line.replace('\\', "\\e").replace('-', "\\-");
        if esc.starts_with('.') || esc.starts_with('\'') {
            out.push_str("\\&");
        }
        out.push_str(&esc);
        out.push('\n');
    }
    out.push_str(".fi\n");
    out
}

/// Every command of the tree, parents before children, each with its page
/// name (`tinledger`, `tinledger-verify`, `tinledger-actor-register`, ...).
fn pages(cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name()).to_string();
    out.push((name, cmd.clone()));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub, out);
    }
}

/// `tinledger man [--out DIR]`: `tinledger.1` on stdout, or one page per
/// command written to DIR (created if missing; pages are regenerated, so
/// existing `tinledger*.1` files are replaced).
pub fn man(cli: &Cli, out: Option<&Path>) -> Result<(), CliError> {
    let root = command();
    let Some(dir) = out else {
        return write_stdout(&render(root)?);
    };
    std::fs::create_dir_all(dir).map_err(|e| CliError::usage(format!("cannot create {}: {e}", dir.display())))?;
    let mut all = Vec::new();
    pages(&root, &mut all);
    let mut written: Vec<PathBuf> = Vec::new();
    for (name, cmd) in all {
        let path = dir.join(format!("{name}.1"));
        crate::output::write_atomic(&path, &render(cmd)?, true)?;
        written.push(path);
    }
    if cli.json {
        emit_json(&json!({"dir": dir, "files": written}));
    } else {
        crate::output::emit(&format!("wrote {} manual pages to {}", written.len(), dir.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and subcommand shows an example in its `--help`.
    #[test]
    fn every_command_help_has_an_example() {
        let mut all = Vec::new();
        pages(&command(), &mut all);
        assert!(all.len() > 40, "the walk found only {} commands", all.len());
        let missing: Vec<&str> = all
            .iter()
            .filter(|(_, c)| {
                let after = c.get_after_long_help().or_else(|| c.get_after_help()).map(|s| s.to_string());
                !after.is_some_and(|s| s.contains("Example"))
            })
            .map(|(n, _)| n.as_str())
            .collect();
        assert!(missing.is_empty(), "--help without an \"Example\" section: {missing:?}");
    }

    #[test]
    fn page_names_follow_the_command_tree() {
        let mut all = Vec::new();
        pages(&command(), &mut all);
        let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
        for n in ["tinledger", "tinledger-verify", "tinledger-actor-register", "tinledger-sign-smelt", "tinledger-man"]
        {
            assert!(names.contains(&n), "no page {n} in {names:?}");
        }
        assert!(!names.iter().any(|n| n.ends_with("-help")), "{names:?}");
    }
}
