use std::io::Write;

use super::*;

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("clusterctl-tail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn append(path: &std::path::Path, bytes: &[u8]) {
    std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(bytes).unwrap();
}

#[test]
fn a_late_file_is_read_from_its_start_and_partial_lines_wait_for_their_newline() {
    let path = dir("late").join("out.log");
    let mut tail = Tail::new(path.clone());
    assert!(tail.poll().is_empty());
    append(&path, b"one\ntw");
    assert_eq!(tail.poll(), ["one"]);
    append(&path, b"o\r\nthree\n");
    assert_eq!(tail.poll(), ["two", "three"]);
}

#[test]
fn a_moved_away_file_is_read_to_its_end_before_the_new_one() {
    let root = dir("moved");
    let path = root.join("out.log");
    append(&path, b"1\n");
    let mut tail = Tail::new(path.clone());
    assert_eq!(tail.poll(), ["1"]);
    append(&path, b"2\n");
    std::fs::rename(&path, root.join("out.log.1")).unwrap();
    append(&root.join("out.log.1"), b"3\n");
    append(&path, b"4\n");
    assert_eq!(tail.poll(), ["2", "3", "4"]);
}

#[test]
fn a_truncated_file_is_read_again_from_its_start() {
    let path = dir("truncated").join("out.log");
    append(&path, b"first line\nsecond line\n");
    let mut tail = Tail::new(path.clone());
    assert_eq!(tail.poll().len(), 2);
    std::fs::write(&path, b"new\n").unwrap();
    assert_eq!(tail.poll(), ["new"]);
}

#[test]
fn long_lines_are_cut_and_marked_and_bytes_escaped() {
    let path = dir("long").join("out.log");
    let mut big = vec![b'a'; 1 << 20];
    big.extend_from_slice(b"\nafter\n\xff\xfeok \xc3\xa9\n");
    let mut tail = Tail::new(path.clone());
    assert!(tail.poll().is_empty());
    append(&path, &big);
    // One poll reads at most 1 MiB: the rest comes with the next.
    let mut lines = tail.poll();
    lines.extend(tail.poll());
    assert_eq!(lines.len(), 3, "{:?}", lines.iter().map(String::len).collect::<Vec<_>>());
    assert_eq!(lines[0], format!("{}{CUT_MARK}", "a".repeat(MAX_LINE)));
    assert_eq!(lines[1], "after");
    assert_eq!(lines[2], "\\xff\\xfeok é");
}
