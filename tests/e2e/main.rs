//! End-to-end tests of clusterd: real circusd nodes (Circus 0.19.0 from the venv) behind the
//! real `clusterd` binary, driven by stock circusctl, Circus's Python `CircusClient`,
//! `clusterctl` and raw ZeroMQ frames.
//!
//! One test binary with one module per area (style guide §7.11); the fixtures are the
//! `cluster_e2e` library (`tests/helper/`). Needs `cargo build --workspace --bins` and the venv
//! (`make venv`); `make test` does both. Every test has its own ports and processes, so the
//! tests run in parallel.

mod access;
mod audit;
mod browser;
mod browser_logs;
mod circus_top;
mod clusterctl;
mod clusterctl_messages;
mod clusterctl_top;
mod config;
mod dead_node;
mod discovery;
mod dns_stall;
mod etcd;
mod events;
mod fanout;
mod faults;
mod fd_budget;
mod hostile;
mod http_api;
mod http_events;
mod identity;
mod input_limits;
mod join;
mod lab;
mod lazy_streams;
mod lifecycle;
mod liveness;
mod logs;
mod logs_state;
mod malformed;
mod manual;
mod master_crash;
mod metrics;
mod named_node;
mod nodesets;
mod partial;
mod persistence;
mod placement;
mod placement_failover;
mod python_client;
mod register_secret;
mod registry;
mod reload;
mod rolling;
mod routing;
mod run_args;
mod run_output;
mod scale;
mod self_connect;
mod self_loop;
mod shortcut;
mod shutdown;
mod soak;
mod stream_limits;
mod streams;
mod watch_nodes;
