//! Delivery: each sink drains its outbox in the lake, oldest event first, with retries
//! (exponential backoff with jitter) and a dead-letter record after the last attempt.
//!
//! An outbox entry is removed only after its outcome is recorded, so a crash or restart at any
//! point re-sends at most the event in flight — with the same CloudEvents `id`, which receivers
//! use to de-duplicate.

use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use tarn_lake::Lake;
use tarn_lake::alerts::{self as store, AlertRecord, DeliveryRecord, DeliveryStatus};

use crate::error::AlertError;
use crate::event::CloudEvent;
use crate::rules::{Mode, Sink, SinkKind, Target};

/// HMAC header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "x-tarn-signature";

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptError {
    /// Worth retrying: network errors, timeouts, 408, 429, 5xx.
    Transient { status: Option<u16>, message: String },
    /// Retrying cannot help: other 4xx, a missing secret, an event that cannot be encoded.
    Permanent { status: Option<u16>, message: String },
}

impl AttemptError {
    fn parts(&self) -> (Option<u16>, &str) {
        match self {
            AttemptError::Transient { status, message } | AttemptError::Permanent { status, message } => {
                (*status, message)
            }
        }
    }
}

/// Sends events to one sink.
#[derive(Debug, Clone)]
pub struct Sender {
    sink: Sink,
    client: reqwest::Client,
}

fn env(name: &str, what: &str) -> Result<String, AttemptError> {
    std::env::var(name).map_err(|_| AttemptError::Permanent {
        status: None,
        message: format!("{what}: environment variable {name} is not set"),
    })
}

impl Sender {
    pub fn new(sink: Sink) -> Self {
        let client = reqwest::Client::builder()
            .timeout(sink.timeout)
            .connect_timeout(sink.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("tarn/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with rustls");
        Self { sink, client }
    }

    pub fn sink(&self) -> &Sink {
        &self.sink
    }

    /// Environment variables the sink needs and that are not set (checked at start-up).
    pub fn missing_env(&self) -> Vec<String> {
        let mut vars = Vec::new();
        if let Some(Target::Env(v)) = &self.sink.url {
            vars.push(v.clone());
        }
        vars.extend(self.sink.bearer_token_env.clone());
        vars.extend(self.sink.hmac_secret_env.clone());
        vars.into_iter().filter(|v| std::env::var(v).is_err()).collect()
    }

    fn url(&self) -> Result<String, AttemptError> {
        match &self.sink.url {
            Some(Target::Url(u)) => Ok(u.clone()),
            Some(Target::Env(v)) => env(v, "url_env"),
            None => Err(AttemptError::Permanent { status: None, message: "no url".into() }),
        }
    }

    /// One attempt.
    pub async fn send(&self, rec: &AlertRecord) -> Result<Option<u16>, AttemptError> {
        let event = CloudEvent::from_structured(&rec.event)
            .map_err(|m| AttemptError::Permanent { status: None, message: format!("stored event is invalid: {m}") })?;
        match self.sink.kind {
            SinkKind::File => self.write_file(rec).map(|()| None),
            SinkKind::Webhook => {
                let (headers, body) = match self.sink.mode {
                    Mode::Binary => (event.binary_headers(), serde_json::to_vec(&event.data).expect("json")),
                    Mode::Structured => (
                        vec![("content-type".to_string(), "application/cloudevents+json; charset=utf-8".to_string())],
                        serde_json::to_vec(&rec.event).expect("json"),
                    ),
                };
                self.post(headers, body).await
            }
            SinkKind::Slack => {
                let body = serde_json::to_vec(&slack_message(rec)).expect("json");
                self.post(vec![("content-type".to_string(), "application/json".to_string())], body).await
            }
        }
    }

    async fn post(&self, headers: Vec<(String, String)>, body: Vec<u8>) -> Result<Option<u16>, AttemptError> {
        let url = self.url()?;
        let mut req = self.client.post(&url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        if let Some(var) = &self.sink.bearer_token_env {
            req = req.bearer_auth(env(var, "bearer_token_env")?);
        }
        if let Some(var) = &self.sink.hmac_secret_env {
            let secret = env(var, "hmac_secret_env")?;
            req = req.header(SIGNATURE_HEADER, sign(secret.as_bytes(), Utc::now().timestamp(), &body));
        }
        let resp = req.body(body).send().await.map_err(|e| AttemptError::Transient {
            status: None,
            message: format!("POST {}: {}", redact(&url), error_chain(&e)),
        })?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok(Some(status));
        }
        let text: String = resp.text().await.unwrap_or_default().chars().take(300).collect();
        let message = format!("POST {}: HTTP {status} {}", redact(&url), text.trim());
        if status == 408 || status == 429 || status >= 500 {
            Err(AttemptError::Transient { status: Some(status), message })
        } else {
            Err(AttemptError::Permanent { status: Some(status), message })
        }
    }

    fn write_file(&self, rec: &AlertRecord) -> Result<(), AttemptError> {
        let path = self.sink.path.as_ref().expect("validated: file sinks have a path");
        let mut line = serde_json::to_vec(&rec.event).expect("json");
        line.push(b'\n');
        let io =
            |e: std::io::Error| AttemptError::Transient { status: None, message: format!("{}: {e}", path.display()) };
        if path.as_os_str() == "-" {
            let mut out = std::io::stdout().lock();
            out.write_all(&line).map_err(io)?;
            out.flush().map_err(io)
        } else {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
            f.write_all(&line).map_err(io)?;
            f.sync_data().map_err(io)
        }
    }
}

/// `t=<unix>,v1=<hex>`: HMAC-SHA256 over `"<t>.<body>"`, so a captured request cannot be
/// replayed later with a new timestamp.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A URL for messages and records: scheme, host and port only (webhook paths and queries often
/// carry secrets, Slack's always do).
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let path = if u.path().len() > 1 || u.query().is_some() { "/…" } else { "/" };
            format!("{}://{}{port}{path}", u.scheme(), u.host_str().unwrap_or(""))
        }
        Err(_) => "<url>".into(),
    }
}

