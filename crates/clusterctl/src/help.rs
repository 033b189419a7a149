//! The long text after `clusterctl --help`: global behaviour, node sets, gathered output, rolling
//! operations and exit statuses.

/// Printed after the option list of `clusterctl --help`.
pub const AFTER_HELP: &str = "\
Global options may appear anywhere on the line. Without --endpoint, CLUSTERCTL_ENDPOINT or \
tcp://127.0.0.1:5558 is used.

Node sets (--node EXPR): a name, a comma list (first,third), a glob (web*), a range (node[1-3]), \
a tag (@eu), all, and exclusions (all!second, @eu!@canary). One plain name gets that node's reply \
as circusctl prints it; any other set gets one reply per node, printed like clush -b:
  ---------------
  first,third (2)          nodes with identical output (folded: web[1-3]), largest group first
  ---------------
  active                   the output circusctl prints for one of them
  ---------------          on stderr, failed nodes grouped by reason:
  second (1): node second timed out after 4s
With --json, one object per node and line: {\"node\": \"first\", \"reply\": {...}}.

Rolling operations: --batch N sends the command to N nodes of the --node set at a time (in the \
order the master lists them); --wait then polls `status <watcher>` on the batch until every node \
reports active (stopped after stop), for 30 s or --timeout if larger; a batch with any failure \
stops the roll unless --keep-going. Each batch is printed as `== batch 1/3: first (1)` and its \
gathered output, the wait as `== waited: dummy active on first (1)`, and the roll ends with \
`== summary` and `done: ...`, `failed: ...`, `not reached: ...` lines (nodes and counts). \
With --json: {\"batch\", \"node\", \"reply\"} and {\"batch\", \"node\", \"wait\"} lines, then \
{\"summary\": {\"done\", \"failed\", \"not_reached\"}}.
  clusterctl --node 'all!second' restart dummy --batch 1 --wait

Errors print the master's reason (`error: <reason>`), warnings in a reply go to stderr as `warning: <text>`, and a command endpoint that never answers gives `no answer from ENDPOINT within Ns (is clusterd running there?)`.

Exit status: 0 ok, 1 timeout or transport error, 2 usage error, 3 error reply (for a node set: \
any node failed; for a roll: any node not done), 4 partial result (some nodes gave no answer, or a \
change failed on some nodes but happened on others: each is named on stderr). With --json a single \
or gathered reply exits 0 whatever it says, as circusctl, except 4 for a partial result; rolls and \
run keep their status.";
