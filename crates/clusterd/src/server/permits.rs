//! The in-flight limits of one endpoint: [`MAX_IN_FLIGHT`] requests in all, and
//! [`MAX_IN_FLIGHT_PER_CLIENT`] per client (ZeroMQ identity), counted alike for the requests the
//! command loop handles and those the shortcut forwards, so that the limits hold whichever path
//! a request takes.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use super::{MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_CLIENT};
use crate::Ctx;

/// Why a request gets no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// [`MAX_IN_FLIGHT`] requests are being handled.
    Total,
    /// [`MAX_IN_FLIGHT_PER_CLIENT`] of this client's are.
    Client,
}

impl Refusal {
    /// The errno 3 reason.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Total => "master busy: too many requests in flight, try again",
            Refusal::Client => "master busy: too many requests in flight from this client, wait for replies",
        }
    }
}

/// The requests being handled on one endpoint; `requests.in_flight` counts every endpoint's.
pub struct Permits {
    ctx: Arc<Ctx>,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    total: usize,
    /// Clients with requests in flight (the others are not listed).
    per_client: HashMap<Vec<u8>, usize>,
}

impl Permits {
    /// No request in flight yet.
    pub fn new(ctx: Arc<Ctx>) -> Arc<Self> {
        Arc::new(Permits { ctx, held: Mutex::default() })
    }

    /// A permit for one request of `client`, released when dropped.
    ///
    /// # Errors
    /// The endpoint or this client has as many requests in flight as allowed.
    pub fn acquire(self: &Arc<Self>, client: &[u8]) -> Result<Permit, Refusal> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.total >= MAX_IN_FLIGHT {
            return Err(Refusal::Total);
        }
        let count = held.per_client.entry(client.to_vec()).or_default();
        if *count >= MAX_IN_FLIGHT_PER_CLIENT {
            return Err(Refusal::Client);
        }
        *count += 1;
        held.total += 1;
        self.ctx.requests.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(Permit { permits: self.clone(), client: client.to_vec() })
    }

    fn release(&self, client: &[u8]) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.total = held.total.saturating_sub(1);
        if let Some(count) = held.per_client.get_mut(client) {
            *count -= 1;
            if *count == 0 {
                held.per_client.remove(client);
            }
        }
        self.ctx.requests.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One request in flight.
pub struct Permit {
    permits: Arc<Permits>,
    client: Vec<u8>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.permits.release(&self.client);
    }
}
