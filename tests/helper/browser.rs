//! A real headless Chromium on one page, driven by `tests/browser/driver.js` (playwright-core
//! with Debian's `/usr/bin/chromium`; `scripts/browser-deps.sh` installs both, `make test` runs
//! it). Commands go one a line to the driver's stdin, answers come back one a line. Screenshots
//! go to `tests/browser/artifacts/<test>/` (git-ignored), kept as test artefacts.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::{paths, procs};

/// One page in one browser; closed (and the browser's process group killed if need be) on drop.
pub struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
}

/// Where the screenshots of `test` go.
pub fn artifacts(test: &str) -> PathBuf {
    paths::workspace_root().join("tests/browser/artifacts").join(test)
}

impl Browser {
    /// Opens `url`; `test` names the screenshot folder.
    ///
    /// # Panics
    /// When node, chromium or playwright-core is missing, or the page does not open.
    pub fn open(url: &str, test: &str) -> Browser {
        Browser::open_answering(url, test, "")
    }

    /// Opens `url` in a browser that answers the page's `prompt()` dialogs with `answer` (a user
    /// typing `http_token` when the page asks for it).
    ///
    /// # Panics
    /// As [`Browser::open`].
    pub fn open_answering(url: &str, test: &str, answer: &str) -> Browser {
        let dir = paths::workspace_root().join("tests/browser");
        assert!(
            dir.join("node_modules/playwright-core").is_dir() && std::path::Path::new("/usr/bin/chromium").exists(),
            "the browser tests need chromium and playwright-core: run scripts/browser-deps.sh (make test does)"
        );
        let mut child = procs::spawn(
            Command::new("node")
                .arg(dir.join("driver.js"))
                .arg(url)
                .arg(artifacts(test))
                .env(procs::TAG_VAR, procs::tag("browser", &dir))
                .env("PROMPT_ANSWER", answer)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        );
        let stdin = child.stdin.take();
        let out = BufReader::new(child.stdout.take().expect("driver stdout"));
        let mut browser = Browser { child, stdin, out };
        browser.answer().unwrap_or_else(|e| panic!("the browser did not open {url}: {e}"));
        browser
    }

    fn answer(&mut self) -> Result<String, String> {
        let mut line = String::new();
        self.out.read_line(&mut line).map_err(|e| e.to_string())?;
        match line.trim_end().split_once(' ').unwrap_or((line.trim_end(), "")) {
            ("ok", detail) => Ok(detail.to_string()),
            ("fail", reason) => Err(reason.to_string()),
            _ => Err(format!("the driver said {line:?}")),
        }
    }

    /// Runs one driver command (fields joined by tabs) and returns its answer.
    ///
    /// # Errors
    /// The driver's failure reason.
    pub fn run(&mut self, fields: &[&str]) -> Result<String, String> {
        let stdin = self.stdin.as_mut().expect("driver open");
        writeln!(stdin, "{}", fields.join("\t")).map_err(|e| e.to_string())?;
        self.answer()
    }

    /// Waits at most `within` until the element `selector` shows `text`.
    ///
    /// # Panics
    /// When it does not.
    pub fn wait_text(&mut self, within: Duration, selector: &str, text: &str) {
        let ms = within.as_millis().to_string();
        if let Err(reason) = self.run(&["wait", &ms, selector, text]) {
            panic!("{selector} did not show {text:?} within {within:?}: {reason}");
        }
    }

    /// Clicks the element `selector`.
    ///
    /// # Panics
    /// When it cannot.
    pub fn click(&mut self, selector: &str) {
        self.run(&["click", selector]).unwrap_or_else(|e| panic!("click {selector}: {e}"));
    }

    /// Types `text` into the input `selector`.
    ///
    /// # Panics
    /// When it cannot.
    pub fn fill(&mut self, selector: &str, text: &str) {
        self.run(&["fill", selector, text]).unwrap_or_else(|e| panic!("fill {selector}: {e}"));
    }

    /// Saves a full-page screenshot as `<artifacts>/<name>.png`.
    pub fn screenshot(&mut self, name: &str) {
        self.run(&["shot", name]).unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
    }

    /// How many times the page loaded (1: it was never reloaded).
    pub fn loads(&mut self) -> u64 {
        self.run(&["loads"]).ok().and_then(|n| n.parse().ok()).expect("load count")
    }

    /// How many `prompt()` dialogs the page opened.
    pub fn prompts(&mut self) -> u64 {
        self.run(&["prompts"]).ok().and_then(|n| n.parse().ok()).expect("prompt count")
    }

    /// Reloads the page.
    ///
    /// # Panics
    /// When it cannot.
    pub fn reload(&mut self) {
        self.run(&["reload"]).unwrap_or_else(|e| panic!("reload: {e}"));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End of input closes the browser; a driver that does not go is killed with its group.
        drop(self.stdin.take());
        if !procs::wait_exit(&mut self.child, Duration::from_secs(10)) {
            procs::signal_group(self.child.id(), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}
