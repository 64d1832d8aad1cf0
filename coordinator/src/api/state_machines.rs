//! State machine actions: Create, Describe, List, Delete, ValidateStateMachineDefinition.

use std::sync::Arc;

use asl::definition::StateMachine;
use asl::diagnostic::Diagnostic;
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ApiError, ApiResult, Params, page_token, timestamp, valid_name};
use crate::serve::App;
use crate::store::{CreateOutcome, StateMachineRecord};

/// AWS's definition size limit.
const MAX_DEFINITION: usize = 1024 * 1024;

/// Checks that `arn` looks like a state machine ARN.
pub fn check_arn(arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() == 7
        && parts[0] == "arn"
        && parts[2] == "states"
        && parts[5] == "stateMachine"
        && valid_name(parts[6])
    {
        Ok(())
    } else {
        Err(ApiError::invalid_arn(arn))
    }
}

fn diagnostics_message(diags: &[Diagnostic]) -> String {
    let parts: Vec<String> = diags.iter().map(|d| format!("{}: {} at {}", d.code, d.message, d.location)).collect();
    format!("Invalid State Machine Definition: '{}'", parts.join(", "))
}

/// Refuses, as AWS does, a definition that an EXPRESS state machine (`kind`) may not run.
pub fn check_type(machine: &StateMachine, kind: &str) -> Result<(), ApiError> {
    if kind != "EXPRESS" {
        return Ok(());
    }
    let diags = machine.express_diagnostics();
    if diags.is_empty() { Ok(()) } else { Err(ApiError::new("InvalidDefinition", diagnostics_message(&diags))) }
}

/// Parses and validates a definition (size-limited, panic-safe).
pub fn parse(definition: &str) -> Result<StateMachine, ApiError> {
    if definition.len() > MAX_DEFINITION {
        return Err(ApiError::new(
            "InvalidDefinition",
            format!(
                "Invalid State Machine Definition: the definition is {} bytes, over the 1 MiB limit",
                definition.len()
            ),
        ));
    }
    // A panic in the parser must not take the request (or the server) down.
    let text = definition.to_string();
    match std::panic::catch_unwind(move || StateMachine::from_json_str(&text)) {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(diags)) => Err(ApiError::new("InvalidDefinition", diagnostics_message(&diags))),
        Err(_) => {
            Err(ApiError::new("InvalidDefinition", "Invalid State Machine Definition: the validator failed on it"))
        }
    }
}

/// CreateStateMachine.
pub async fn create(app: &App, p: &Params) -> ApiResult {
    let name = p.str("name")?;
    let definition = p.str("definition")?;
    let role_arn = p.str("roleArn")?;
    let kind = p.opt_str("type")?.unwrap_or("STANDARD");
    if !valid_name(name) {
        return Err(ApiError::new("InvalidName", format!("Invalid Name: '{name}'")));
    }
    if kind != "STANDARD" && kind != "EXPRESS" {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        )));
    }
    if !role_arn.starts_with("arn:") {
        return Err(ApiError::invalid_arn(role_arn));
    }
    let tags = super::tags::parse_tags(p, "tags")?;
    let publish = p.opt_bool("publish")?.unwrap_or(false);
    let version_description = super::versions::version_description(p, publish)?;
    let logging = super::configurations::logging(p)?.map(|v| v.to_string());
    let tracing = super::configurations::tracing(p)?.map(|v| v.to_string());
    let machine = parse(definition)?;
    check_type(&machine, kind)?;
    let sha = crate::tokens::hex(&Sha256::digest(definition.as_bytes()));
    let arn = format!("arn:aws:states:{}:{}:stateMachine:{name}", app.region, app.account_id);
    let record = StateMachineRecord {
        arn: arn.clone(),
        name: name.to_string(),
        definition: definition.to_string(),
        role_arn: role_arn.to_string(),
        kind: kind.to_string(),
        created_ms: Utc::now().timestamp_millis(),
        sha: sha.clone(),
        first_sha: None,
        revision: None,
        logging: logging.clone(),
        tracing: tracing.clone(),
    };
    match app.store.create_state_machine(&record).await? {
        CreateOutcome::Created(at) | CreateOutcome::Same(at) => {
            app.machines.insert(&sha, Arc::new(machine));
            app.store.set_settings(&arn, logging.as_deref(), tracing.as_deref()).await?;
            super::tags::store_tags(app, &arn, &tags).await?;
            let mut out = json!({"stateMachineArn": arn, "creationDate": timestamp(at)});
            if publish {
                let (version, _) = super::versions::publish_current(app, &arn, &version_description).await?;
                out["stateMachineVersionArn"] = json!(version);
            }
            Ok(out)
        }
        CreateOutcome::Exists => {
            Err(ApiError::new("StateMachineAlreadyExists", format!("State Machine Already Exists: '{arn}'")))
        }
    }
}

