//! Report schedules: a YAML file of jobs (cron expression in a time zone, framework, scope,
//! range expression, formats), and the bookkeeping that runs each due time exactly once.
//!
//! Runs are recorded in the lake under `_tarn/schedules/<job>/`: `registered.json` (when the
//! job was first seen; earlier due times are never run) and `runs/<due>.json`, created with
//! `PutMode::Create` before the report is generated. The create is the claim: a due time is
//! run by exactly one process, a restarted scheduler catches up on the due times it missed
//! (oldest first, at most `max_catch_up` per job) and never repeats one.
//!
//! Due times come from croner, which keeps a job due inside a daylight-saving gap (02:30 on a
//! spring-forward day runs at the first valid instant after the gap) and runs an ambiguous
//! wall time once.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutPayload};
use serde::{Deserialize, Serialize};
use tarn_lake::Lake;

use crate::error::ReportError;
use crate::publish::Format;
use crate::report::{ReportScope, fmt_time};

/// A schedule file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    /// Default IANA time zone for jobs (`UTC` when absent).
    #[serde(default)]
    pub timezone: Option<String>,
    pub jobs: Vec<JobSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub name: String,
    /// Five fields (`0 6 * * MON`), or six with seconds first.
    pub cron: String,
    #[serde(default)]
    pub timezone: Option<String>,
    pub framework: String,
    /// `fleet` (default), `group:/acme/prod` or `cluster:NAME` (a bare `/path` is a group).
    #[serde(default)]
    pub scope: Option<String>,
    /// `last 7d`, `last 24h`, `last 2w`, `previous day|week|month`, `month to date`.
    pub range: String,
    #[serde(default = "default_formats")]
    pub formats: Vec<Format>,
    /// Also copy the files to this local directory (`{job}` and `{date}` are replaced).
    #[serde(default)]
    pub output: Option<String>,
}

fn default_formats() -> Vec<Format> {
    vec![Format::Pdf, Format::Csv]
}

/// A validated job.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub cron: Cron,
    pub cron_text: String,
    pub tz: Tz,
    pub framework: String,
    pub scope: ReportScope,
    pub range: RangeExpr,
    pub formats: Vec<Format>,
    pub output: Option<String>,
}

/// A report range relative to the due time, in the job's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeExpr {
    Last(Duration),
    PreviousDay,
    PreviousWeek,
    PreviousMonth,
    MonthToDate,
}

impl RangeExpr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        let words: Vec<&str> = t.split_whitespace().collect();
        match words.as_slice() {
            ["previous", "day"] | ["yesterday"] => Ok(RangeExpr::PreviousDay),
            ["previous", "week"] => Ok(RangeExpr::PreviousWeek),
            ["previous", "month"] => Ok(RangeExpr::PreviousMonth),
            ["month", "to", "date"] => Ok(RangeExpr::MonthToDate),
            ["last", rest @ ..] if !rest.is_empty() => {
                let d = tarn_query::parse_duration(&rest.join(" ")).map_err(|e| format!("range {s:?}: {e}"))?;
                if d <= Duration::zero() {
                    return Err(format!("range {s:?}: the duration must be positive"));
                }
                Ok(RangeExpr::Last(d))
            }
            _ => Err(format!(
                "unknown range {s:?} (expected `last 7d`, `last 24h`, `previous day`, `previous week`, `previous month` or `month to date`)"
            )),
        }
    }

    /// The `[from, to)` a run due at `due` reports on.
    pub fn resolve(&self, due: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let local = due.with_timezone(&tz).date_naive();
        let midnight = |d: NaiveDate| local_midnight(tz, d);
        match *self {
            RangeExpr::Last(d) => (due - d, due),
            RangeExpr::PreviousDay => (midnight(local - Duration::days(1)), midnight(local)),
            RangeExpr::PreviousWeek => {
                let monday = local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
                (midnight(monday - Duration::days(7)), midnight(monday))
            }
            RangeExpr::PreviousMonth => {
                let first = local.with_day(1).expect("day 1 exists");
                let prev = (first - Duration::days(1)).with_day(1).expect("day 1 exists");
                (midnight(prev), midnight(first))
            }
            RangeExpr::MonthToDate => (midnight(local.with_day(1).expect("day 1 exists")), due),
        }
    }
}

