//! How many nodes and node streams this machine's open-files limit lets clusterd hold, by
//! clusterd's own budget (`connection/budget.rs`): a node at its command cost from
//! registration, each of its streams at its own while a subscriber wants it. A row that cannot fit
//! says so with this arithmetic, never with a figure.

use clusterd_protocol::connection::budget::{FDS_PER_NODE, FDS_PER_STREAM};

/// Descriptors counted for everything but the nodes: clusterd's reserve (64), what it opens
/// before the first node (about 30), and a margin.
pub const FDS_OTHER: usize = 500;

/// This process's soft open-files limit, which clusterd inherits (`main` raised it to the
/// hard one).
fn limit() -> usize {
    usize::try_from(crate::sys::open_files_limit()).unwrap_or(usize::MAX)
}

/// The most nodes clusterd's budget admits here with nobody subscribed.
pub fn nodes_that_fit() -> usize {
    limit().saturating_sub(FDS_OTHER) / FDS_PER_NODE
}

/// Why `nodes` registered nodes do not fit: the arithmetic.
pub fn nodes_too_many(nodes: usize) -> String {
    format!(
        "{nodes} nodes × {FDS_PER_NODE} descriptors (clusterd's FDS_PER_NODE) + {FDS_OTHER} for the rest = {} > \
         the open-files limit {} (the hard limit: this machine refuses to raise it, no `CAP_SYS_RESOURCE`); at \
         most {} nodes fit",
        nodes * FDS_PER_NODE + FDS_OTHER,
        limit(),
        nodes_that_fit()
    )
}

/// Why every stats stream of `nodes` nodes does not fit, or `None` when they do.
pub fn feeds_too_many(nodes: usize) -> Option<String> {
    let needed = nodes * (FDS_PER_NODE + FDS_PER_STREAM) + FDS_OTHER;
    (needed > limit()).then(|| {
        format!(
            "{nodes} nodes × ({FDS_PER_NODE} + {FDS_PER_STREAM} for its stats stream, FDS_PER_STREAM) + \
             {FDS_OTHER} = {needed} > the open-files limit {}",
            limit()
        )
    })
}
