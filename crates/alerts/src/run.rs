//! The alert daemon (`tarn alerts run`): evaluate new snapshots and staleness on a poll
//! interval, and drain every sink's outbox concurrently.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tarn_lake::Lake;
use tokio::sync::{Notify, watch};

use crate::deliver::{DrainOutcome, Sender, drain};
use crate::error::AlertError;
use crate::evaluate::{Evaluator, PassOutcome};
use crate::rules::RuleSet;

#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// How often to look for new snapshots (and check staleness).
    pub poll: Duration,
    /// One evaluation pass, then deliver everything queued, then return.
    pub once: bool,
}

/// What a run did, in total.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub passes: u64,
    pub snapshots: u64,
    pub events: u64,
    pub delivered: u64,
    pub dead: u64,
    pub left: u64,
}

/// Something worth telling the operator.
#[derive(Debug, Clone)]
pub enum Progress {
    Pass(PassOutcome),
    Drained { sink: String, outcome: DrainOutcome },
    Problem(String),
}

/// Runs until `stop` turns true (or after one round with `once`). Storage errors are reported
/// and retried on the next poll; they never end the run.
pub async fn run(
    lake: Lake,
    rules: Arc<RuleSet>,
    opts: RunOptions,
    stop: watch::Receiver<bool>,
    progress: impl Fn(Progress) + Send + Sync + 'static,
) -> Result<RunSummary, AlertError> {
    let evaluator = Evaluator::new(lake.clone(), rules.clone()).await?.with_stop(stop.clone());
    let senders: Vec<Sender> = rules.sinks.iter().cloned().map(Sender::new).collect();
    for s in &senders {
        let missing = s.missing_env();
        if !missing.is_empty() {
            return Err(AlertError::Sink {
                sink: s.sink().name.clone(),
                message: format!("environment variable(s) not set: {}", missing.join(", ")),
            });
        }
    }
    let progress = Arc::new(progress);
    let mut summary = RunSummary::default();

    if opts.once {
        round(&evaluator, &mut summary, &*progress).await;
        for s in &senders {
            match drain(&lake, s, &stop).await {
                Ok(o) => {
                    add(&mut summary, &o);
                    progress(Progress::Drained { sink: s.sink().name.clone(), outcome: o });
                }
                Err(e) => progress(Progress::Problem(format!("sink {}: {e}", s.sink().name))),
            }
        }
        return Ok(summary);
    }

    let wakers: Vec<Arc<Notify>> = senders.iter().map(|_| Arc::new(Notify::new())).collect();
    let mut tasks = Vec::new();
    for (s, wake) in senders.into_iter().zip(wakers.iter().cloned()) {
        let (lake, stop, progress) = (lake.clone(), stop.clone(), progress.clone());
        tasks.push(tokio::spawn(async move {
            let mut total = DrainOutcome::default();
            loop {
                match drain(&lake, &s, &stop).await {
                    Ok(o) => {
                        total.delivered += o.delivered;
                        total.dead += o.dead;
                        total.left = o.left;
                        if o.delivered + o.dead > 0 || o.left > 0 {
                            progress(Progress::Drained { sink: s.sink().name.clone(), outcome: o });
                        }
                    }
                    Err(e) => progress(Progress::Problem(format!("sink {}: {e}", s.sink().name))),
                }
                if *stop.borrow() {
                    break;
                }
                let mut stop = stop.clone();
                let stopping = tokio::select! {
                    _ = wake.notified() => false,
                    _ = tokio::time::sleep(opts.poll * 5) => false,
                    // A dropped sender counts as stop (never a busy loop).
                    _ = stop.wait_for(|s| *s) => true,
                };
                if stopping || *stop.borrow() {
                    break;
                }
            }
            total
        }));
    }
    loop {
        let before = summary.events;
        round(&evaluator, &mut summary, &*progress).await;
        if summary.events > before {
            for w in &wakers {
                w.notify_one();
            }
        }
        let mut stop = stop.clone();
        let stopping = tokio::select! {
            _ = tokio::time::sleep(opts.poll) => false,
            // A dropped sender counts as stop (never a busy loop).
            _ = stop.wait_for(|s| *s) => true,
        };
        if stopping || *stop.borrow() {
            break;
        }
    }
    for t in tasks {
        if let Ok(o) = t.await {
            add(&mut summary, &o);
        }
    }
    Ok(summary)
}

fn add(s: &mut RunSummary, o: &DrainOutcome) {
    s.delivered += o.delivered;
    s.dead += o.dead;
    s.left += o.left;
}

async fn round(evaluator: &Evaluator, summary: &mut RunSummary, progress: &(dyn Fn(Progress) + Send + Sync)) {
    summary.passes += 1;
    match evaluator.pass().await {
        Ok(p) => {
            summary.snapshots += p.snapshots;
            summary.events += p.events.len() as u64;
            for m in &p.problems {
                progress(Progress::Problem(m.clone()));
            }
            if p.snapshots > 0 || !p.events.is_empty() {
                progress(Progress::Pass(p));
            }
        }
        Err(e) => progress(Progress::Problem(format!("evaluation: {e}"))),
    }
    match evaluator.staleness(Utc::now()).await {
        Ok(p) => {
            summary.events += p.events.len() as u64;
            for m in &p.problems {
                progress(Progress::Problem(m.clone()));
            }
            if !p.events.is_empty() {
                progress(Progress::Pass(p));
            }
        }
        Err(e) => progress(Progress::Problem(format!("staleness: {e}"))),
    }
}
