//! State machine versions and aliases: Publish/List/DeleteStateMachineVersion,
//! Create/Update/Describe/List/DeleteStateMachineAlias, and the resolution of a
//! version or alias ARN given to StartExecution (weighted routing between versions).

use chrono::Utc;
use serde_json::{Value, json};

use super::state_machines::check_arn as check_machine_arn;
use super::tags::{parse_tags, store_tags};
use super::{ApiError, ApiResult, Params, page_token, timestamp};
use crate::serve::App;
use crate::store::registry::AliasRecord;

/// What a (possibly qualified) state machine ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Qualified {
    /// The machine itself (its latest revision).
    Base,
    /// Version number N.
    Version(u64),
    /// An alias name.
    Alias(String),
}

/// Where an execution starts: the ARN the store reads the definition from, the
/// unqualified machine ARN, and the version and alias it resolved through.
#[derive(Debug, Clone)]
pub struct Target {
    /// The machine or version ARN whose stored record is run.
    pub run_arn: String,
    /// The unqualified machine ARN.
    pub base: String,
    /// The version ARN, for a version or alias.
    pub version: Option<String>,
    /// The alias ARN, for an alias.
    pub alias: Option<String>,
}

/// An alias name: 1-80 of letters, digits, `_`, `-`, `.`, not only digits.
/// The pattern AWS gives alias names, as its ValidationException quotes it.
const ALIAS_NAME_PATTERN: &str = r"^(?=.*[a-zA-Z_\-\.])[a-zA-Z0-9_\-\.]+$";

/// CreateStateMachineAlias's name check, with AWS's messages.
fn check_alias_name(name: &str) -> Result<(), ApiError> {
    let failed = |constraint: &str| {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: {constraint}"
        )))
    };
    match name.chars().count() {
        0 => failed("Member must have length greater than or equal to 1"),
        n if n > 80 => failed("Member must have length less than or equal to 80"),
        _ if !valid_alias_name(name) => {
            failed(&format!("Member must satisfy regular expression pattern: {ALIAS_NAME_PATTERN}"))
        }
        _ => Ok(()),
    }
}

fn valid_alias_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=80).contains(&n)
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        && !name.chars().all(|c| c.is_ascii_digit())
}

/// Splits a state machine ARN into its unqualified ARN and qualifier.
pub fn parse_arn(arn: &str) -> Result<(String, Qualified), ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.len() {
        7 => {
            check_machine_arn(arn)?;
            Ok((arn.to_string(), Qualified::Base))
        }
        8 => {
            let base = parts[..7].join(":");
            check_machine_arn(&base)?;
            let q = parts[7];
            if !q.is_empty() && q.len() <= 10 && q.chars().all(|c| c.is_ascii_digit()) {
                let n = q.parse().map_err(|_| ApiError::invalid_arn(arn))?;
                Ok((base, Qualified::Version(n)))
            } else if valid_alias_name(q) {
                Ok((base, Qualified::Alias(q.to_string())))
            } else {
                Err(ApiError::invalid_arn(arn))
            }
        }
        _ => Err(ApiError::invalid_arn(arn)),
    }
}

fn no_machine(arn: &str) -> ApiError {
    ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
}

fn not_found(arn: &str) -> ApiError {
    ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'"))
}

/// Resolves the ARN given to StartExecution; an alias picks a version by weight.
pub async fn resolve(app: &App, arn: &str) -> Result<Target, ApiError> {
    let (base, q) = parse_arn(arn)?;
    match q {
        Qualified::Base => Ok(Target { run_arn: arn.to_string(), base, version: None, alias: None }),
        Qualified::Version(_) => {
            Ok(Target { run_arn: arn.to_string(), base, version: Some(arn.to_string()), alias: None })
        }
        Qualified::Alias(_) => {
            let alias = app.store.get_alias(arn).await?.ok_or_else(|| no_machine(arn))?;
            let routes: Vec<(String, u64)> = serde_json::from_str::<Vec<Value>>(&alias.routing)
                .unwrap_or_default()
                .iter()
                .filter_map(|r| Some((r["stateMachineVersionArn"].as_str()?.to_string(), r["weight"].as_u64()?)))
                .collect();
            let total: u64 = routes.iter().map(|r| r.1).sum();
            let mut pick = if total == 0 { 0 } else { rand::random_range(0..total) };
            let mut chosen = routes.first().map(|r| r.0.clone());
            for (v, w) in &routes {
                if pick < *w {
                    chosen = Some(v.clone());
                    break;
                }
                pick -= w;
            }
            let version = chosen.ok_or_else(|| no_machine(arn))?;
            Ok(Target { run_arn: version.clone(), base, version: Some(version), alias: Some(arn.to_string()) })
        }
    }
}

