//! UpdateStateMachine and DescribeStateMachineForExecution.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::executions::{check_arn as check_execution_arn, no_execution};
use super::state_machines::{get, parse};
use super::versions::{Qualified, parse_arn, publish_current};
use super::{ApiError, ApiResult, Params, timestamp};
use crate::serve::App;
use crate::store::epoch::us_to_ms;
use crate::store::registry::MachineUpdate;
use crate::store::revision_id_of;

/// UpdateStateMachine: new executions run the new definition; running ones keep theirs.
pub async fn update(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("stateMachineArn")?;
    let (_, q) = parse_arn(arn)?;
    if q != Qualified::Base {
        return Err(ApiError::validation(format!("Only an unqualified state machine ARN can be updated: '{arn}'")));
    }
    let definition = p.opt_str("definition")?;
    let role = p.opt_str("roleArn")?;
    let publish = p.opt_bool("publish")?.unwrap_or(false);
    let description = super::versions::version_description(p, publish)?;
    let other = ["loggingConfiguration", "tracingConfiguration", "encryptionConfiguration"];
    if definition.is_none() && role.is_none() && !other.iter().any(|f| p.0.contains_key(*f)) && !publish {
        return Err(ApiError::new(
            "MissingRequiredParameter",
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        ));
    }
    if let Some(r) = role
        && !r.starts_with("arn:")
    {
        return Err(ApiError::invalid_arn(r));
    }
    let current = get(app, arn).await?;
    let machine = definition.map(parse).transpose()?;
    if let Some(m) = &machine {
        super::state_machines::check_type(m, &current.kind)?;
    }
    // AWS makes a revision whenever an update names content, even unchanged content; an
    // update that only publishes keeps the revision (none, right after creation).
    let names_content = definition.is_some() || role.is_some() || other.iter().any(|f| p.0.contains_key(*f));
    let logging = super::configurations::logging(p)?.map(|v| v.to_string());
    let tracing = super::configurations::tracing(p)?.map(|v| v.to_string());
    let definition = definition.unwrap_or(&current.definition);
    let role = role.unwrap_or(&current.role_arn);
    let sha = crate::tokens::hex(&Sha256::digest(definition.as_bytes()));
    let revision = names_content
        .then(|| {
            let logging_now = logging.as_deref().or(current.logging.as_deref());
            revision_id_of(arn, &sha, role, logging_now, tracing.as_deref().or(current.tracing.as_deref()))
        })
        .or(current.revision.clone());
    let now = Utc::now().timestamp_millis();
    let update = MachineUpdate {
        definition,
        sha: &sha,
        role,
        updated_ms: now,
        revision: revision.as_deref(),
        logging: logging.as_deref(),
        tracing: tracing.as_deref(),
    };
    if !app.store.update_state_machine(arn, &update).await? {
        return Err(ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'")));
    }
    if let Some(m) = machine {
        app.machines.insert(&sha, Arc::new(m));
    }
    let mut out = json!({"updateDate": timestamp(now)});
    if let Some(revision) = &revision {
        out["revisionId"] = json!(revision);
    }
    if publish {
        let (version, _) = publish_current(app, arn, &description).await?;
        out["stateMachineVersionArn"] = json!(version);
    }
    Ok(out)
}

/// DescribeStateMachineForExecution: the definition the execution runs.
pub async fn describe_for_execution(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("executionArn")?;
    check_execution_arn(arn)?;
    if let Some(child) = super::child_executions::describe_state_machine(app, arn).await {
        return child;
    }
    let (x, extras) = app.store.describe_execution(arn).await?.ok_or_else(|| no_execution(arn))?;
    let (sha, role) = (extras.sha.unwrap_or_default(), extras.role);
    let definition = app.store.definition(&sha).await?.unwrap_or_default();
    let name = x.state_machine_arn.rsplit(':').next().unwrap_or_default().to_string();
    // AWS names the machine here, not the version or alias the execution started on.
    let machine = app.store.get_state_machine(&x.state_machine_arn).await?;
    let updated = match app.store.state_machine_updated(&x.state_machine_arn).await? {
        Some(u) => u,
        None => machine.as_ref().map_or(us_to_ms(x.start_us), |m| m.created_ms),
    };
    let mut out = json!({
        "stateMachineArn": x.state_machine_arn,
        "name": name,
        "definition": &definition,
        "roleArn": role.unwrap_or_default(),
        "updateDate": timestamp(updated),
        "loggingConfiguration": super::configurations::shown_logging(machine.as_ref().and_then(|m| m.logging.as_deref())),
        "tracingConfiguration": super::configurations::shown_tracing(machine.as_ref().and_then(|m| m.tracing.as_deref())),
        "encryptionConfiguration": {"type": "AWS_OWNED_KEY"},
    });
    // An execution of the revision the machine was created with has no revision ID.
    if let Some(m) = machine.as_ref().filter(|m| m.revision.is_some())
        && m.first_sha.as_deref() != Some(sha.as_str())
    {
        let role = out["roleArn"].as_str().unwrap_or("").to_string();
        let id = revision_id_of(&x.state_machine_arn, &sha, &role, m.logging.as_deref(), m.tracing.as_deref());
        out["revisionId"] = json!(id);
    }
    super::state_machines::add_variable_references(&mut out, &definition);
    Ok(out)
}
