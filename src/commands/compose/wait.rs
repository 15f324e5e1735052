//! `depends_on` conditions: before a service starts, each dependency's containers are
//! started (`service_started`), healthy (`service_healthy`) or exited with 0
//! (`service_completed_successfully`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::running;
use crate::compose::model::Condition;
use crate::compose::Project;
use crate::context::Context;
use crate::spec::health::{HealthConfig, HealthStatus};
use crate::store::Store;
use crate::ui::diagnostics::UserError;

const POLL: Duration = Duration::from_millis(100);
/// How long an exited container may go without its exit code recorded.
const EXIT_RECORD_GRACE: Duration = Duration::from_secs(5);

/// Waits until every dependency of `service` (among the containers just brought up,
/// `containers`: service → ids) meets its condition.
pub(super) fn dependencies(
    store: &Store,
    project: &Project,
    service: &str,
    containers: &BTreeMap<String, Vec<String>>,
    timeout: Option<Duration>,
    ctx: &Context,
) -> anyhow::Result<()> {
    let Some(config) = project.services.get(service) else {
        return Ok(());
    };
    for (dependency, d) in &config.depends_on {
        if d.condition == Condition::ServiceStarted {
            continue;
        }
        for id in containers.get(dependency).into_iter().flatten() {
            let (record, _) = store.load_container(id)?;
            let verb = match d.condition {
                Condition::ServiceHealthy => "healthy",
                _ => "completed",
            };
            ctx.printer
                .status(format!("Container {}  Waiting ({verb})", record.name));
            until(store, dependency, id, d.condition, timeout)?;
            ctx.printer
                .status(format!("Container {}  {}", record.name, capitalised(verb)));
        }
    }
    Ok(())
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// How long a healthcheck can take to decide: the start period, then `retries` failing
/// checks (each an interval plus its timeout), with some slack.
pub fn health_deadline(check: &HealthConfig) -> Duration {
    check.start_period
        + (check.interval + check.timeout) * (check.retries + 1)
        + Duration::from_secs(10)
}

fn until(
    store: &Store,
    service: &str,
    id: &str,
    condition: Condition,
    timeout: Option<Duration>,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut exited_at: Option<Instant> = None;
    loop {
        let (record, state) = store.load_container(id)?;
        let name = &record.name;
        let live = running(store, id);
        let failed = |what: String| -> anyhow::Error {
            UserError::new(format!(
                "dependency failed to start: container {name} (service `{service}`) {what}"
            ))
            .with_hint(format!("see its output with `devbox logs {name}`"))
            .into()
        };
        let deadline = match condition {
            Condition::ServiceHealthy => {
                let Some(check) = &record.healthcheck else {
                    return Err(UserError::new(format!(
                        "dependency `{service}` has no healthcheck, so it cannot become healthy"
                    ))
                    .with_hint(format!(
                        "add a `healthcheck:` to service `{service}`, or depend on it with `condition: service_started`"
                    ))
                    .into());
                };
                match state.health.as_ref().map(|h| h.status) {
                    Some(HealthStatus::Healthy) => return Ok(()),
                    Some(HealthStatus::Unhealthy) => return Err(failed("is unhealthy".into())),
                    _ if !live => {
                        return Err(failed(match state.exit_code {
                            Some(code) => format!("exited ({code}) before it was healthy"),
                            None => "exited before it was healthy".into(),
                        }))
                    }
                    _ => {}
                }
                timeout.or(Some(health_deadline(check)))
            }
            Condition::ServiceCompletedSuccessfully => {
                if !live {
                    match state.exit_code {
                        Some(0) => return Ok(()),
                        Some(code) => {
                            return Err(UserError::new(format!(
                                "service `{service}` didn't complete successfully: exit {code}"
                            ))
                            .with_hint(format!("see its output with `devbox logs {name}`"))
                            .into())
                        }
                        None => {
                            let since = *exited_at.get_or_insert_with(Instant::now);
                            if since.elapsed() > EXIT_RECORD_GRACE {
                                return Err(failed("exited without an exit code".into()));
                            }
                        }
                    }
                }
                timeout
            }
            Condition::ServiceStarted => return Ok(()),
        };
        if let Some(limit) = deadline.filter(|l| start.elapsed() > *l) {
            let what = match condition {
                Condition::ServiceHealthy => "become healthy",
                _ => "complete",
            };
            return Err(UserError::new(format!(
                "timed out after {}s waiting for service `{service}` ({name}) to {what}",
                limit.as_secs()
            ))
            .with_hint("give it longer with `--wait-timeout SECONDS`")
            .into());
        }
        std::thread::sleep(POLL);
    }
}