/// DescribeStateMachine for a version ARN.
pub async fn describe_version(app: &App, arn: &str) -> ApiResult {
    let v = app.store.get_version(arn).await?.ok_or_else(|| no_machine(arn))?;
    let m = v.machine;
    let mut out = json!({
        "stateMachineArn": m.arn,
        "name": m.name,
        "status": "ACTIVE",
        "definition": m.definition,
        "roleArn": m.role_arn,
        "type": m.kind,
        "creationDate": timestamp(m.created_ms),
        "loggingConfiguration": super::configurations::shown_logging(m.logging.as_deref()),
        "tracingConfiguration": super::configurations::shown_tracing(m.tracing.as_deref()),
        "encryptionConfiguration": {"type": "AWS_OWNED_KEY"},
    });
    if let Some(revision) = m.revision_id() {
        out["revisionId"] = json!(revision);
    }
    super::state_machines::add_variable_references(&mut out, &m.definition);
    if !v.description.is_empty() {
        out["description"] = json!(v.description);
    }
    Ok(out)
}

fn description(p: &Params, field: &str) -> Result<Option<String>, ApiError> {
    match p.opt_str(field)? {
        Some(d) if d.chars().count() > 256 => Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length less than or equal to 256"
        ))),
        other => Ok(other.map(str::to_string)),
    }
}

/// Create's and Update's `versionDescription`, which AWS takes only along with `publish`.
pub fn version_description(p: &Params, publish: bool) -> Result<String, ApiError> {
    let text = description(p, "versionDescription")?.unwrap_or_default();
    if !text.is_empty() && !publish {
        return Err(ApiError::validation("Version description can only be set when publish is true"));
    }
    Ok(text)
}

/// Publishes the machine's current revision (used by Publish, Create and Update).
pub async fn publish_current(app: &App, sm_arn: &str, description: &str) -> Result<(String, i64), ApiError> {
    app.store
        .publish_version(sm_arn, Utc::now().timestamp_millis(), description)
        .await?
        .ok_or_else(|| no_machine(sm_arn))
}

/// PublishStateMachineVersion (returns the latest version when the revision is unchanged).
pub async fn publish(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("stateMachineArn")?;
    let desc = description(p, "description")?;
    if parse_arn(arn)?.1 != Qualified::Base {
        return Err(ApiError::invalid_arn(arn));
    }
    let sm = app.store.get_state_machine(arn).await?.ok_or_else(|| no_machine(arn))?;
    if let Some(rev) = p.opt_str("revisionId")?
        && rev != sm.revision_id().unwrap_or(&sm.sha)
    {
        return Err(ApiError::new(
            "ConflictException",
            format!(
                "Failed to publish the State Machine version for revision {rev}. The current State Machine revision is {}.",
                sm.revision_id().unwrap_or(&sm.sha)
            ),
        ));
    }
    let (version, created) = publish_current(app, arn, desc.as_deref().unwrap_or("")).await?;
    Ok(json!({"creationDate": timestamp(created), "stateMachineVersionArn": version}))
}

/// ListStateMachineVersions (newest first).
pub async fn list_versions(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("stateMachineArn")?;
    if parse_arn(arn)?.1 != Qualified::Base {
        return Err(ApiError::invalid_arn(arn));
    }
    let size = p.page_size()?;
    let offset = p.page_offset()?;
    let (items, more) = app.store.list_versions(arn, offset, size).await?;
    let list: Vec<Value> =
        items.into_iter().map(|(v, c)| json!({"stateMachineVersionArn": v, "creationDate": timestamp(c)})).collect();
    let mut out = json!({"stateMachineVersions": list});
    if more {
        out["nextToken"] = json!(page_token(offset + size));
    }
    Ok(out)
}