/// The first instant of `d` in `tz` (midnight, or the end of a gap that swallows it).
fn local_midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let mut t = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    for _ in 0..48 {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(x) => return x.with_timezone(&Utc),
            LocalResult::Ambiguous(a, _) => return a.with_timezone(&Utc),
            LocalResult::None => t += Duration::minutes(30),
        }
    }
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

fn parse_tz(s: &str, what: &str) -> Result<Tz, String> {
    s.parse::<Tz>()
        .map_err(|_| format!("{what}: unknown time zone {s:?} (expected an IANA name like Europe/Berlin or UTC)"))
}

/// A problem in a schedule file, with its location.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ScheduleError {
    pub file: String,
    pub message: String,
}

/// Parses and validates a schedule file; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<Job>, ScheduleError> {
    let err = |message: String| ScheduleError { file: file.to_string(), message };
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let spec: ScheduleFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let at = e.inner().location().map(|l| format!("line {} column {}: ", l.line(), l.column())).unwrap_or_default();
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { format!("{path}: ") };
        err(format!("{at}{field}{}", e.inner()))
    })?;
    let default_tz = match &spec.timezone {
        Some(t) => parse_tz(t, "timezone").map_err(err)?,
        None => Tz::UTC,
    };
    let mut names = BTreeSet::new();
    let mut jobs = Vec::new();
    for (i, j) in spec.jobs.into_iter().enumerate() {
        let at = |m: String| err(format!("jobs[{i}] ({}): {m}", j.name));
        if j.name.is_empty()
            || !j.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || j.name.len() > 63
        {
            return Err(at("name: use 1-63 letters, digits, '-' or '_'".into()));
        }
        if !names.insert(j.name.clone()) {
            return Err(at("name: two jobs have this name".into()));
        }
        let cron: Cron = j.cron.parse().map_err(|e| at(format!("cron {:?}: {e}", j.cron)))?;
        let tz = match &j.timezone {
            Some(t) => parse_tz(t, "timezone").map_err(at)?,
            None => default_tz,
        };
        let scope = match j.scope.as_deref().map(str::trim) {
            None | Some("") | Some("fleet") => ReportScope::Fleet,
            Some(s) => {
                let r = if let Some(g) = s.strip_prefix("group:") {
                    ReportScope::group(g.trim())
                } else if let Some(c) = s.strip_prefix("cluster:") {
                    ReportScope::cluster(c.trim())
                } else if s.starts_with('/') {
                    ReportScope::group(s)
                } else {
                    Err(ReportError::Invalid(format!("scope {s:?}: expected fleet, group:/PATH or cluster:NAME")))
                };
                r.map_err(|e| at(e.to_string()))?
            }
        };
        let range = RangeExpr::parse(&j.range).map_err(at)?;
        if j.formats.is_empty() {
            return Err(at("formats: name at least one of pdf, csv".into()));
        }
        if j.framework.trim().is_empty() {
            return Err(at("framework: empty".into()));
        }
        jobs.push(Job {
            name: j.name,
            cron,
            cron_text: j.cron,
            tz,
            framework: j.framework,
            scope,
            range,
            formats: j.formats,
            output: j.output,
        });
    }
    Ok(jobs)
}

impl Job {
    /// Due times in `(after, until]`, oldest first.
    pub fn due_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        for t in self.cron.iter_after(after.with_timezone(&self.tz)) {
            let t = t.with_timezone(&Utc);
            if t > until || out.len() > 10_000 {
                break;
            }
            out.push(t);
        }
        out
    }

    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&t.with_timezone(&self.tz), false).ok().map(|t| t.with_timezone(&Utc))
    }
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub job: String,
    pub due: DateTime<Utc>,
    /// `running`, `ok` or `failed`.
    pub status: String,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Registered {
    job: String,
    registered_at: DateTime<Utc>,
}

const SCHEDULES_PREFIX: &str = "_tarn/schedules";

fn job_dir(job: &str) -> String {
    format!("{SCHEDULES_PREFIX}/{job}")
}

fn run_key(job: &str, due: DateTime<Utc>) -> Path {
    Path::from(format!("{}/runs/{}.json", job_dir(job), due.format("%Y%m%dT%H%M%SZ")))
}

