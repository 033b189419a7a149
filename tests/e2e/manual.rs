//! Shell completions and man pages from the real binaries: `clusterctl completions` loads in
//! bash and completes a command, `clusterd --man` writes its page (clusterctl's pages are checked
//! by its unit tests).

use cluster_e2e::cli::{clusterctl, run};
use cluster_e2e::paths;

#[test]
fn bash_loads_the_completions() {
    let bin = paths::workspace_bin("clusterctl");
    // What bash does on `clusterctl regis<TAB>`, then on `clusterctl listen --pub<TAB>`.
    let script = format!(
        "source <({} completions bash) && complete -p clusterctl && \
         COMP_WORDS=(clusterctl regis) COMP_CWORD=1 && _clusterctl clusterctl regis clusterctl && echo \"${{COMPREPLY[@]}}\" && \
         COMP_WORDS=(clusterctl listen --pub) COMP_CWORD=2 && _clusterctl clusterctl --pub listen && echo \"${{COMPREPLY[@]}}\"",
        bin.display()
    );
    let loaded = run(std::path::Path::new("/bin/bash"), ["-c", script.as_str()]);
    assert_eq!(loaded.code, 0, "{loaded:?}");
    let lines: Vec<&str> = loaded.stdout.lines().collect();
    assert!(lines[0].ends_with("-F _clusterctl clusterctl"), "{loaded:?}");
    assert_eq!(lines.get(1..), Some(&["register_node", "--pubsub-endpoint"][..]), "{loaded:?}");
    for shell in ["zsh", "fish"] {
        let out = clusterctl(&["completions", shell]);
        assert!(out.ok().contains("register_node"), "{shell}: {out:?}");
    }
    let refused = clusterctl(&["completions", "tcsh"]);
    assert_eq!(refused.code, 2, "{refused:?}");
}

#[test]
fn clusterd_writes_its_man_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(&paths::workspace_bin("clusterd"), ["--man".as_ref(), dir.path().as_os_str()]);
    assert_eq!(out.code, 0, "{out:?}");
    let page = std::fs::read_to_string(dir.path().join("clusterd.1")).expect("clusterd.1");
    assert!(page.contains(".TH clusterd 1") && page.contains("reset\\-state"), "{page}");
    // Without --man the configuration is still required.
    let missing = run(&paths::workspace_bin("clusterd"), ["--check"]);
    assert_eq!(missing.code, 2, "{missing:?}");
}
