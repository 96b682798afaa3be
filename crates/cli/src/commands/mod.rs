use crate::cli::{
    AgentCommand, AlertRulesCommand, AlertsCommand, BenchCommand, Command, EngineCommand, EvidenceCommand, KeysCommand,
    LakeCommand, PoliciesCommand, ReportsCommand, ScheduleCommand, TrustCommand,
};

mod agent;
mod alerts;
mod bench;
mod engine;
mod eval;
pub(crate) mod evidence;
mod keys;
mod lake;
mod policies;
mod policy;
mod quickstart;
pub(crate) mod reports;
pub mod trust;

/// Runs a command and returns its exit code.
pub async fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Quickstart(a) => quickstart::run(a).await,
        Command::Agent(AgentCommand::Scan(a)) => agent::scan(a).await,
        Command::Agent(AgentCommand::Run(a)) => agent::run(a).await,
        Command::Eval(a) => eval::run(a).await,
        Command::Evidence(EvidenceCommand::Verify(a)) => evidence::verify(a).await,
        Command::Evidence(EvidenceCommand::Query(a)) => evidence::query(a).await,
        Command::Evidence(EvidenceCommand::At(a)) => evidence::at(a).await,
        Command::Evidence(EvidenceCommand::Diff(a)) => evidence::diff(a).await,
        Command::Evidence(EvidenceCommand::Trend(a)) => evidence::trend(a).await,
        Command::Lake(LakeCommand::Checkpoint(a)) => lake::checkpoint(a).await,
        Command::Lake(LakeCommand::Compact(a)) => lake::compact(a).await,
        Command::Lake(LakeCommand::Status(a)) => lake::status(a).await,
        Command::Bench(BenchCommand::Generate(a)) => bench::generate(a).await,
        Command::Engine(EngineCommand::Scheduler(a)) => engine::scheduler(a).await,
        Command::Engine(EngineCommand::Executor(a)) => engine::executor(a).await,
        Command::Evidence(EvidenceCommand::Bundle(a)) => evidence::bundle(a).await,
        Command::Keys(KeysCommand::Generate(a)) => keys::generate(a),
        Command::Policies(PoliciesCommand::Test(a)) => policies::test(a).await,
        Command::Trust(TrustCommand::VerifyBundle(a)) => trust::verify_bundle(a),
        Command::Reports(ReportsCommand::Generate(a)) => reports::generate(a).await,
        Command::Reports(ReportsCommand::List(a)) => reports::list(a).await,
        Command::Reports(ReportsCommand::Schedule(ScheduleCommand::Validate(a))) => reports::validate(a),
        Command::Reports(ReportsCommand::Schedule(ScheduleCommand::Run(a))) => reports::run(a).await,
        Command::Reports(ReportsCommand::Schedule(ScheduleCommand::History(a))) => reports::history(a).await,
        Command::Alerts(AlertsCommand::Rules(AlertRulesCommand::Validate(a))) => alerts::validate(a),
        Command::Alerts(AlertsCommand::Rules(AlertRulesCommand::List(a))) => alerts::list(a),
        Command::Alerts(AlertsCommand::Test(a)) => alerts::test(a).await,
        Command::Alerts(AlertsCommand::Run(a)) => alerts::run(a).await,
        Command::Alerts(AlertsCommand::History(a)) => alerts::history(a).await,
        Command::Alerts(AlertsCommand::Redeliver(a)) => alerts::redeliver(a).await,
    }
}