/// When the job was first seen by a scheduler on this lake (registering it now if never).
pub async fn registered_at(lake: &Lake, job: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ReportError> {
    let key = Path::from(format!("{}/registered.json", job_dir(job)));
    let body = serde_json::to_vec_pretty(&Registered { job: job.into(), registered_at: now }).expect("serializable");
    match lake.store().put_opts(&key, PutPayload::from(body), PutMode::Create.into()).await {
        Ok(_) => Ok(now),
        Err(object_store::Error::AlreadyExists { .. }) => {
            let bytes = lake.store().get(&key).await.map_err(tarn_lake::LakeError::from)?.bytes().await;
            let bytes = bytes.map_err(tarn_lake::LakeError::from)?;
            let r: Registered = serde_json::from_slice(&bytes)
                .map_err(|e| ReportError::Invalid(format!("{key}: unreadable schedule registration: {e}")))?;
            Ok(r.registered_at)
        }
        Err(e) => Err(tarn_lake::LakeError::from(e).into()),
    }
}

/// Every recorded run of a job, oldest first.
pub async fn runs(lake: &Lake, job: &str) -> Result<Vec<RunRecord>, ReportError> {
    use futures::TryStreamExt;
    let prefix = Path::from(format!("{}/runs", job_dir(job)));
    let mut metas: Vec<_> = lake.store().list(Some(&prefix)).try_collect().await.map_err(tarn_lake::LakeError::from)?;
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    let mut out = Vec::new();
    for m in metas {
        let bytes = lake.store().get(&m.location).await.map_err(tarn_lake::LakeError::from)?.bytes().await;
        let bytes = bytes.map_err(tarn_lake::LakeError::from)?;
        match serde_json::from_slice::<RunRecord>(&bytes) {
            Ok(r) => out.push(r),
            Err(e) => tracing::warn!(object = %m.location, error = %e, "unreadable run record"),
        }
    }
    Ok(out)
}

/// Claims a due time; `false` when some process already did (it ran, runs, or failed).
pub async fn claim(lake: &Lake, rec: &RunRecord) -> Result<bool, ReportError> {
    let body = serde_json::to_vec_pretty(rec).expect("serializable");
    match lake.store().put_opts(&run_key(&rec.job, rec.due), PutPayload::from(body), PutMode::Create.into()).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
        Err(e) => Err(tarn_lake::LakeError::from(e).into()),
    }
}

/// Records how a claimed run ended.
pub async fn finish(lake: &Lake, rec: &RunRecord) -> Result<(), ReportError> {
    let body = serde_json::to_vec_pretty(rec).expect("serializable");
    lake.store().put(&run_key(&rec.job, rec.due), PutPayload::from(body)).await.map_err(tarn_lake::LakeError::from)?;
    Ok(())
}

/// The due times a scheduler should run now: after the job's registration and its newest
/// recorded run, up to `now`; the newest `max_catch_up` of them (older ones are skipped and
/// returned separately so they can be logged).
pub async fn pending(
    lake: &Lake,
    job: &Job,
    now: DateTime<Utc>,
    max_catch_up: usize,
) -> Result<(Vec<DateTime<Utc>>, Vec<DateTime<Utc>>), ReportError> {
    let since = registered_at(lake, &job.name, now).await?;
    let done = runs(lake, &job.name).await?;
    let after = done.iter().map(|r| r.due).max().map_or(since, |d| d.max(since));
    let mut due = job.due_between(after, now);
    let skipped = if due.len() > max_catch_up { due.drain(..due.len() - max_catch_up).collect() } else { Vec::new() };
    Ok((due, skipped))
}

/// A run's record before it starts.
pub fn new_run(job: &Job, due: DateTime<Utc>, now: DateTime<Utc>) -> RunRecord {
    let (from, to) = job.range.resolve(due, job.tz);
    RunRecord {
        job: job.name.clone(),
        due,
        status: "running".into(),
        started_at: now,
        finished_at: None,
        from,
        to,
        report_id: None,
        error: None,
    }
}

/// The local output directory of a run, with `{job}` and `{date}` replaced.
pub fn output_dir(job: &Job, due: DateTime<Utc>) -> Option<std::path::PathBuf> {
    job.output.as_ref().map(|o| {
        let date = due.with_timezone(&job.tz).format("%Y-%m-%d").to_string();
        std::path::PathBuf::from(o.replace("{job}", &job.name).replace("{date}", &date))
    })
}

