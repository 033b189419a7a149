//! Who may do what over HTTP, checked before any handler:
//! * a peer that is not loopback is refused unless `allow_remote = true`;
//! * with `http_token` set, `/api/*` and `/metrics` need `Authorization: Bearer <token>` (the
//!   event streams (`/api/events`, `/api/logs`) may carry it as `?token=`, since a browser's EventSource sends no headers);
//!   the pages and assets hold no cluster data then, the script fetches it with the token;
//! * a state-changing request (POST) sent from another site (`Sec-Fetch-Site: cross-site` /
//!   `same-site`, or an `Origin` that is not this server) is refused: a page elsewhere must
//!   not be able to drive the cluster through a browser on the operator's machine (CSRF);
//! * with `http_readonly = true` every POST is refused.
//!
//! Refusals answer like the dispatcher: `{"status": "error", "errno": 3, "reason": ...}`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::Web;

/// A refusal with the dispatcher's error shape.
pub fn refuse(status: StatusCode, reason: &str) -> Response {
    (status, Json(json!({"status": "error", "errno": 3, "reason": reason}))).into_response()
}

/// The middleware.
pub async fn check(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let settings = web.ctx.settings();
    if !peer.ip().is_loopback() && !settings.allow_remote {
        return refuse(StatusCode::FORBIDDEN, "only loopback clients are served unless allow_remote = true");
    }
    let path = request.uri().path();
    let guarded = path.starts_with("/api/") || path == "/metrics";
    if let (Some(token), true) = (&settings.http.token, guarded) {
        let offered = bearer(&request)
            .or_else(|| (path == "/api/events" || path == "/api/logs").then(|| query_token(&request)).flatten());
        if !offered.is_some_and(|offered| token.matches(&offered)) {
            return refuse(StatusCode::UNAUTHORIZED, "missing or wrong token: send Authorization: Bearer <http_token>");
        }
    }
    if request.method() == Method::POST {
        if let Err(reason) = same_site(&request) {
            return refuse(StatusCode::FORBIDDEN, &reason);
        }
        if settings.http.readonly {
            return refuse(StatusCode::FORBIDDEN, "http_readonly = true: the HTTP API changes nothing");
        }
    }
    next.run(request).await
}

fn bearer(request: &Request) -> Option<String> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|token| token.trim().to_string())
}

fn query_token(request: &Request) -> Option<String> {
    let query = request.uri().query()?;
    query.split('&').find_map(|pair| pair.strip_prefix("token=")).map(percent_decode)
}

/// Decodes `%XX` escapes (tokens are usually plain, but the script encodes them).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%').then(|| text.get(i + 1..i + 3)).flatten();
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Refuses a request a browser marked as coming from another site.
fn same_site(request: &Request) -> Result<(), String> {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Err(format!("cross-site request refused (Sec-Fetch-Site: {site})"));
        }
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest.trim_end_matches('/'));
    if origin_host != host {
        return Err(format!("cross-site request refused (Origin {origin} is not {host})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(headers: &[(&str, &str)]) -> Request {
        let mut builder = axum::http::Request::post("/api/watchers/dummy/stop").header("host", "127.0.0.1:5580");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn cross_site_posts_are_refused() {
        assert!(same_site(&post(&[])).is_ok());
        assert!(same_site(&post(&[("origin", "http://127.0.0.1:5580"), ("sec-fetch-site", "same-origin")])).is_ok());
        let err = same_site(&post(&[("origin", "http://evil.example")])).unwrap_err();
        assert!(err.contains("evil.example"), "{err}");
        assert!(same_site(&post(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(same_site(&post(&[("sec-fetch-site", "same-site")])).is_err());
    }

    #[test]
    fn tokens_come_from_the_header_or_the_event_stream_query() {
        let request = post(&[("authorization", "Bearer abc")]);
        assert_eq!(bearer(&request).as_deref(), Some("abc"));
        let request = axum::http::Request::get("/api/events?x=1&token=a%2Bb").body(axum::body::Body::empty()).unwrap();
        assert_eq!(query_token(&request).as_deref(), Some("a+b"));
    }
}