/// Adds `variableReferences` (per state, the variables it reads) when any state reads one.
pub fn add_variable_references(out: &mut Value, definition: &str) {
    let Ok(parsed) = serde_json::from_str::<Value>(definition) else { return };
    let references = asl::definition::variable_references(&parsed);
    if !references.is_empty() {
        out["variableReferences"] = json!(references);
    }
}

/// The state machine at `arn`, or StateMachineDoesNotExist.
pub async fn get(app: &App, arn: &str) -> Result<StateMachineRecord, ApiError> {
    check_arn(arn)?;
    app.store
        .get_state_machine(arn)
        .await?
        .ok_or_else(|| ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'")))
}

/// DescribeStateMachine (of a machine or one of its versions).
pub async fn describe(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("stateMachineArn")?;
    if arn.split(':').count() == 8 {
        return match super::versions::parse_arn(arn)? {
            (_, super::versions::Qualified::Version(_)) => super::versions::describe_version(app, arn).await,
            _ => Err(ApiError::invalid_arn(arn)),
        };
    }
    let sm = get(app, arn).await?;
    let mut out = json!({
        "stateMachineArn": sm.arn,
        "name": sm.name,
        "status": "ACTIVE",
        "definition": sm.definition,
        "roleArn": sm.role_arn,
        "type": sm.kind,
        "creationDate": timestamp(sm.created_ms),
        "loggingConfiguration": super::configurations::shown_logging(sm.logging.as_deref()),
        "tracingConfiguration": super::configurations::shown_tracing(sm.tracing.as_deref()),
        "encryptionConfiguration": {"type": "AWS_OWNED_KEY"},
    });
    if let Some(revision) = sm.revision_id() {
        out["revisionId"] = json!(revision);
    }
    add_variable_references(&mut out, &sm.definition);
    Ok(out)
}

/// ListStateMachines.
pub async fn list(app: &App, p: &Params) -> ApiResult {
    let size = p.page_size()?;
    let offset = p.page_offset()?;
    let (items, more) = app.store.list_state_machines(offset, size).await?;
    let list: Vec<Value> = items
        .iter()
        .map(|sm| {
            json!({"stateMachineArn": sm.arn, "name": sm.name, "type": sm.kind, "creationDate": timestamp(sm.created_ms)})
        })
        .collect();
    let mut out = json!({"stateMachines": list});
    if more {
        out["nextToken"] = json!(page_token(offset + size));
    }
    Ok(out)
}

/// DeleteStateMachine (running executions finish on their stored definition).
pub async fn delete(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("stateMachineArn")?;
    check_arn(arn)?;
    app.store.delete_state_machine(arn).await?;
    // Its versions and aliases go with it, as on AWS.
    for alias in app.store.list_aliases(arn).await? {
        app.store.delete_alias(arn, &alias.arn).await?;
    }
    let (versions, _) = app.store.list_versions(arn, 0, 100_000).await?;
    for (version, _) in versions {
        app.store.delete_version(arn, &version).await?;
    }
    app.store.forget_machine(arn).await?;
    // A machine created again under this name may have another type (and ARN form).
    app.machine_heads.forget(arn);
    Ok(json!({}))
}

/// ValidateStateMachineDefinition.
pub fn validate(p: &Params) -> ApiResult {
    let definition = p.str("definition")?;
    let kind = p.opt_str("type")?;
    if let Some(kind) = kind
        && kind != "STANDARD"
        && kind != "EXPRESS"
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{kind}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        )));
    }
    let diags = match parse(definition) {
        Ok(machine) if kind == Some("EXPRESS") => machine.express_diagnostics(),
        Ok(_) => Vec::new(),
        Err(_) => StateMachine::from_json_str(definition).err().unwrap_or_default(),
    };
    if diags.is_empty() {
        return Ok(json!({"result": "OK", "diagnostics": [], "truncated": false}));
    }
    // AWS locates nothing in a blank definition.
    let blank = definition.trim().is_empty();
    let list: Vec<Value> = diags
        .iter()
        .map(|d| {
            let mut v = json!({"severity": "ERROR", "code": d.code, "message": d.message});
            if !blank {
                v["location"] = json!(d.location);
            }
            v
        })
        .collect();
    Ok(json!({"result": "FAIL", "diagnostics": list, "truncated": false}))
}
