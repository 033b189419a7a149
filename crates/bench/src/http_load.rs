//! HTTP load: the command endpoint's latency with 20 open dashboard event streams and a 10 Hz
//! `/metrics` scrape, against the same run without any HTTP client, over 200 simnodes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster_e2e::http::{get, wait_http, EventStream};
use cluster_e2e::{ports, Client};
use serde_json::json;

use crate::fleet::{master_over, request, simnodes, wait_alive};
use crate::report::{verdict, Section, Table};
use crate::stats::{millis, Percentiles};

/// How much to measure.
pub struct Plan {
    pub nodes: usize,
    pub streams: usize,
    /// Scrapes per second.
    pub scrape_hz: u64,
    /// Requests per phase.
    pub requests: usize,
}

/// Runs the benchmark.
pub fn run(plan: &Plan, command: String) -> Section {
    let groups = simnodes(plan.nodes, &[]);
    let addr = format!("127.0.0.1:{}", ports::free_port());
    let master = master_over(&groups.iter().collect::<Vec<_>>(), &format!("http_endpoint = \"{addr}\"\n"));
    wait_alive(&master, plan.nodes, Duration::from_secs(120));
    wait_http(&addr);
    let client = Client::connect(&master.endpoint, Duration::from_secs(30)).expect("client to clusterd");
    // A fan-out over every node: the request that competes most with the view for the master.
    let status = request("status", json!({"node": "all"}));
    let measure = || -> Vec<Duration> {
        (0..plan.requests)
            .map(|_| {
                let started = Instant::now();
                let reply = client.call(&status).expect("status reply");
                assert!(!reply.is_error(), "{:?}", reply.0.get("reason"));
                started.elapsed()
            })
            .collect()
    };
    let _ = measure();
    let quiet = Percentiles::of(&measure());

    let stop = Arc::new(AtomicBool::new(false));
    let (events, scrapes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut readers = Vec::new();
    for _ in 0..plan.streams {
        let (addr, stop, events) = (addr.clone(), stop.clone(), events.clone());
        readers.push(std::thread::spawn(move || {
            let mut stream = EventStream::open(&addr, "/api/events");
            while !stop.load(Ordering::Relaxed) && !stream.ended {
                if stream.next(Duration::from_millis(200)).is_some() {
                    events.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let scraper = {
        let (addr, stop, scrapes, every) =
            (addr.clone(), stop.clone(), scrapes.clone(), Duration::from_millis(1000 / plan.scrape_hz));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                assert_eq!(get(&addr, "/metrics").status, 200);
                scrapes.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(every.saturating_sub(started.elapsed()));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let (events_before, scrapes_before) = (events.load(Ordering::Relaxed), scrapes.load(Ordering::Relaxed));
    let started = Instant::now();
    let loaded = Percentiles::of(&measure());
    let took = started.elapsed().as_secs_f64();
    let events_seen = events.load(Ordering::Relaxed) - events_before;
    let scrapes_done = scrapes.load(Ordering::Relaxed) - scrapes_before;
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        let _ = reader.join();
    }
    let _ = scraper.join();

    let mut table = Table::new(&["HTTP clients", "`status` over all nodes p50 ms", "p99 ms"]);
    table.row(vec!["none".into(), format!("{:.1}", millis(quiet.p50)), format!("{:.1}", millis(quiet.p99))]);
    table.row(vec![
        format!("{} event streams + {} Hz /metrics", plan.streams, plan.scrape_hz),
        format!("{:.1}", millis(loaded.p50)),
        format!("{:.1}", millis(loaded.p99)),
    ]);
    let slower = millis(loaded.p50) / millis(quiet.p50);
    let setup = format!(
        "{} simnodes behind one clusterd with `http_endpoint` set. {} `status` requests with `node` = `all` \
         (every reply gathered), first with no HTTP client, then with {} open `/api/events` streams and a \
         {} Hz `/metrics` scraper (during that phase: {events_seen} events read, {:.1} scrapes/s). The \
         cluster view (its `status` poll of every node each 2 s) runs in both phases.",
        plan.nodes,
        plan.requests,
        plan.streams,
        plan.scrape_hz,
        scrapes_done as f64 / took.max(0.001),
    );
    let verdict = vec![format!(
        "Target: the HTTP clients slow the command endpoint by at most 10 % at p50. Measured ×{slower:.2}: {}.",
        verdict(slower <= 1.10)
    )];
    Section { title: "HTTP load".into(), command, setup, table, verdict }
}