/// DeleteStateMachineVersion (refused while an alias routes to it).
pub async fn delete_version(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("stateMachineVersionArn")?;
    let (base, q) = parse_arn(arn)?;
    if !matches!(q, Qualified::Version(_)) {
        return Err(ApiError::invalid_arn(arn));
    }
    let referencing: Vec<String> = app
        .store
        .list_aliases(&base)
        .await?
        .into_iter()
        .filter(|alias| alias.routing.contains(&format!("\"{arn}\"")))
        .map(|alias| alias.name)
        .collect();
    if !referencing.is_empty() {
        return Err(ApiError::new(
            "ConflictException",
            format!(
                "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                referencing.join(", ")
            ),
        ));
    }
    app.store.delete_version(&base, arn).await?;
    Ok(json!({}))
}

/// Validates a routing configuration for machine `base`; returns it as stored JSON.
async fn routing(app: &App, p: &Params, base: &str) -> Result<String, ApiError> {
    let field = "routingConfiguration";
    let items = match p.0.get(field) {
        None | Some(Value::Null) => return Err(ApiError::missing(field)),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::new("SerializationException", format!("'{field}' must be a list"))),
    };
    if items.is_empty() || items.len() > 2 {
        // AWS quotes the list in its Java form.
        let shown: Vec<String> = items
            .iter()
            .map(|i| {
                let arn = i.get("stateMachineVersionArn").and_then(Value::as_str).unwrap_or("null");
                let weight = i.get("weight").map_or_else(|| "null".to_string(), Value::to_string);
                format!("RoutingConfigurationListItem(stateMachineVersionArn={arn}, weight={weight})")
            })
            .collect();
        let bound = if items.is_empty() { "greater than or equal to 1" } else { "less than or equal to 2" };
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '[{}]' at '{field}' failed to satisfy constraint: Member must have length {bound}",
            shown.join(", ")
        )));
    }
    let mut routes: Vec<(String, u64)> = Vec::new();
    for (k, item) in items.iter().enumerate() {
        let version = item.get("stateMachineVersionArn").and_then(Value::as_str);
        let weight = item.get("weight").and_then(Value::as_u64);
        let (Some(version), Some(weight)) = (version, weight) else {
            return Err(ApiError::validation(format!(
                "Each '{field}' item needs a 'stateMachineVersionArn' string and a 'weight' integer"
            )));
        };
        if weight > 100 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{weight}' at '{field}.{}.member.weight' failed to satisfy constraint: Member must have value less than or equal to 100",
                k + 1
            )));
        }
        routes.push((version.to_string(), weight));
    }
    let arns: Vec<&str> = routes.iter().map(|(v, _)| v.as_str()).collect();
    let received = arns.join(", ");
    let mut versions_of = Vec::new();
    for arn in &arns {
        match parse_arn(arn) {
            Ok((vbase, Qualified::Version(_))) => versions_of.push(vbase),
            _ => {
                return Err(ApiError::validation(format!(
                    "Routing configuration must contain state machine version ARNs. Received: [{received}]"
                )));
            }
        }
    }
    if arns.len() == 2 && arns[0] == arns[1] {
        return Err(ApiError::validation(format!(
            "Routing configuration must contain distinct state machine version ARNs. Received: [{received}]"
        )));
    }
    if versions_of.iter().any(|b| b != base) {
        return Err(ApiError::validation(format!(
            "Routing configuration must contain state machine version ARNs of the same state machine '{base}'"
        )));
    }
    if routes.iter().map(|(_, w)| w).sum::<u64>() != 100 {
        let weights: Vec<String> = routes.iter().map(|(_, w)| w.to_string()).collect();
        return Err(ApiError::validation(format!(
            "Sum of routing configuration weights must equal 100. Received: [{}]",
            weights.join(", ")
        )));
    }
    for arn in &arns {
        if app.store.get_state_machine(arn).await?.is_none() {
            return Err(not_found(arn));
        }
    }
    let list: Vec<Value> = routes.into_iter().map(|(v, w)| json!({"stateMachineVersionArn": v, "weight": w})).collect();
    Ok(Value::Array(list).to_string())
}

fn alias_parts(arn: &str) -> Result<String, ApiError> {
    match parse_arn(arn)? {
        (base, Qualified::Alias(_)) => Ok(base),
        _ => Err(ApiError::invalid_arn(arn)),
    }
}

