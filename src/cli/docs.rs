//! `clipwatch completions SHELL` and `clipwatch man`: shell completions
//! (`clap_complete`) and the man page (`clap_mangen`), both from the same
//! command definition as `--help`, so they cannot drift from it. The Debian
//! package ships their output (`packaging/generate` writes it).

use std::io::Write as _;

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, EXIT_FAILURE};

/// Print the completion script for `shell`.
pub fn completions(shell: Shell) -> u8 {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "clipwatch", &mut out);
    print_bytes(&out)
}

/// Print the man page clipwatch(1), every subcommand included.
pub fn man() -> u8 {
    let command = Cli::command();
    let mut out = Vec::new();
    let rendered = clap_mangen::Man::new(command.clone())
        .render(&mut out)
        .and_then(|()| subcommand_sections("clipwatch", &command, &mut out));
    match rendered {
        Ok(()) => print_bytes(&out),
        Err(err) => {
            eprintln!("clipwatch: cannot render the man page: {err}");
            EXIT_FAILURE
        }
    }
}

/// One `SUBCOMMAND` section per command (with its options), after the page.
fn subcommand_sections(
    prefix: &str,
    command: &clap::Command,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{prefix} {}", sub.get_name());
        let man = clap_mangen::Man::new(sub.clone());
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        man.render_description_section(out)?;
        man.render_options_section(out)?;
        subcommand_sections(&name, sub, out)?;
    }
    Ok(())
}

fn print_bytes(bytes: &[u8]) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("clipwatch: cannot write to stdout: {err}");
            EXIT_FAILURE
        }
    }
}
