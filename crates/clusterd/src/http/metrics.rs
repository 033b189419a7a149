//! `GET /metrics`: OpenMetrics text from one collector that reads the cluster view, the registry
//! and the master's counters at scrape time. Nothing is registered per node or watcher, so a
//! stopped watcher's (or a gone node's) series simply are not in the next scrape.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::Web;
use crate::view::ClusterView;
use crate::Ctx;

/// What Prometheus expects for OpenMetrics.
pub const CONTENT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels<'a> = Vec<(&'static str, String)>;

/// Reads everything at each scrape.
struct ClusterCollector {
    ctx: Arc<Ctx>,
    view: Arc<ClusterView>,
}

impl std::fmt::Debug for ClusterCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterCollector")
    }
}

/// One metric family: name, help, type, and its samples.
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels<'static>, M)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in samples {
        value.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(value: f64) -> ConstGauge<f64> {
    ConstGauge::new(value)
}

fn counter(value: u64) -> ConstCounter<u64> {
    ConstCounter::new(value)
}

impl Collector for ClusterCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self.view.snapshot(&self.ctx.registry);
        let node = |name: &str| vec![("node", name.to_string())];
        let nodes = &snapshot.nodes;
        let up = nodes.iter().map(|n| (node(&n.name), gauge(f64::from(u8::from(n.state != "down")))));
        family(
            &mut enc,
            "clusterd_node_up",
            "1 when the node answers probes (alive or suspect)",
            MetricType::Gauge,
            up,
        )?;
        let states = nodes.iter().flat_map(|n| {
            ["alive", "suspect", "down"].map(|state| {
                let labels = vec![("node", n.name.clone()), ("state", state.to_string())];
                (labels, gauge(f64::from(u8::from(n.state == state))))
            })
        });
        family(&mut enc, "clusterd_node_state", "1 for the node's current liveness state", MetricType::Gauge, states)?;
        let rtt = nodes.iter().filter_map(|n| Some((node(&n.name), gauge(n.rtt_ms? / 1e3))));
        family(
            &mut enc,
            "clusterd_node_probe_rtt_seconds",
            "Round trip of the last answered probe",
            MetricType::Gauge,
            rtt,
        )?;
        let missed = nodes.iter().map(|n| (node(&n.name), gauge(f64::from(n.missed_probes))));
        family(&mut enc, "clusterd_node_missed_probes", "Probes missed in a row", MetricType::Gauge, missed)?;

        // Stopped watchers have no series: they vanish at the next scrape.
        let running: Vec<_> = snapshot
            .watchers
            .iter()
            .filter(|w| w.status.as_deref() != Some("stopped") && w.processes.is_some())
            .collect();
        let watcher = |w: &crate::view::WatcherView| vec![("node", w.node.clone()), ("watcher", w.watcher.clone())];
        let processes = running.iter().map(|w| (watcher(w), gauge(w.processes.unwrap_or(0) as f64)));
        family(&mut enc, "clusterd_watcher_processes", "Processes of the watcher", MetricType::Gauge, processes)?;
        let cpu = running.iter().map(|w| (watcher(w), gauge(w.cpu)));
        family(
            &mut enc,
            "clusterd_watcher_cpu_percent",
            "CPU % summed over the watcher's processes",
            MetricType::Gauge,
            cpu,
        )?;
        let mem = running.iter().map(|w| (watcher(w), gauge(w.mem_bytes as f64)));
        family(
            &mut enc,
            "clusterd_watcher_memory_bytes",
            "Resident memory of the watcher's processes",
            MetricType::Gauge,
            mem,
        )?;
        if self.ctx.settings().http.metrics_per_pid {
            let pids = || {
                running.iter().flat_map(|w| {
                    w.pids.iter().map(move |p| {
                        let mut labels = watcher(w);
                        labels.push(("pid", p.pid.to_string()));
                        (labels, p)
                    })
                })
            };
            let cpu = pids().map(|(labels, p)| (labels, gauge(p.cpu)));
            family(&mut enc, "clusterd_process_cpu_percent", "CPU % of one process", MetricType::Gauge, cpu)?;
            let mem = pids().map(|(labels, p)| (labels, gauge(p.mem_bytes as f64)));
            family(
                &mut enc,
                "clusterd_process_memory_bytes",
                "Resident memory of one process",
                MetricType::Gauge,
                mem,
            )?;
        }

        let requests = self.ctx.commands.counts().into_iter().map(|((command, outcome), n)| {
            (vec![("command", command.to_string()), ("outcome", outcome.to_string())], counter(n))
        });
        family(
            &mut enc,
            "clusterd_requests",
            "Requests answered, by command and outcome",
            MetricType::Counter,
            requests,
        )?;
        let in_flight = self.ctx.requests.in_flight.load(Ordering::Relaxed) as f64;
        family(
            &mut enc,
            "clusterd_requests_in_flight",
            "Command endpoint requests being handled",
            MetricType::Gauge,
            [(vec![], gauge(in_flight))],
        )?;
        let all = self.ctx.registry.all();
        let forwarded = all.iter().flat_map(|n| {
            let c = &n.counters;
            [
                ("stats", c.stats_forwarded.load(Ordering::Relaxed)),
                ("events", c.events_forwarded.load(Ordering::Relaxed)),
            ]
            .map(|(stream, v)| (vec![("node", n.name.clone()), ("stream", stream.to_string())], counter(v)))
        });
        family(
            &mut enc,
            "clusterd_stream_forwarded",
            "Stream messages republished, per node",
            MetricType::Counter,
            forwarded,
        )?;
        let dropped = all.iter().map(|n| (node(&n.name), counter(n.counters.dropped.load(Ordering::Relaxed))));
        family(
            &mut enc,
            "clusterd_stream_dropped",
            "Stream events dropped (publisher queue full), per node",
            MetricType::Counter,
            dropped,
        )?;
        let tap = self.ctx.registry.streams().tap().dropped();
        family(
            &mut enc,
            "clusterd_tap_dropped",
            "Messages lost by in-process readers that fell behind",
            MetricType::Counter,
            [(vec![], counter(tap))],
        )?;
        Ok(())
    }
}

/// `GET /metrics`.
pub async fn metrics(State(web): State<Web>) -> Response {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ClusterCollector { ctx: web.ctx.clone(), view: web.view.clone() }));
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &registry) {
        Ok(()) => ([(CONTENT_TYPE, CONTENT)], text).into_response(),
        Err(_) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "metrics could not be encoded").into_response(),
    }
}