/// CreateStateMachineAlias.
pub async fn create_alias(app: &App, p: &Params) -> ApiResult {
    let name = p.str("name")?;
    let desc = description(p, "description")?;
    check_alias_name(name)?;
    let first =
        p.0.get("routingConfiguration")
            .and_then(|r| r.get(0))
            .and_then(|r| r.get("stateMachineVersionArn"))
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::missing("routingConfiguration"))?;
    let base = parse_arn(first)?.0;
    let routes = routing(app, p, &base).await?;
    let tags = parse_tags(p, "tags")?;
    let arn = format!("{base}:{name}");
    let now = Utc::now().timestamp_millis();
    let record = AliasRecord {
        arn: arn.clone(),
        name: name.to_string(),
        description: desc.unwrap_or_default(),
        routing: routes,
        created_ms: now,
        updated_ms: now,
    };
    if !app.store.create_alias(&base, &record).await? {
        // AWS makes the call idempotent: the same alias again gets the existing one.
        return match app.store.get_alias(&arn).await? {
            Some(a) if a.routing == record.routing && a.description == record.description => {
                Ok(json!({"stateMachineAliasArn": arn, "creationDate": timestamp(a.created_ms)}))
            }
            _ => Err(ApiError::new(
                "ConflictException",
                "Failed to create alias because an alias with the same name and a different routing configuration already exists.",
            )),
        };
    }
    store_tags(app, &arn, &tags).await?;
    Ok(json!({"stateMachineAliasArn": arn, "creationDate": timestamp(now)}))
}

/// UpdateStateMachineAlias.
pub async fn update_alias(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("stateMachineAliasArn")?;
    let base = alias_parts(arn)?;
    let desc = description(p, "description")?;
    let routes = match p.0.get("routingConfiguration") {
        None | Some(Value::Null) => None,
        Some(_) => Some(routing(app, p, &base).await?),
    };
    if desc.is_none() && routes.is_none() {
        return Err(ApiError::validation("Either the description or the RoutingConfiguration must be specified"));
    }
    let now = Utc::now().timestamp_millis();
    if !app.store.update_alias(arn, desc.as_deref(), routes.as_deref(), now).await? {
        return Err(ApiError::new("ResourceNotFound", "Request references a resource that does not exist."));
    }
    Ok(json!({"updateDate": timestamp(now)}))
}

/// DescribeStateMachineAlias.
pub async fn describe_alias(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("stateMachineAliasArn")?;
    alias_parts(arn)?;
    let a = app.store.get_alias(arn).await?.ok_or_else(|| not_found(arn))?;
    let mut out = json!({
        "stateMachineAliasArn": a.arn,
        "name": a.name,
        "routingConfiguration": serde_json::from_str::<Value>(&a.routing).unwrap_or(json!([])),
        "creationDate": timestamp(a.created_ms),
        "updateDate": timestamp(a.updated_ms),
    });
    if !a.description.is_empty() {
        out["description"] = json!(a.description);
    }
    Ok(out)
}

/// ListStateMachineAliases.
pub async fn list_aliases(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("stateMachineArn")?;
    let (base, q) = parse_arn(arn)?;
    if matches!(q, Qualified::Alias(_)) {
        return Err(ApiError::invalid_arn(arn));
    }
    let size = p.page_size()? as usize;
    let offset = p.page_offset()? as usize;
    if app.store.get_state_machine(&base).await?.is_none() {
        return Err(no_machine(&base));
    }
    let all = app.store.list_aliases(&base).await?;
    let all: Vec<AliasRecord> = match q {
        // Aliases that route to that version.
        Qualified::Version(_) => all.into_iter().filter(|a| a.routing.contains(&format!("\"{arn}\""))).collect(),
        _ => all,
    };
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(size)
        .map(|a| json!({"stateMachineAliasArn": a.arn, "creationDate": timestamp(a.created_ms)}))
        .collect();
    let mut out = json!({"stateMachineAliases": page});
    if offset + size < all.len() {
        out["nextToken"] = json!(page_token((offset + size) as u64));
    }
    Ok(out)
}

/// DeleteStateMachineAlias (idempotent).
pub async fn delete_alias(app: &App, p: &Params) -> ApiResult {
    let arn = p.str("stateMachineAliasArn")?;
    let base = alias_parts(arn)?;
    app.store.delete_alias(&base, arn).await?;
    Ok(json!({}))
}
