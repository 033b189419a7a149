//! The benchmark report: sections of Markdown, each with the command that produced it.

use std::fmt::Write as _;

/// One benchmark's results.
pub struct Section {
    /// Heading.
    pub title: String,
    /// The exact command that produced it (from the repository root).
    pub command: String,
    /// What was measured and against which baseline.
    pub setup: String,
    /// A Markdown table.
    pub table: Table,
    /// What the figures say, target by target.
    pub verdict: Vec<String>,
}

/// A Markdown table under construction.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Table {
        Table { header: header.iter().map(|h| (*h).to_string()).collect(), rows: Vec::new() }
    }

    /// Adds a row (as many cells as columns).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(self.header.len()));
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        out
    }
}

impl Section {
    /// The section as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = format!("## {}\n\nCommand: `{}`\n\n{}\n\n", self.title, self.command, self.setup.trim());
        out.push_str(&self.table.markdown());
        if !self.verdict.is_empty() {
            out.push('\n');
            for line in &self.verdict {
                let _ = writeln!(out, "- {line}");
            }
        }
        out.push('\n');
        out
    }
}

/// `met` or `missed`, for a target line.
pub fn verdict(met: bool) -> &'static str {
    if met {
        "**met**"
    } else {
        "**missed**"
    }
}

/// A rate in messages per second, readable.
pub fn rate(per_second: f64) -> String {
    if per_second >= 1000.0 {
        format!("{:.1}k/s", per_second / 1000.0)
    } else {
        format!("{per_second:.0}/s")
    }
}

/// The whole report: how it was made, on what, then every section.
pub fn document(sections: &[Section], took: std::time::Duration, quick: bool) -> String {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut out = String::from(
        "# Benchmarks\n\nWritten by `make bench` (`target/release/clusterd-bench all --out docs/benchmarks.md`, \
         release build); do not edit by hand. Each table names the command that produced it, which also runs \
         alone and prints its table. Every figure is paired with a baseline measured in the same run, because \
         these machines are noisy and an absolute time means little. Everything runs on loopback: clusterd, \
         `simnode` processes (simulated circusd nodes, `crates/simnode`) and, for the proxy hop, a real \
         circusd 0.19 from the project's venv.\n\n",
    );
    let _ = writeln!(out, "- Machine: {}", crate::sys::machine());
    let _ = writeln!(
        out,
        "- Commit: `{commit}`; run took {:.0} s{}",
        took.as_secs_f64(),
        if quick { " (`--quick`: smaller sizes, a smoke run, not the reference figures)" } else { "" }
    );
    let _ = writeln!(out, "- Seeds: simnode `--seed 1` (its default); node sets and request orders are fixed.\n");
    for section in sections {
        out.push_str(&section.markdown());
    }
    out.push_str(include_str!("../analysis.md"));
    out
}
