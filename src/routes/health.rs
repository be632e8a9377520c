//! `GET`/`HEAD /api/health` for external monitors: database round trip, schema version and
//! configuration, each a named check. Never cached; never a secret or a stack trace.

use crate::ctx::Ctx;
use crate::db::schema;
use crate::error::AppError;
use crate::reply::Reply;
use serde::Serialize;

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    version: &'a str,
    checks: Checks,
    /// Names of the failing checks; empty when healthy.
    failing: Vec<&'static str>,
}

#[derive(Serialize)]
struct Checks {
    database: Check,
    schema: Check,
    configuration: Check,
}

#[derive(Serialize, Default)]
struct Check {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<i32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<String>,
}

impl Check {
    fn ok() -> Check {
        Check { status: "ok", ..Check::default() }
    }
    fn fail(problem: impl Into<String>) -> Check {
        Check { status: "fail", problems: vec![problem.into()], ..Check::default() }
    }
    fn passed(&self) -> bool {
        self.status != "fail"
    }
}

pub async fn report(cx: &Ctx) -> Result<Reply, AppError> {
    let started = worker::Date::now().as_millis();
    let (database, schema) = match database_round_trip(cx).await {
        Ok(applied) => {
            let latency = worker::Date::now().as_millis().saturating_sub(started);
            let mut schema = if applied.unwrap_or(0) >= schema::EXPECTED_VERSION {
                Check::ok()
            } else {
                Check::fail("database schema is older than this build: run `make migrate`")
            };
            schema.applied = Some(applied.unwrap_or(0));
            schema.expected = Some(schema::EXPECTED_VERSION);
            (Check { latency_ms: Some(latency), ..Check::ok() }, schema)
        }
        Err(err) => {
            cx.log("error", &format!("health: database check failed: {err}"));
            (Check::fail("database unreachable"), Check { status: "unknown", ..Check::default() })
        }
    };
    let problems = cx.config.problems();
    let configuration = if problems.is_empty() {
        Check::ok()
    } else {
        // Variable names only: values are never shown.
        Check {
            status: "fail",
            problems: problems.iter().map(|p| p.to_string()).collect(),
            ..Check::default()
        }
    };
    let failing: Vec<&'static str> =
        [("database", &database), ("schema", &schema), ("configuration", &configuration)]
            .into_iter()
            .filter(|(_, c)| !c.passed())
            .map(|(name, _)| name)
            .collect();
    let healthy = failing.is_empty();
    let body = Health {
        status: if healthy { "ok" } else { "fail" },
        version: &cx.config.version,
        checks: Checks { database, schema, configuration },
        failing,
    };
    Ok(Reply::json(&body).with_status(if healthy { 200 } else { 503 }).no_store())
}

/// One connection, one query: the applied schema version proves the round trip.
async fn database_round_trip(cx: &Ctx) -> Result<Option<i32>, AppError> {
    let db = cx.db().await?;
    schema::applied_version(db).await
}
