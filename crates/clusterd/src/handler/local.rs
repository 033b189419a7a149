//! Commands the master answers about itself: `globaloptions` and `dstats`.

use clusterd_protocol::{Errno, Reply, Request};
use serde_json::{Map, Value};

use super::{error, ok};
use crate::{proc_info, Ctx};

/// Invoked by `circusctl globaloptions [OPTION]`: the master's own endpoints, so that tools
/// that learn the streams from `globaloptions` (circus-web) find the merged ones.
pub fn globaloptions(ctx: &Ctx, request: &Request) -> Reply {
    let settings = ctx.settings();
    let mut options = Map::new();
    options.insert("endpoint".into(), settings.endpoint.as_str().into());
    options.insert("stats_endpoint".into(), settings.stats_endpoint.as_str().into());
    options.insert("pubsub_endpoint".into(), settings.pubsub_endpoint.as_str().into());
    // The master's periodic check is its liveness probe.
    options.insert("check_delay".into(), settings.heartbeat.as_secs_f64().into());
    options.insert("multicast_endpoint".into(), Value::Null);
    // Where the merged watcher output is (`clusterctl logs -f`); null when it is off.
    options.insert("logs_endpoint".into(), settings.logs_endpoint.as_ref().map(|ep| ep.as_str().to_string()).into());
    // Where the dashboard is (`clusterctl dashboard`); null when it is off.
    options.insert("http_endpoint".into(), settings.http.endpoint.map(|addr| addr.to_string()).into());
    let options = match request.str_property("option") {
        Err(reason) => return error(Errno::MessageError, &reason),
        Ok(None) => options,
        Ok(Some(option)) => match options.get(option) {
            Some(value) => Map::from_iter([(option.to_string(), value.clone())]),
            None => return error(Errno::MessageError, &format!("'{option}' not an existing option")),
        },
    };
    let mut fields = Map::new();
    fields.insert("options".into(), Value::Object(options));
    ok(fields)
}

/// Invoked by `circusctl dstats`: the master's own process info, with every field circusctl
/// prints, the totals of the merged streams (`streams`) and of the command endpoint's refused
/// and undeliverable requests (`requests`), and the merged watcher output's drops (`logs`).
pub fn dstats(ctx: &Ctx) -> Reply {
    match proc_info::current() {
        Ok(info) => {
            let mut fields = Map::new();
            fields.insert("info".into(), info);
            fields.insert("streams".into(), ctx.registry.streams().totals().describe());
            fields.insert("requests".into(), ctx.requests.describe());
            fields.insert("registry".into(), ctx.shared.describe());
            fields.insert("logs".into(), ctx.logs.describe());
            ok(fields)
        }
        Err(reason) => error(Errno::OsError, &format!("cannot read the master's process info: {reason}")),
    }
}