/// Slack incoming-webhook message: a one-line fallback and blocks with the findings.
pub fn slack_message(rec: &AlertRecord) -> Value {
    let data = &rec.event["data"];
    let icon = match rec.severity.as_str() {
        "critical" | "high" => ":rotating_light:",
        "medium" => ":warning:",
        _ => ":information_source:",
    };
    let mut lines = Vec::new();
    if let Some(fs) = data["findings"].as_array() {
        for f in fs.iter().take(10) {
            lines.push(format!(
                "• `{}` {} {}/{} {}/{} — {}",
                f["change"].as_str().unwrap_or(""),
                f["framework"].as_str().unwrap_or(""),
                f["control_id"].as_str().unwrap_or(""),
                f["severity"].as_str().unwrap_or(""),
                f["namespace"].as_str().unwrap_or(""),
                f["workload_name"].as_str().unwrap_or(""),
                f["status"].as_str().unwrap_or("")
            ));
        }
        let more = data["findings_total"].as_u64().unwrap_or(0).saturating_sub(lines.len() as u64);
        if more > 0 {
            lines.push(format!("…and {more} more"));
        }
    }
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format!("{icon} *{}*\n{}", rec.rule, rec.summary)}
    })];
    if !lines.is_empty() {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}}));
    }
    let snapshot = data["snapshot"]["id"].as_str().or(data["last_snapshot"]["id"].as_str()).unwrap_or("");
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": format!("{} · {} · snapshot `{snapshot}` · event `{}`", rec.subject, rec.event_type, rec.event_id)}]
    }));
    json!({"text": format!("[{}] {}", rec.severity, rec.summary), "blocks": blocks})
}

/// What one drain of a sink's outbox did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainOutcome {
    pub delivered: u64,
    pub dead: u64,
    /// Entries left for later (shut down while waiting to retry).
    pub left: u64,
}