/// Describes a job for `schedule list`.
pub fn describe(job: &Job, now: DateTime<Utc>) -> String {
    let next = job.next_after(now).map(fmt_time).unwrap_or_else(|| "never".into());
    format!(
        "{}: {} {} ({}), {} over {:?}, scope {}, next {}",
        job.name,
        job.cron_text,
        job.tz,
        job.cron.describe(),
        job.framework,
        job.range,
        job.scope.id(),
        next
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(cron: &str, tz: &str, range: &str) -> Job {
        let y = format!(
            "jobs:\n  - name: j\n    cron: \"{cron}\"\n    timezone: {tz}\n    framework: cis-k8s\n    range: {range}\n"
        );
        parse("s.yaml", &y).unwrap().remove(0)
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_job_due_inside_a_spring_forward_gap_still_runs() {
        // Europe/Berlin skips 02:00-03:00 on 2026-03-29.
        let j = job("30 2 * * *", "Europe/Berlin", "last 1d");
        let due = j.due_between(utc("2026-03-27T12:00:00Z"), utc("2026-03-30T12:00:00Z"));
        assert_eq!(due.len(), 3, "{due:?}");
        assert_eq!(due[0], utc("2026-03-28T01:30:00Z"));
        // The gap day: the first valid instant after 02:30 local.
        assert!(due[1] >= utc("2026-03-29T01:00:00Z") && due[1] <= utc("2026-03-29T01:30:00Z"), "{due:?}");
        assert_eq!(due[2], utc("2026-03-30T00:30:00Z"));
    }

    #[test]
    fn an_ambiguous_fall_back_time_runs_once() {
        // 02:30 happens twice in Europe/Berlin on 2026-10-25.
        let j = job("30 2 * * *", "Europe/Berlin", "last 1d");
        let due = j.due_between(utc("2026-10-24T12:00:00Z"), utc("2026-10-25T12:00:00Z"));
        assert_eq!(due.len(), 1, "{due:?}");
    }

    #[test]
    fn weekly_cron_in_a_time_zone() {
        let j = job("0 6 * * MON", "America/New_York", "previous week");
        let due = j.due_between(utc("2026-06-01T00:00:00Z"), utc("2026-06-16T00:00:00Z"));
        assert_eq!(due, vec![utc("2026-06-01T10:00:00Z"), utc("2026-06-08T10:00:00Z"), utc("2026-06-15T10:00:00Z")]);
        let (from, to) = j.range.resolve(due[1], j.tz);
        assert_eq!((from, to), (utc("2026-06-01T04:00:00Z"), utc("2026-06-08T04:00:00Z")));
    }

    #[test]
    fn ranges() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let due = utc("2026-03-02T05:00:00Z");
        assert_eq!(RangeExpr::parse("last 7d").unwrap().resolve(due, tz), (utc("2026-02-23T05:00:00Z"), due));
        // February 2026 in Berlin (UTC+1).
        assert_eq!(
            RangeExpr::parse("previous month").unwrap().resolve(due, tz),
            (utc("2026-01-31T23:00:00Z"), utc("2026-02-28T23:00:00Z"))
        );
        assert_eq!(RangeExpr::parse("previous day").unwrap().resolve(due, tz).1, utc("2026-03-01T23:00:00Z"));
        assert_eq!(RangeExpr::parse("month to date").unwrap().resolve(due, tz).0, utc("2026-02-28T23:00:00Z"));
        assert!(RangeExpr::parse("since forever").is_err());
        assert!(RangeExpr::parse("last -3d").is_err());
    }

    #[test]
    fn the_example_schedule_is_valid() {
        let jobs = parse("schedules.example.yaml", include_str!("../../../reports/schedules.example.yaml")).unwrap();
        assert_eq!(jobs.len(), 3);
        assert_eq!(jobs[1].tz, chrono_tz::America::New_York);
        assert_eq!(jobs[0].scope, ReportScope::Group("/acme/prod".into()));
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = parse("s.yaml", "jobs:\n  - name: j\n    cron: \"0 6 * * MON\"\n    framework: cis-k8s\n    range: last 7d\n    formats: [pdf, docx]\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.yaml: line 6") && e.contains("jobs[0].formats[1]") && e.contains("docx"), "{e}");
        let e = parse("s.yaml", "jobs:\n  - name: j\n    cron: \"61 6 * * *\"\n    framework: x\n    range: last 7d\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("jobs[0] (j): cron \"61 6 * * *\""), "{e}");
        let e = parse("s.yaml", "timezone: Mars/Olympus\njobs: []\n").unwrap_err().to_string();
        assert!(e.contains("unknown time zone \"Mars/Olympus\""), "{e}");
    }
}
