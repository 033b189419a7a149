//! Keys → actions. Nothing here reads the terminal; the loop hands in each key event.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::model::Sort;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `q`, Esc, Ctrl-C: leave.
    Quit,
    /// `c`, `m`, `n`: sort by CPU, memory or name.
    Sort(Sort),
    /// Up / `k`: one line up.
    Up,
    /// Down / `j`: one line down.
    Down,
    /// PgUp: one screen up.
    PageUp,
    /// PgDn / space: one screen down.
    PageDown,
    /// Home / `g`: to the top.
    Top,
    /// End / `G`: to the bottom.
    Bottom,
}

/// The action for `key`, `None` for keys that do nothing (and for key releases).
pub fn action(key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(key.code, KeyCode::Char('c' | 'C')).then_some(Action::Quit);
    }
    Some(match key.code {
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => Action::Quit,
        KeyCode::Char('c' | 'C') => Action::Sort(Sort::Cpu),
        KeyCode::Char('m' | 'M') => Action::Sort(Sort::Mem),
        KeyCode::Char('n' | 'N') => Action::Sort(Sort::Name),
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown | KeyCode::Char(' ') => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key press without modifiers.
    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn quit_keys() {
        assert_eq!(action(press(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(action(press(KeyCode::Esc)), Some(Action::Quit));
        assert_eq!(action(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        // Ctrl with anything else does nothing, even a sort key.
        assert_eq!(action(KeyEvent::new(KeyCode::Char('m'), KeyModifiers::CONTROL)), None);
    }

    #[test]
    fn sort_and_scroll_keys() {
        assert_eq!(action(press(KeyCode::Char('c'))), Some(Action::Sort(Sort::Cpu)));
        assert_eq!(action(press(KeyCode::Char('m'))), Some(Action::Sort(Sort::Mem)));
        assert_eq!(action(press(KeyCode::Char('n'))), Some(Action::Sort(Sort::Name)));
        assert_eq!(action(press(KeyCode::Up)), Some(Action::Up));
        assert_eq!(action(press(KeyCode::Down)), Some(Action::Down));
        assert_eq!(action(press(KeyCode::PageUp)), Some(Action::PageUp));
        assert_eq!(action(press(KeyCode::PageDown)), Some(Action::PageDown));
        assert_eq!(action(press(KeyCode::Home)), Some(Action::Top));
        assert_eq!(action(press(KeyCode::End)), Some(Action::Bottom));
        assert_eq!(action(press(KeyCode::Char('x'))), None);
        assert_eq!(action(press(KeyCode::F(1))), None);
    }

    #[test]
    fn releases_are_ignored() {
        let mut key = press(KeyCode::Char('q'));
        key.kind = KeyEventKind::Release;
        assert_eq!(action(key), None);
    }
}
