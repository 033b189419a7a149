//! The one scripted master of the unit tests: the commands' (node sets, rolling restarts, jobs,
//! stream endpoints) and the worker agent's join loop alike.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Duration;

use clusterd_protocol::connection::ConnectionError;
use clusterd_protocol::{Reply, Request};
use serde_json::Value;

use super::Master;

/// What [`Master::call`] waits for; nothing is ever really waited.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Answers each call with the next scripted answer and records the requests; an exhausted
/// script answers [`ConnectionError::Timeout`].
#[derive(Default)]
pub struct Scripted {
    /// Answers still to give.
    pub replies: RefCell<VecDeque<Result<Reply, ConnectionError>>>,
    /// Requests received, as (command, properties as JSON text).
    pub requests: RefCell<Vec<(String, String)>>,
    /// The deadline each call was given.
    pub timeouts: RefCell<Vec<Duration>>,
}

impl Scripted {
    /// A master that gives these replies (JSON text, or `None` for a timeout) in turn.
    pub fn new(replies: &[Option<&str>]) -> Self {
        let replies = replies.iter().map(|reply| match reply {
            Some(text) => Reply::decode(text.as_bytes()).map_err(ConnectionError::BadReply),
            None => Err(ConnectionError::Timeout),
        });
        Scripted { replies: RefCell::new(replies.collect()), ..Scripted::default() }
    }

    /// A master that gives these answers (reply objects, or any transport failure) in turn.
    pub fn answering(script: Vec<Result<Value, ConnectionError>>) -> Self {
        let replies = script
            .into_iter()
            .map(|answer| answer.map(|reply| Reply(reply.as_object().cloned().expect("scripted replies are objects"))));
        Scripted { replies: RefCell::new(replies.collect()), ..Scripted::default() }
    }

    /// The `node` property of every request so far.
    pub fn nodes(&self) -> Vec<String> {
        self.each_request(|_, props| props["node"].as_str().unwrap_or_default().to_string())
    }

    /// Every request so far as its command and, if it has one, its `name`
    /// (`register_node second`, `nodelist`).
    pub fn sent(&self) -> Vec<String> {
        self.each_request(|command, props| match props["name"].as_str() {
            Some(name) => format!("{command} {name}"),
            None => command.to_string(),
        })
    }

    /// `describe` applied to each request so far (its command and properties).
    fn each_request(&self, describe: impl Fn(&str, &Value) -> String) -> Vec<String> {
        let requests = self.requests.borrow();
        requests
            .iter()
            .map(|(command, props)| describe(command, &serde_json::from_str(props).unwrap_or_default()))
            .collect()
    }
}

impl Master for Scripted {
    fn call_within(&self, request: &Request, timeout: Duration) -> Result<Reply, ConnectionError> {
        let props = Value::Object(request.properties.clone()).to_string();
        self.requests.borrow_mut().push((request.command.clone(), props));
        self.timeouts.borrow_mut().push(timeout);
        self.replies.borrow_mut().pop_front().unwrap_or(Err(ConnectionError::Timeout))
    }

    fn timeout(&self) -> Duration {
        TIMEOUT
    }
}
