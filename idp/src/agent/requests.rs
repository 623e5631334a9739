//! Signing requests between `POST /v1/sign` and the single `GET /v1/sign/{id}` that collects the
//! result: bound to the origin that created them, alive for at most two minutes, handed out once.
//!
//! Each request has two random handles: the `request_id` the IdP page polls with, and the `pin_id`
//! in the PIN page's URL. The PIN form also carries a third random value (`form_token`) that only
//! the agent's own page knows, so a page that knows the URL cannot submit a PIN for the resident.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;

use super::protocol::{ErrorBody, Kind};

/// 128 random bits, URL-safe base64.
pub fn random_handle() -> String {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).expect("OpenSSL RNG");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Constant-time string equality.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

/// Where a request stands.
#[derive(Clone)]
pub enum JobState {
    /// Waiting for the PIN (`last_error` = the last wrong-PIN answer, if any).
    Pending {
        last_error: Option<ErrorBody>,
    },
    /// A PIN is being checked on the card right now.
    Working,
    Done {
        signature: Vec<u8>,
        certificate: Vec<u8>,
    },
    Failed(ErrorBody),
}

/// One signing request.
#[derive(Clone)]
pub struct Job {
    pub request_id: String,
    pub pin_id: String,
    pub form_token: String,
    /// The allowed origin that created it; only it may collect the result.
    pub origin: String,
    pub card: String,
    pub kind: Kind,
    pub challenge: String,
    pub expires: Instant,
    pub state: JobState,
}

impl Job {
    pub fn expired(&self, now: Instant) -> bool {
        now >= self.expires
    }

    pub fn seconds_left(&self, now: Instant) -> u64 {
        self.expires.saturating_duration_since(now).as_secs()
    }
}

/// What `take_for_origin` found.
pub enum Lookup {
    /// Unknown, already collected, or created by another origin (indistinguishable on purpose).
    Unknown,
    Expired,
    Found(Box<Job>),
}

/// The live requests.
pub struct Jobs {
    ttl: Duration,
    max: usize,
    inner: Mutex<HashMap<String, Job>>,
}

impl Jobs {
    pub fn new(ttl: Duration, max: usize) -> Jobs {
        Jobs {
            ttl,
            max,
            inner: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops expired requests long past their end (kept a little so their id answers "expired").
    fn prune(map: &mut HashMap<String, Job>, now: Instant) {
        map.retain(|_, j| now < j.expires + Duration::from_secs(600));
    }

    /// Creates a pending request; `None` when too many are alive.
    pub fn create(&self, origin: &str, card: &str, kind: Kind, challenge: String) -> Option<Job> {
        let now = Instant::now();
        let mut map = self.lock();
        Self::prune(&mut map, now);
        if map.values().filter(|j| !j.expired(now)).count() >= self.max {
            return None;
        }
        let job = Job {
            request_id: random_handle(),
            pin_id: random_handle(),
            form_token: random_handle(),
            origin: origin.to_string(),
            card: card.to_string(),
            kind,
            challenge,
            expires: now + self.ttl,
            state: JobState::Pending { last_error: None },
        };
        map.insert(job.request_id.clone(), job.clone());
        Some(job)
    }

    /// The status read by the IdP page: a finished (done or failed) request is removed as it is
    /// read, so its result is handed out once; an expired one answers `Expired` once.
    pub fn poll(&self, request_id: &str, origin: &str) -> Lookup {
        let now = Instant::now();
        let mut map = self.lock();
        let Some(job) = map.get(request_id) else {
            return Lookup::Unknown;
        };
        if !same(&job.origin, origin) {
            return Lookup::Unknown;
        }
        if job.expired(now) {
            map.remove(request_id);
            return Lookup::Expired;
        }
        match job.state {
            JobState::Done { .. } | JobState::Failed(_) => {
                Lookup::Found(Box::new(map.remove(request_id).expect("present")))
            }
            _ => Lookup::Found(Box::new(job.clone())),
        }
    }

    /// The request behind a PIN page URL (not removed).
    pub fn by_pin_id(&self, pin_id: &str) -> Lookup {
        let now = Instant::now();
        let map = self.lock();
        match map.values().find(|j| same(&j.pin_id, pin_id)) {
            None => Lookup::Unknown,
            Some(j) if j.expired(now) => Lookup::Expired,
            Some(j) => Lookup::Found(Box::new(j.clone())),
        }
    }

    /// Moves a pending request to `Working` if `form_token` matches; returns it.
    pub fn start_work(&self, pin_id: &str, form_token: &str) -> Result<Job, StartError> {
        let now = Instant::now();
        let mut map = self.lock();
        let job = map
            .values_mut()
            .find(|j| same(&j.pin_id, pin_id))
            .ok_or(StartError::Unknown)?;
        if job.expired(now) {
            return Err(StartError::Expired);
        }
        if !same(&job.form_token, form_token) {
            return Err(StartError::BadForm);
        }
        match job.state {
            JobState::Pending { .. } => {
                job.state = JobState::Working;
                Ok(job.clone())
            }
            JobState::Working => Err(StartError::Busy),
            _ => Err(StartError::Finished),
        }
    }

    /// Moves a request started by the demo mode to `Working` (by request id).
    pub fn start_demo(&self, request_id: &str) -> Option<Job> {
        let mut map = self.lock();
        let job = map.get_mut(request_id)?;
        job.state = JobState::Working;
        Some(job.clone())
    }

    /// Records the outcome of the work on a request (if it still exists).
    pub fn finish(&self, request_id: &str, state: JobState) {
        if let Some(job) = self.lock().get_mut(request_id) {
            job.state = state;
        }
    }

    /// The resident pressed "cancel" on the PIN page.
    pub fn cancel(
        &self,
        pin_id: &str,
        form_token: &str,
        error: ErrorBody,
    ) -> Result<(), StartError> {
        let mut map = self.lock();
        let job = map
            .values_mut()
            .find(|j| same(&j.pin_id, pin_id))
            .ok_or(StartError::Unknown)?;
        if !same(&job.form_token, form_token) {
            return Err(StartError::BadForm);
        }
        match job.state {
            JobState::Pending { .. } => {
                job.state = JobState::Failed(error);
                Ok(())
            }
            JobState::Working => Err(StartError::Busy),
            _ => Err(StartError::Finished),
        }
    }
}

/// Why a PIN submission was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    Unknown,
    Expired,
    BadForm,
    Busy,
    Finished,
}
