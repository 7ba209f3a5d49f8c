//! `revokd man`: the manual pages, rendered by clap_mangen from the clap definitions that parse
//! the command line (doc comments are the text), so they cannot drift from `--help`. One page for
//! `revokd` and one per visible subcommand, nested ones included (`revokd-config-check.1`).

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use super::{Exit, Failure, output};
use crate::cli::Cli;

/// One manual page: its file name (`revokd-sweep.1`) and its roff text.
struct Page {
    file_name: String,
    roff: Vec<u8>,
}

/// Writes every page into `dir`, or `revokd.1` alone on stdout.
pub(super) fn run(dir: Option<&Path>) -> Result<Exit, Failure> {
    let pages = pages().context("cannot render the manual pages")?;
    let Some(dir) = dir else {
        let main = pages.into_iter().next().map(|p| p.roff).unwrap_or_default();
        return output::print(main, Exit::Success);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for page in &pages {
        let path = dir.join(&page.file_name);
        std::fs::write(&path, &page.roff)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let done = format!(
        "wrote {} manual pages into {}\n",
        pages.len(),
        dir.display()
    );
    output::print(done, Exit::Success)
}

/// `revokd.1` first, then one page per visible subcommand, depth first.
fn pages() -> std::io::Result<Vec<Page>> {
    // Building propagates the global options and names each subcommand for its page
    // (`revokd-config-check`, used as `revokd config check`).
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut pages = Vec::new();
    add_pages(&command, &mut pages)?;
    Ok(pages)
}

fn add_pages(command: &clap::Command, pages: &mut Vec<Page>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(command.clone())
        .source(concat!("revokd ", env!("CARGO_PKG_VERSION")));
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    pages.push(Page {
        file_name: man.get_filename(),
        roff,
    });
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        add_pages(sub, pages)?;
    }
    Ok(())
}
