//! Continuous-compliance alerts: rules over the lake's posture history, evaluated after every
//! committed snapshot, delivered as CloudEvents with a per-sink outbox in the lake.
//!
//! ```text
//!  log/cluster=c/<seq>.json ──▶ Evaluator::pass   (snapshot seq vs seq-1, rule state in the cursor)
//!                                   │ events: ids derived from (lake, rule, cluster, seq)
//!                                   ▼
//!      alerts/events/<id>.json  +  alerts/outbox/sink=s/<id>.json        (create-only)
//!                                   │
//!                                   ▼  deliver::drain (backoff + jitter)
//!      webhook (binary | structured CloudEvents) · Slack · file/stdout
//!                                   │
//!                                   ▼
//!      alerts/deliveries/sink=s/<id>.json   delivered | dead (dead letter)
//! ```
//!
//! Main types: [`rules::RuleSet`] (the YAML), [`Evaluator`], [`deliver::Sender`], [`run::run`].

pub mod deliver;
mod error;
pub mod evaluate;
pub mod event;
pub mod rules;
pub mod run;

pub use error::AlertError;
pub use evaluate::{Evaluator, PassOutcome};
pub use rules::{RuleSet, RulesError};