/// Drains a sink's outbox: every waiting event, oldest first, each retried until delivered or
/// dead-lettered. Returns early (leaving entries queued) when `stop` resolves.
pub async fn drain(
    lake: &Lake,
    sender: &Sender,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<DrainOutcome, AlertError> {
    let sink = sender.sink().clone();
    let mut out = DrainOutcome::default();
    let entries = store::outbox(lake, &sink.name).await?;
    for (i, entry) in entries.iter().enumerate() {
        if *stop.borrow() {
            out.left += (entries.len() - i) as u64;
            break;
        }
        // Left behind by a crash after its outcome was recorded: only tidy up.
        if let Some(done) = store::get_delivery(lake, &sink.name, &entry.event_id).await? {
            if done.status == DeliveryStatus::Delivered {
                store::drop_settled(lake, &sink.name, &entry.event_id).await?;
                continue;
            }
            // A re-queued dead letter whose move aside was interrupted: finish it first.
            store::requeue_dead(lake, &done, Utc::now()).await?;
        }
        // An outbox entry whose event cannot be read cannot be sent: dead-lettered, with why.
        let unsendable = match store::get_event(lake, &entry.event_id).await {
            Ok(Some(rec)) => Ok(rec),
            Ok(None) => Err("no event record".to_string()),
            Err(tarn_lake::LakeError::CorruptEntry { reason, .. }) => Err(format!("unreadable event record: {reason}")),
            Err(e) => return Err(e.into()),
        };
        let rec = match unsendable {
            Ok(rec) => rec,
            Err(why) => {
                tracing::warn!(sink = %sink.name, event = %entry.event_id, "dead-lettered: {why}");
                let now = Utc::now();
                store::settle(
                    lake,
                    &DeliveryRecord {
                        event_id: entry.event_id.clone(),
                        sink: sink.name.clone(),
                        status: DeliveryStatus::Dead,
                        attempts: 0,
                        first_attempt_at: now,
                        settled_at: now,
                        http_status: None,
                        last_error: Some(why),
                    },
                )
                .await?;
                out.dead += 1;
                continue;
            }
        };
        let first = Utc::now();
        let mut attempt = 0u32;
        let settled = loop {
            attempt += 1;
            match sender.send(&rec).await {
                Ok(status) => break Some((DeliveryStatus::Delivered, status, None)),
                Err(e) => {
                    let (status, message) = e.parts();
                    let permanent = matches!(e, AttemptError::Permanent { .. });
                    if permanent || attempt >= sink.retry.attempts {
                        tracing::warn!(sink = %sink.name, event = %rec.event_id, attempt, "dead-lettered: {message}");
                        break Some((DeliveryStatus::Dead, status, Some(message.to_string())));
                    }
                    let wait = sink.retry.backoff(attempt, jitter());
                    tracing::info!(sink = %sink.name, event = %rec.event_id, attempt, ?wait, "retrying: {message}");
                    let mut stop = stop.clone();
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stop.wait_for(|s| *s) => break None,
                    }
                }
            }
        };
        let Some((status, http_status, last_error)) = settled else {
            out.left += (entries.len() - i) as u64;
            break;
        };
        store::settle(
            lake,
            &DeliveryRecord {
                event_id: rec.event_id.clone(),
                sink: sink.name.clone(),
                status,
                attempts: attempt,
                first_attempt_at: first,
                settled_at: Utc::now(),
                http_status,
                last_error,
            },
        )
        .await?;
        match status {
            DeliveryStatus::Delivered => out.delivered += 1,
            DeliveryStatus::Dead => out.dead += 1,
        }
    }
    Ok(out)
}

/// A uniform number in [0, 1).
fn jitter() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2 key and data, framed as "<t>.<body>".
        let s = sign(b"Jefe", 0, b"what do ya want for nothing?");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        assert_eq!(s, format!("t=0,v1={}", hex::encode(mac.finalize().into_bytes())));
        assert!(s.starts_with("t=0,v1=") && s.len() == 7 + 64);
    }

    #[test]
    fn jitter_is_in_range() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }

    #[test]
    fn urls_lose_credentials() {
        assert_eq!(redact("https://u:p@hooks.slack.com/services/T/B/X?token=1"), "https://hooks.slack.com/…");
        assert_eq!(redact("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/");
    }
}
