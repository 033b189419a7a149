//! The terminal: raw mode and the alternate screen on [`Term::enter`], both undone when the
//! [`Term`] is dropped, and also by a panic hook, so that no exit path (quit key, error, panic)
//! leaves the operator's shell in raw mode.

use std::io::{self, IsTerminal, Stdout};
use std::sync::Once;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;

/// The ratatui terminal on stdout.
pub type Screen = Terminal<CrosstermBackend<Stdout>>;

/// The terminal in raw mode on the alternate screen; restored on drop.
pub struct Term {
    /// Where frames are drawn.
    pub screen: Screen,
}

impl Term {
    /// Switches stdout to raw mode and the alternate screen.
    ///
    /// # Errors
    /// stdout is not a terminal, or the terminal refused a mode change (then nothing is left
    /// half-done).
    pub fn enter() -> io::Result<Term> {
        if !io::stdout().is_terminal() {
            return Err(io::Error::other("top needs a terminal: stdout is not one"));
        }
        install_panic_hook();
        enable_raw_mode()?;
        // From here on, an early return drops `guard`, which restores the terminal.
        let guard = Restore;
        execute!(io::stdout(), EnterAlternateScreen, Hide)?;
        let mut screen = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        screen.clear()?;
        std::mem::forget(guard);
        Ok(Term { screen })
    }
}

impl Drop for Term {
    /// Leaves raw mode and the alternate screen, and shows the cursor again.
    fn drop(&mut self) {
        restore();
    }
}

/// Restores the terminal when dropped (used while [`Term::enter`] is half-way).
struct Restore;

impl Drop for Restore {
    /// Restores the terminal.
    fn drop(&mut self) {
        restore();
    }
}

/// Undoes [`Term::enter`]; harmless when already undone. Errors are ignored: there is no better
/// terminal left to report them on.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
}

/// Chains a hook that restores the terminal before the previous hook prints the panic, so the
/// message lands on the normal screen and the shell is usable afterwards. Installed once.
fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
